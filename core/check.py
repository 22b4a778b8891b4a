"""``voices check`` for conversation files: every problem, with file, line and reason."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.loader import Problem, load_dir


def check_conversations(directory: Path | str) -> list[Problem]:
    """Every problem in the conversation files in ``directory`` (empty when all is well)."""
    _, problems = load_dir(directory)
    return problems


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
