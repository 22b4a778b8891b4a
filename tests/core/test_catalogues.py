"""Translation catalogues: complete, faithful to their source and as plain as the English."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.catalogues import check_catalogues, sources
from core.i18n import review_status, translations
from core.languages import LANGUAGES
from core.settings import ROOT

LOCALES = ROOT / "locales"


def test_every_shipped_catalogue_is_complete_and_within_the_limits() -> None:
    assert check_catalogues(ROOT, LOCALES) == []


def test_every_language_has_a_draft_marked_for_review() -> None:
    for language in LANGUAGES:
        status = review_status(LOCALES, language.code)
        assert status == "source" if language.code == "en" else status.startswith("draft")


def test_conversation_texts_and_engine_texts_are_all_found() -> None:
    found = sources(ROOT)
    assert "What do you want to tell us about?" in found  # a conversation file
    assert found["Growing up"].easy and found["Growing up"].button  # an Easy Read button
    assert "Question {n} of {total}" in found  # the engine's own texts
    assert "How we use your answers" in found  # the command menu


@pytest.mark.parametrize("language", [lang.code for lang in LANGUAGES if lang.code != "en"])
def test_translations_are_used_and_keep_placeholders(language: str) -> None:
    t = translations(LOCALES, language).gettext
    translated = t("Question {n} of {total}")
    assert translated != "Question {n} of {total}"
    assert "{n}" in translated and "{total}" in translated


def _set(lines: list[str], msgid: str, msgstr: str) -> None:
    at = lines.index(f'msgid "{msgid}"')
    lines[at + 1] = f'msgstr "{msgstr}"'


def test_problems_in_a_catalogue_are_reported_with_their_line(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(LOCALES, locales)
    po = locales / "pl" / "LC_MESSAGES" / "voices.po"
    lines = po.read_text(encoding="utf-8").split("\n")
    _set(lines, "Question {n} of {total}", "Pytanie {n}")
    _set(lines, "School or college", "Szkoła podstawowa albo średnia albo college")
    _set(lines, "Growing up", "")
    _set(lines, "Stop for now", "Zatrzymaj /stopnij 🙂")
    po.write_text("\n".join(lines), encoding="utf-8")
    messages = "\n".join(str(p) for p in check_catalogues(ROOT, locales) if "/pl/" in p.path)
    assert "not translated: 'Growing up'" in messages
    placeholders = "the translation must keep the placeholders ['{n}', '{total}']"
    assert f"'Question {{n}} of {{total}}': {placeholders}" in messages
    assert "'School or college': a button has at most 4 words and 24 characters (T7)" in messages
    assert "'Stop for now': no emoji in texts or buttons (T8)" in messages
    assert all(p.line > 0 for p in check_catalogues(ROOT, locales) if "/pl/" in p.path)


def test_a_missing_catalogue_is_a_problem(tmp_path: Path) -> None:
    problems = check_catalogues(ROOT, tmp_path)
    assert len(problems) == len(LANGUAGES) - 1
    assert all("there is no catalogue" in p.message for p in problems)
