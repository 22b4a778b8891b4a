"""``voices check``: every problem in the conversation files and the translation catalogues.

Each problem comes with file, line (when there is one) and reason: the conversation files'
structure and plain-language rules, the English reading age (T1, T2, T12, T13), and every
catalogue complete, faithful to its source and within the structural limits (T3-T8).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.catalogues import check_catalogues
from core.loader import Problem, load_dir
from core.readability import check_english


def check_conversations(directory: Path | str) -> list[Problem]:
    """Every problem in the conversation files in ``directory`` (empty when all is well)."""
    _, problems = load_dir(directory)
    return problems


def check_all(root: Path, conversations_dir: Path, locales_dir: Path) -> list[Problem]:
    """Everything ``voices check`` checks. The reading-age and catalogue checks need sound files."""
    conversations, problems = load_dir(conversations_dir)
    if problems:
        return problems
    english = [Problem(str(conversations_dir), 0, reason) for reason in check_english(conversations)]
    return english + check_catalogues(root, locales_dir)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def format_problems(problems: Sequence[Problem]) -> str:
    """One problem per line, then a count such as '2 problems in 1 file'."""
    if not problems:
        return "No problems found."
    files = len({p.path for p in problems})
    lines = [str(p) for p in problems]
    lines.append(f"{_plural(len(problems), 'problem')} in {_plural(files, 'file')}")
    return "\n".join(lines)
