"""Risk detection (issue 5 part 1; SECURITY.md S1-S5): normalisation, matching, the lexicon files
and the labelled corpus (recall at least 95% overall and per category; false-alarm rate reported)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.risk import (
    CATEGORIES,
    LEFT,
    RIGHT,
    Lexicon,
    LexiconError,
    fold_pattern,
    load_lexicon,
    normalise,
    parse_file,
    pattern_problems,
    variants,
)
from core.settings import ROOT

LEXICON_DIR = ROOT / "safeguarding" / "lexicon"
CORPUS = Path(__file__).parent / "data" / "risk_corpus.yaml"
LANGUAGES = {"en", "pl", "gu", "pa", "ur", "ar", "ro", "so", "bn"}
MIN_RECALL = 0.95


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon(LEXICON_DIR)


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["items"]
    return items


def tiny(entries: list[dict[str, Any]], language: str = "en") -> Lexicon:
    return Lexicon({language: parse_file({"entries": entries}, language, "test")})


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("KILL   Myself!!!", "kill myself"),
        ("killlll myself", "kill myself"),  # three or more of a letter cut to two
        ("I don\u2019t feel safe", "i dont feel safe"),  # apostrophes dropped, like people type
        ("kill\u200bmy\u200dself", "killmyself"),  # zero-width characters removed
        ("\u202ekill\u202c me", "kill me"),  # bidi controls removed
        ("Ｋｉｌｌ", "kill"),  # NFKC: full-width letters
        ("Zabiję się", "zabije sie"),  # Polish accents folded
        ("Mă sinucid", "ma sinucid"),  # Romanian accents folded
        ("أُرِيدُ أنْ أمُوت", "ارید ان اموت"),  # harakat removed, alef and ya forms folded
        ("ٲ٢٠ حبة", "ٲ20 حبه"),  # Arabic-Indic digits to ASCII, ta marbuta to heh
        ("ਖ਼ੁਦਕੁਸ਼ੀ", "ਖੁਦਕੁਸੀ"),  # Gurmukhi nukta dropped
        ("ਨਹੀਂ", "ਨਹੀੰ"),  # Gurmukhi bindi read as tippi
        ("💊💊💊", "💊💊💊"),  # emoji kept (not letters, so not cut)
        ("took 1000mg", "took 1000mg"),  # digits are never cut
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("k1ll mys3lf", "kill myself"),
        ("$uicide", "suicide"),
        ("@buse", "abuse"),
        ("ki11 myself", "kill myself"),
        ("k i l l myself", "kill myself"),
    ],
)
def test_variants_undo_leetspeak_and_spacing(raw: str, expected: str) -> None:
    assert expected in variants(raw)


def test_numbers_are_not_read_as_leetspeak() -> None:
    assert variants("took 20 pills") == ["took 20 pills"]


# ---------------------------------------------------------------------------------------------
# Matching mechanics
# ---------------------------------------------------------------------------------------------

def test_builtin_word_boundary_fails_on_indic_vowel_signs() -> None:
    """Why the matcher has its own boundary: Python's \\b sees a vowel sign as a non-word character."""
    text = "ਉਸ ਨੇ ਮਾਰਿਆ ਮੈਨੂੰ ਮਾਰਦਾ"
    assert re.search(r"\bਮਾਰਦਾ\b", text) is None  # ends in a vowel sign: \b fails at the end
    assert re.search(r"\bਮਾਰ\b", text) is not None  # wrongly matches inside ਮਾਰਿਆ (before the vowel sign)
    assert re.search(f"{LEFT}ਮਾਰਦਾ{RIGHT}", text) is not None
    assert re.search(f"{LEFT}ਮਾਰ{RIGHT}", text) is None


