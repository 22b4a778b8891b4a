"""Tests for core.check: a folder of conversation files, checks across files, and the report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.check import check_conversations, format_problems
from core.loader import Problem

SHIPPED = Path(__file__).resolve().parents[2] / "conversations"


def conversation(conv_id: str, then: str | None = None, title: str = "Demo") -> str:
    """A small valid conversation; ``then`` is on line 4."""
    return (
        f"id: {conv_id}\nversion: 1\ntitle: {title}\nthen: {then or 'null'}\nsteps:\n"
        "  - id: say\n    kind: text\n    short: Say\n    text: What do you think?\n"
        "  - id: bye\n    kind: end\n    text: Thank you.\n"
    )


# (name, files in the folder, expected (file, line, phrase) in order)
CASES: list[tuple[str, dict[str, str], list[tuple[str, int, str]]]] = [
    ("all good", {"a.yaml": conversation("a", "b"), "b.yaml": conversation("b")}, []),
    (
        "then names a missing conversation",
        {"a.yaml": conversation("a", "feedbak"), "feedback.yaml": conversation("feedback")},
        [
            (
                "a.yaml",
                4,
                "'then' names conversation 'feedbak', but there is no file 'feedbak.yaml' "
                "(did you mean 'feedback'?)",
            )
        ],
    ),
    (
        "then makes a loop",
        {
            "a.yaml": conversation("a", "b"),
            "b.yaml": conversation("b", "c"),
            "c.yaml": conversation("c", "a"),
        },
        [("a.yaml", 4, "'then' makes a loop (a -> b -> c -> a)")],
    ),
    (
        "then names itself",
        {"a.yaml": conversation("a", "a")},
        [("a.yaml", 4, "'then' makes a loop (a -> a)")],
    ),
    (
        "a broken file still counts as existing",
        {"a.yaml": conversation("a", "b"), "b.yaml": conversation("b", title="''")},
        [("b.yaml", 3, "top level: 'title' is empty")],
    ),
    (
        "problems sorted by file, then line",
        {"b.yaml": conversation("b").replace("version: 1", "version: x"), "a.yaml": conversation("a", "zzz")},
        [("a.yaml", 4, "no file 'zzz.yaml'"), ("b.yaml", 2, "'version' must be a whole number")],
    ),
    (
        "a .yml file is not read",
        {"a.yaml": conversation("a"), "b.yml": conversation("b")},
        [("b.yml", 0, "conversation files must end in '.yaml'")],
    ),
    ("an empty folder", {}, [(".", 0, "there are no conversation files (*.yaml) in this folder")]),
]


@pytest.mark.parametrize(("name", "files", "expected"), CASES, ids=[c[0] for c in CASES])
def test_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    files: dict[str, str],
    expected: list[tuple[str, int, str]],
) -> None:
    for file_name, text in files.items():
        (tmp_path / file_name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    problems = check_conversations(Path("."))
    assert len(problems) == len(expected), problems
    for (path, line, phrase), problem in zip(expected, problems, strict=True):
        assert (problem.path, problem.line) == (path, line), problem
        assert phrase in problem.message, problem


def test_missing_folder(tmp_path: Path) -> None:
    problems = check_conversations(tmp_path / "nowhere")
    assert [p.message for p in problems] == ["this folder does not exist"]


def test_shipped_conversations_pass() -> None:
    problems = check_conversations(SHIPPED)
    assert problems == [], format_problems(problems)
    assert format_problems(problems) == "No problems found."


@pytest.mark.parametrize(
    ("problems", "count"),
    [
        ([Problem("a.yaml", 3, "one")], "1 problem in 1 file"),
        ([Problem("a.yaml", 3, "one"), Problem("a.yaml", 5, "two")], "2 problems in 1 file"),
        (
            [Problem("a.yaml", 3, "one"), Problem("b.yaml", 1, "two"), Problem("b.yaml", 0, "three")],
            "3 problems in 2 files",
        ),
    ],
)
def test_format_problems(problems: list[Problem], count: str) -> None:
    lines = format_problems(problems).splitlines()
    assert lines[:-1] == [str(p) for p in problems]
    assert lines[-1] == count


def test_report_lines_have_file_line_reason_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "conversations"
    folder.mkdir()
    (folder / "feedback.yaml").write_text(
        conversation("feedback").replace("kind: text", "kind: txt").replace("short: Say", "shrt: Say"),
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    report = format_problems(check_conversations(Path("conversations"))).splitlines()
    assert report == [
        "conversations/feedback.yaml:7: step 'say': unknown kind 'txt' (did you mean 'text'?); "
        "use one of: language, single, multi, scale, yesno, text, info, check, end",
        "conversations/feedback.yaml:8: step 'say': unknown key 'shrt' (did you mean 'short'?)",
        "2 problems in 1 file",
    ]
    assert all(re.fullmatch(r"conversations/feedback\.yaml:\d+: .+", line) for line in report[:-1])
