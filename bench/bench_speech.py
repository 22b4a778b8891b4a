"""Voice-note benchmark: per language, a typical 25-word question made with espeak-ng and ffmpeg.

    .venv/bin/python bench/bench_speech.py [--repeat 5]

Prints the time to synthesise (fresh cache each run, median), the audio's seconds and bytes, the
time of a cached call (median of 50), and the wall time of all eight languages at once.
The sentences were written for this benchmark; they are not reviewed translations.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.speech import Speech  # noqa: E402

QUESTIONS = {
    "en": "Thank you for telling us about your school. Now please think about the last week. "
          "How safe did you feel at school on most days?",
    "pl": "Dziękujemy, że opowiedziałeś nam o swojej szkole. Teraz pomyśl proszę o ostatnim tygodniu. "
          "Jak bezpiecznie czułeś się w szkole przez większość dni?",
    "ro": "Îți mulțumim că ne-ai spus despre școala ta. Acum te rugăm să te gândești la ultima săptămână. "
          "Cât de în siguranță te-ai simțit la școală în majoritatea zilelor?",
    "ar": "شكرا لأنك أخبرتنا عن مدرستك. الآن فكر من فضلك في الأسبوع الماضي. "
          "كم شعرت بالأمان في المدرسة في معظم الأيام؟",
    "ur": "ہمیں اپنے اسکول کے بارے میں بتانے کا شکریہ۔ اب براہ کرم پچھلے ہفتے کے بارے میں سوچیں۔ "
          "زیادہ تر دنوں میں آپ نے اسکول میں کتنا محفوظ محسوس کیا؟",
    "gu": "તમારી શાળા વિશે અમને જણાવવા બદલ આભાર. હવે કૃપા કરીને છેલ્લા અઠવાડિયા વિશે વિચારો. "
          "મોટા ભાગના દિવસોમાં તમે શાળામાં કેટલું સુરક્ષિત અનુભવ્યું?",
    "pa": "ਸਾਨੂੰ ਆਪਣੇ ਸਕੂਲ ਬਾਰੇ ਦੱਸਣ ਲਈ ਧੰਨਵਾਦ। ਹੁਣ ਕਿਰਪਾ ਕਰਕੇ ਪਿਛਲੇ ਹਫ਼ਤੇ ਬਾਰੇ ਸੋਚੋ। "
          "ਜ਼ਿਆਦਾਤਰ ਦਿਨਾਂ ਵਿੱਚ ਤੁਸੀਂ ਸਕੂਲ ਵਿੱਚ ਕਿੰਨਾ ਸੁਰੱਖਿਅਤ ਮਹਿਸੂਸ ਕੀਤਾ?",
    "bn": "তোমার স্কুল সম্পর্কে আমাদের জানানোর জন্য ধন্যবাদ। এখন দয়া করে গত সপ্তাহের কথা ভাবো। "
          "বেশিরভাগ দিন স্কুলে তুমি কতটা নিরাপদ বোধ করেছ?",
    "so": "Waad ku mahadsan tahay inaad noo sheegtay dugsigaaga. Hadda fadlan ka fikir toddobaadkii hore.",
}


async def timed(speech: Speech, text: str, language: str) -> tuple[float, object]:
    start = time.perf_counter()
    note = await speech.voice_note(text, language)
    return time.perf_counter() - start, note


async def one_language(language: str, text: str, repeat: int, work: Path) -> str:
    synth: list[float] = []
    for n in range(repeat):
        speech = Speech(work / f"{language}-{n}", work / "recordings")
        took, note = await timed(speech, text, language)
        synth.append(took)
    if note is None:
        took = statistics.median(synth) * 1000
        return f"{language:4} {len(text.split()):5}  no voice: None in {took:.2f} ms"
    cached = [(await timed(speech, text, language))[0] for _ in range(50)]
    seconds, size = note.seconds, len(note.data)  # type: ignore[attr-defined]
    return (f"{language:4} {len(text.split()):5} {statistics.median(synth) * 1000:9.0f} {seconds:8.2f} "
            f"{size:8,} {statistics.median(cached) * 1000:10.3f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh-cache runs per language")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("lang words synth_ms  audio_s    bytes  cached_ms")
        for language, text in QUESTIONS.items():
            print(await one_language(language, text, args.repeat, work))
        speech = Speech(work / "parallel", work / "recordings")
        start = time.perf_counter()
        notes = await asyncio.gather(*(speech.voice_note(t, lang) for lang, t in QUESTIONS.items()))
        made = sum(n is not None for n in notes)
        print(f"all {len(notes)} languages at once, fresh cache: "
              f"{(time.perf_counter() - start) * 1000:.0f} ms wall, {made} voice notes")


if __name__ == "__main__":
    asyncio.run(main())