@pytest.mark.parametrize(
    ("phrase", "text", "found"),
    [
        ("ਮਾਰਦਾ", "ਪਿਓ ਮੈਨੂੰ ਮਾਰਦਾ ਹੈ", True),
        ("ਮਾਰ", "ਪਿਓ ਮੈਨੂੰ ਮਾਰਦਾ ਹੈ", False),  # part of a longer Gurmukhi word
        ("আমাকে মারে", "আব্বু আমাকে মারে।", True),  # danda is punctuation
        ("মারে", "আমাকে মারেনি", False),
        ("مارتا", "وہ مجھے مارتا ہے", True),
        ("يضربني", "ويضربني", False),  # joined prefix: not without "*"
        ("*يضربني", "ويضربني", True),
        ("kill", "skills", False),
        ("suicid*", "suicidal", True),
        ("kill myself", "KIIILLL MYSELF", True),  # repeated letters tolerated
        ("kill myself", "kil myself", True),
        ("hits me", "this meeting", False),
    ],
)
def test_phrase_boundaries(phrase: str, text: str, found: bool) -> None:
    lex = tiny([{"id": "t", "category": "abuse", "severity": 1, "phrases": [phrase]}])
    assert (lex.detect(text, "en") is not None) is found


def test_except_only_covers_the_overlapping_match() -> None:
    lex = tiny([{"id": "t", "category": "abuse", "severity": 1, "phrases": ["beat me"],
                 "except": ["beat me at fifa"]}])
    assert lex.detect("my brother beat me at FIFA", "en") is None
    assert lex.detect("he beat me at FIFA and then dad beat me", "en") is not None


def test_the_most_severe_match_wins() -> None:
    lex = tiny([
        {"id": "low", "category": "bullying-violence", "severity": 3, "phrases": ["bullied"]},
        {"id": "high", "category": "self-harm", "severity": 1, "phrases": ["want to die"]},
    ])
    risk = lex.detect("I get bullied and I want to die", "en")
    assert risk is not None and (risk.matched, risk.severity) == ("high", 1)


def test_english_and_common_are_always_checked(lexicon: Lexicon) -> None:
    for language in LANGUAGES | {"xx", "pt-BR"}:
        assert lexicon.detect("i want to kms", language) is not None
        assert lexicon.detect("💊💊", language) is not None


@pytest.mark.parametrize(
    "text",
    ["my stepdad hits me", "I'm 12 and someone makes me do sexual things", "k1ll myself",
     "want to sleep forever", "took 20 paracetamol", "💊💊", "he said not to tell"],
)
def test_security_md_examples_s1_s2(lexicon: Lexicon, text: str) -> None:
    assert lexicon.detect(text, "en") is not None


@pytest.mark.parametrize(
    "text", ["this survey is killing me lol", "my brother beat me at FIFA", "I could die of embarrassment"],
)
def test_security_md_false_positive_examples_s3(lexicon: Lexicon, text: str) -> None:
    assert lexicon.detect(text, "en") is None


def test_matched_is_an_entry_id_never_the_users_words(lexicon: Lexicon, corpus: list[dict[str, Any]]) -> None:
    ids = {entry.id for entry in lexicon.entries}
    for item in corpus:
        risk = lexicon.detect(item["text"], item["language"])
        if risk is not None:
            assert risk.matched in ids
            assert risk.matched not in item["text"] and item["text"] not in risk.matched
            assert risk.category in CATEGORIES and risk.severity in (1, 2, 3)


# ---------------------------------------------------------------------------------------------
# The lexicon files
# ---------------------------------------------------------------------------------------------

def test_every_file_loads_with_unique_ids_and_valid_patterns() -> None:
    files = sorted(LEXICON_DIR.glob("*.yaml"))
    assert {p.stem for p in files} == LANGUAGES | {"common"}
    ids: Counter[str] = Counter()
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for raw in data["entries"]:
            ids[raw["id"]] += 1
            assert raw["id"].startswith(f"{path.stem}-"), raw["id"]
            for pattern in raw.get("patterns", []) + raw.get("except_patterns", []):
                folded = fold_pattern(pattern)
                re.compile(folded)
                assert pattern_problems(folded) == [], (raw["id"], pattern)
    assert [i for i, n in ids.items() if n > 1] == []
    lexicon = load_lexicon(LEXICON_DIR)
    assert set(lexicon.languages) == LANGUAGES


def test_non_english_files_are_marked_as_drafts() -> None:
    for language in LANGUAGES - {"en"}:
        lines = (LEXICON_DIR / f"{language}.yaml").read_text(encoding="utf-8").splitlines()
        head = " ".join(line.lstrip("# ") for line in lines if line.startswith("#"))
        assert "DRAFT" in head and "native" in head and "safeguarding professional" in head


