#!/usr/bin/env python
"""Risk detection benchmark: recall and false alarms on the labelled corpus, and throughput.

Prints recall (risky lines detected) and the false-alarm rate (harmless lines flagged) per language
and per category on ``tests/core/data/risk_corpus.yaml``, then detection throughput in messages per
second on short answers, on 4,096-character messages (Telegram's limit) and on a mix, and the slowest
of some adversarial 4,096-character inputs. No user text is printed except the corpus's own lines
when ``--misses`` is given.

Run from the project root::

    .venv/bin/python bench/bench_risk.py [--seconds 2] [--misses]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.risk import Lexicon, load_lexicon  # noqa: E402

CORPUS = ROOT / "tests" / "core" / "data" / "risk_corpus.yaml"


def rate(hits: int, total: int) -> str:
    return f"{hits / total:6.1%} ({hits}/{total})" if total else "     -"


def accuracy(lexicon: Lexicon, items: list[dict[str, Any]], show_misses: bool) -> None:
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # found, risky, alarms, harmless
    by_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # found, risky, same category
    for item in items:
        risk = lexicon.detect(item["text"], item["language"])
        row = by_lang[item["language"]]
        if item["risky"]:
            row[0] += risk is not None
            row[1] += 1
            cat = by_cat[item["category"]]
            cat[0] += risk is not None
            cat[1] += 1
            cat[2] += risk is not None and risk.category == item["category"]
        else:
            row[2] += risk is not None
            row[3] += 1
        if show_misses and (risk is not None) != item["risky"]:
            print(f"  {'missed' if item['risky'] else 'false alarm'} [{item['language']}] {item['text']}")
    print(f"\n{'language':10} {'recall':>18} {'false alarms':>18}")
    total = [0, 0, 0, 0]
    for lang, row in sorted(by_lang.items()):
        print(f"{lang:10} {rate(row[0], row[1]):>18} {rate(row[2], row[3]):>18}")
        total = [a + b for a, b in zip(total, row, strict=True)]
    print(f"{'all':10} {rate(total[0], total[1]):>18} {rate(total[2], total[3]):>18}")
    print(f"\n{'category':22} {'recall':>18} {'same category':>18}")
    for cat, row in sorted(by_cat.items()):
        print(f"{cat:22} {rate(row[0], row[1]):>18} {rate(row[2], row[1]):>18}")


def throughput(name: str, detect: Callable[[str, str], object], texts: list[tuple[str, str]],
               seconds: float) -> None:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for text, language in texts:
            detect(text, language)
        count += len(texts)
    elapsed = time.perf_counter() - start
    print(f"{name:34} {count / elapsed:10.0f} messages/s  ({elapsed / count * 1000:.3f} ms each)")


def long_texts(items: list[dict[str, Any]], rng: random.Random, n: int) -> list[tuple[str, str]]:
    """4,096-character messages built from harmless corpus lines of one language (the slow case:
    nothing matches early), with a risky line in a quarter of them."""
    out = []
    for i in range(n):
        language = rng.choice(sorted({it["language"] for it in items}))
        pool = [it["text"] for it in items if it["language"] == language and not it["risky"]]
        risky = [it["text"] for it in items if it["language"] == language and it["risky"]]
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < 4096:
            parts.append(rng.choice(risky) if i % 4 == 0 and not parts else rng.choice(pool))
        out.append((" ".join(parts)[:4096], language))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per throughput run")
    parser.add_argument("--misses", action="store_true", help="print corpus lines that were misjudged")
    args = parser.parse_args()

    start = time.perf_counter()
    lexicon = load_lexicon(ROOT / "safeguarding" / "lexicon")
    print(f"lexicon loaded in {time.perf_counter() - start:.2f} s")
    for lang, entries in sorted(lexicon.files.items()):
        print(f"  {lang:7} {len(entries):3} entries {sum(len(e.phrases) for e in entries):5} phrases "
              f"{sum(len(e.patterns) for e in entries):3} patterns")
    items: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["items"]
    accuracy(lexicon, items, args.misses)

    rng = random.Random(5)
    short = [(it["text"], it["language"]) for it in items]
    long = long_texts(items, rng, 40)
    mix = short + long[:10]
    print()
    throughput("short answers (corpus lines)", lexicon.detect, short, args.seconds)
    throughput("4,096-character messages", lexicon.detect, long, args.seconds)
    throughput(f"mix ({len(short)} short + 10 long)", lexicon.detect, mix, args.seconds)
    worst, worst_name = 0.0, ""
    for name, text in [("a*4096", "a" * 4096), ("'kill '*819", "kill " * 819), ("'k1ll '*819", "k1ll " * 819),
                       ("'killing me lol '*273", "killing me lol " * 273), ("emoji*4096", "💊" * 4096),
                       ("'k i '*1024", "k i " * 1024), ("'يضربني '*585", "يضربني " * 585)]:
        t = time.perf_counter()
        lexicon.detect(text[:4096], "ar")
        if time.perf_counter() - t > worst:
            worst, worst_name = time.perf_counter() - t, name
    print(f"slowest adversarial 4,096-character input: {worst * 1000:.1f} ms ({worst_name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