def test_every_language_covers_every_category(lexicon: Lexicon) -> None:
    for language in LANGUAGES:
        assert {e.category for e in lexicon.files[language]} == set(CATEGORIES), language


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [("(?:a+)+b", "nested quantifier"), ("kill.*self", "broad class"), ("(?:\\S{1,5} ){0,3}", "nested"),
     ("[^x]+y", "broad class")],
)
def test_pattern_lint_rejects_backtracking_risks(pattern: str, problem: str) -> None:
    assert any(problem in p for p in pattern_problems(pattern))
    with pytest.raises(LexiconError):
        tiny([{"id": "t", "category": "abuse", "severity": 1, "patterns": [pattern]}])


@pytest.mark.parametrize("bad", [
    {"id": "t", "category": "nope", "severity": 1, "phrases": ["x"]},
    {"id": "t", "category": "abuse", "severity": 5, "phrases": ["x"]},
    {"id": "t", "category": "abuse", "severity": 1},
    {"id": "t", "category": "abuse", "severity": 1, "phrases": ["x"], "typo": 1},
    {"id": "t", "category": "abuse", "severity": 1, "patterns": ["(unclosed"]},
    {"id": "t", "category": "abuse", "severity": 1, "phrases": ["!!!"]},
])
def test_malformed_entries_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(LexiconError):
        tiny([bad])


def test_adversarial_4096_character_messages_complete(lexicon: Lexicon) -> None:
    """No timing assertion (the lint above is the guarantee); this only has to finish."""
    adversarial = [
        "a" * 4096, "kill " * 819, "k1ll " * 819, "killing me lol " * 273, "beat me at " * 372,
        "ਮੈਨੂੰ ਮਾਰਦਾ " * 372, "يضربني " * 585, "💊" * 4096, "1 " * 2048, "worried " * 512,
        "school " * 585, "@$0" * 1365, "k i " * 1024,
    ]
    for text in adversarial:
        for language in LANGUAGES:
            lexicon.detect(text[:4096], language)


# ---------------------------------------------------------------------------------------------
# The labelled corpus
# ---------------------------------------------------------------------------------------------

def test_corpus_composition(corpus: list[dict[str, Any]]) -> None:
    risky = [i for i in corpus if i["risky"]]
    assert len(corpus) >= 200 and len(risky) >= 120 and len(corpus) - len(risky) >= 80
    per_language = Counter(i["language"] for i in corpus)
    assert set(per_language) == LANGUAGES
    assert all(per_language[lang] >= 10 for lang in LANGUAGES)
    assert all(i["category"] in CATEGORIES for i in risky)
    assert all("category" not in i for i in corpus if not i["risky"])
    assert len({(i["text"], i["language"]) for i in corpus}) == len(corpus)


def test_corpus_recall_and_false_alarms(lexicon: Lexicon, corpus: list[dict[str, Any]]) -> None:
    found: dict[str, list[bool]] = defaultdict(list)
    alarms: list[bool] = []
    same_category = 0
    for item in corpus:
        risk = lexicon.detect(item["text"], item["language"])
        if item["risky"]:
            found[item["category"]].append(risk is not None)
            same_category += risk is not None and risk.category == item["category"]
        else:
            alarms.append(risk is not None)
    hits = [f for flags in found.values() for f in flags]
    recall = sum(hits) / len(hits)
    false_alarm_rate = sum(alarms) / len(alarms)
    print(f"\nrecall {recall:.3f} ({sum(hits)}/{len(hits)}); false alarms {false_alarm_rate:.3f} "
          f"({sum(alarms)}/{len(alarms)}); same category {same_category}/{len(hits)}")
    assert 0.0 <= false_alarm_rate <= 1.0 and len(alarms) >= 80
    assert recall >= MIN_RECALL
    for category, flags in found.items():
        if len(flags) >= 10:
            assert sum(flags) / len(flags) >= MIN_RECALL, category
    assert {c for c, flags in found.items() if len(flags) >= 10} == set(CATEGORIES)
