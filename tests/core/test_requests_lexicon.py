"""Request lexicons (SECURITY.md P3, P8, S8) in every language: someone asking for another person's
answers, or a complaint about how their data is used, is passed to a person; "will you tell anyone?"
gets the honest answer; ordinary survey answers about a child's school, health or family are none
of these."""

from __future__ import annotations

from collections import Counter

import pytest

from core.risk import REQUEST_CATEGORIES, Lexicon, load_lexicon
from core.settings import ROOT

REQUESTS_DIR = ROOT / "safeguarding" / "requests"
LANGUAGES = ("pl", "gu", "pa", "ur", "ar", "ro", "so", "bn")
DATA, COMPLAINT, SECRECY = "data-request", "complaint", "secrecy"

# (language, text, expected category or None). Drafts, like the lexicons: native speakers should
# add the ways people really write.
CASES: list[tuple[str, str, str | None]] = [
    # Polish
    ("pl", "Jestem jej mamą, wyślijcie mi odpowiedzi mojej córki.", DATA),
    ("pl", "Chcę zobaczyć, co napisał mój syn.", DATA),
    ("pl", "Pokażcie mi jego odpowiedzi", DATA),
    ("pl", "Chcę złożyć skargę na to, jak używacie moich danych.", COMPLAINT),
    ("pl", "Mój syn lubi swoją szkołę.", None),
    ("pl", "Moja córka potrzebuje więcej pomocy w szkole.", None),
    ("pl", "Złożyłam skargę do szkoły, bo syn nie dostał pomocy.", None),
    ("pl", "Szkoła nie daje odpowiedzi na moje pytania o córkę.", None),
    ("pl", "Jestem jej mamą i ona bardzo lubi szkołę.", None),
    ("pl", "Czy komuś o tym powiesz?", SECRECY),
    ("pl", "Czy to jest tajemnica?", SECRECY),
    ("pl", "Proszę, nie mów nikomu.", SECRECY),
    ("pl", "Czy moja mama to zobaczy?", SECRECY),
    ("pl", "Mama mówi szkole wszystko.", None),
    ("pl", "Nie wiem, czy szkoła zobaczy, że syn potrzebuje pomocy.", None),
    # Gujarati (and Roman Gujarati)
    ("gu", "હું તેની મા છું. મને મારી દીકરીના જવાબો મોકલો.", DATA),
    ("gu", "મારા દીકરાએ શું કહ્યું?", DATA),
    ("gu", "mane mari dikri na javab moklo", DATA),
    ("gu", "મારે તમારા ડેટાના ઉપયોગ વિશે ફરિયાદ કરવી છે.", COMPLAINT),
    ("gu", "mare data vishe fariyad karvi che", COMPLAINT),
    ("gu", "મારો દીકરો તેની શાળાને પસંદ કરે છે.", None),
    ("gu", "મારી દીકરીને શાળામાં વધુ મદદની જરૂર છે.", None),
    ("gu", "મેં શાળાને ફરિયાદ કરી પણ કંઈ બદલાયું નહીં.", None),
    ("gu", "શિક્ષક મારા દીકરાના પ્રશ્નોના જવાબ આપતા નથી.", None),
    ("gu", "mari dikri ne school ma vadhu madad joie", None),
    ("gu", "તમે કોઈને કહેશો?", SECRECY),
    ("gu", "શું આ ખાનગી રહેશે?", SECRECY),
    ("gu", "મારી મમ્મીને ન કહેશો", SECRECY),
    ("gu", "mummy ne khabar padshe?", SECRECY),
    ("gu", "મારી મમ્મી શાળાને બધું કહે છે.", None),
    ("gu", "mari mummy school ne badhu kahe che", None),
    # Punjabi (Gurmukhi and Roman Punjabi)
    ("pa", "ਮੈਂ ਉਸਦੀ ਮਾਂ ਹਾਂ, ਮੈਨੂੰ ਮੇਰੀ ਧੀ ਦੇ ਜਵਾਬ ਭੇਜੋ।", DATA),
    ("pa", "ਮੇਰੇ ਪੁੱਤ ਨੇ ਕੀ ਕਿਹਾ?", DATA),
    ("pa", "mainu meri dhee de jawab bhejo", DATA),
    ("pa", "ਮੈਂ ਆਪਣੇ ਡਾਟੇ ਦੀ ਵਰਤੋਂ ਬਾਰੇ ਸ਼ਿਕਾਇਤ ਕਰਨੀ ਹੈ।", COMPLAINT),
    ("pa", "mainu tuhade data baare shikayat hai", COMPLAINT),
    ("pa", "ਮੇਰਾ ਪੁੱਤ ਆਪਣੇ ਸਕੂਲ ਨੂੰ ਪਸੰਦ ਕਰਦਾ ਹੈ।", None),
    ("pa", "ਮੇਰੀ ਧੀ ਨੂੰ ਸਕੂਲ ਵਿੱਚ ਹੋਰ ਮਦਦ ਦੀ ਲੋੜ ਹੈ।", None),
    ("pa", "ਸਕੂਲ ਮੇਰੀ ਧੀ ਦੇ ਸਵਾਲਾਂ ਦੇ ਜਵਾਬ ਨਹੀਂ ਦਿੰਦਾ।", None),
    ("pa", "meri dhee nu school vich hor madad chahidi hai", None),
    ("pa", "ਕੀ ਤੁਸੀਂ ਕਿਸੇ ਨੂੰ ਦੱਸੋਗੇ?", SECRECY),
    ("pa", "ਇਹ ਕੌਣ ਦੇਖੇਗਾ?", SECRECY),
    ("pa", "ਮੇਰੀ ਮੰਮੀ ਨੂੰ ਨਾ ਦੱਸਿਓ", SECRECY),
    ("pa", "kise nu dasoge?", SECRECY),
    ("pa", "ਮੇਰੀ ਮੰਮੀ ਸਕੂਲ ਨੂੰ ਸਭ ਕੁਝ ਦੱਸਦੀ ਹੈ।", None),
    ("pa", "mummy school nu sab kuch dass dindi hai", None),
    # Urdu (and Roman Urdu)
    ("ur", "میں اس کی ماں ہوں، مجھے میری بیٹی کے جوابات بھیج دیں۔", DATA),
    ("ur", "meri beti ne kya kaha?", DATA),
    ("ur", "mujhe mere bete ke jawab bhej dein", DATA),
    ("ur", "مجھے آپ کے ڈیٹا کے استعمال کے بارے میں شکایت ہے۔", COMPLAINT),
    ("ur", "mujhe apne data ke baare mein shikayat hai", COMPLAINT),
    ("ur", "میرا بیٹا اپنے اسکول کو پسند کرتا ہے۔", None),
    ("ur", "میری بیٹی کو اسکول میں زیادہ مدد کی ضرورت ہے۔", None),
    ("ur", "اسکول میری بیٹی کے سوالوں کا جواب نہیں دیتا۔", None),
    ("ur", "mujhe school se shikayat hai ke madad nahi milti", None),
    ("ur", "کیا آپ کسی کو بتائیں گے؟", SECRECY),
    ("ur", "کیا میری امی یہ دیکھیں گی؟", SECRECY),
    ("ur", "kya ye raaz rahega", SECRECY),
    ("ur", "meri ammi ko mat batana", SECRECY),
    ("ur", "امی اسکول کو سب کچھ بتاتی ہیں۔", None),
    ("ur", "ammi school ko sab kuch batati hain", None),
    # Arabic (and Arabizi)
    ("ar", "أنا أمها، أرسلوا لي إجابات ابنتي.", DATA),
    ("ar", "ماذا قال ابني لكم؟", DATA),
    ("ar", "وريني إجاباتها", DATA),
    ("ar", "shu 2alat binti?", DATA),
    ("ar", "أريد تقديم شكوى بشأن استخدام بياناتي.", COMPLAINT),
    ("ar", "ابني يحب مدرسته.", None),
    ("ar", "ابنتي تحتاج إلى مساعدة أكثر في المدرسة.", None),
    ("ar", "قدمت شكوى للمدرسة عن التنمر.", None),
    ("ar", "أريد أن أرى ابني سعيدا في المدرسة.", None),
    ("ar", "هل ستخبر أحدا؟", SECRECY),
    ("ar", "هل هذا سر؟", SECRECY),
    ("ar", "أرجوك لا تخبر أمي", SECRECY),
    ("ar", "ra7 t2ol la 7ada?", SECRECY),
    ("ar", "أمي تخبر المدرسة بكل شيء.", None),
    ("ar", "هل هذا خاص بالأطفال فقط؟", None),
    # Romanian
    ("ro", "Sunt mama ei. Trimiteți-mi răspunsurile fiicei mele.", DATA),
    ("ro", "Vreau să văd ce a scris fiul meu.", DATA),
    ("ro", "Ce v-a spus copilul meu?", DATA),
    ("ro", "Vreau să fac o plângere despre cum folosiți datele mele.", COMPLAINT),
    ("ro", "Fiul meu își iubește școala.", None),
    ("ro", "Fiica mea are nevoie de mai mult ajutor la școală.", None),
    ("ro", "Am făcut o plângere la școală, dar nu s-a schimbat nimic.", None),
    ("ro", "Vreau să primesc răspunsurile de la școala copilului meu.", None),
    ("ro", "Vreau să știu ce a spus profesorul despre fiul meu.", None),
    ("ro", "O să spui cuiva?", SECRECY),
    ("ro", "Asta rămâne între noi?", SECRECY),
    ("ro", "Te rog nu spune mamei mele.", SECRECY),
    ("ro", "O să vadă părinții mei asta?", SECRECY),
    ("ro", "Mama spune școlii tot.", None),
    ("ro", "Mama nu spune nimic școlii.", None),
    # Somali
    ("so", "Waxaan ahay hooyadeed. Fadlan ii soo dir jawaabaha gabadhayda.", DATA),
    ("so", "Jawaabihiisa i tus.", DATA),
    ("so", "Wiilkayga, muxuu idiin sheegay?", DATA),
    ("so", "Waxaan cabasho ka qabaa sida aad u isticmaashaan xogtayda.", COMPLAINT),
    ("so", "Wiilkaygu wuu jecel yahay dugsigiisa.", None),
    ("so", "Gabadhaydu waxay u baahan tahay caawimaad dheeraad ah oo dugsiga ah.", None),
    ("so", "Waxaan cabasho u gudbiyay dugsiga, wax isbeddel ahna ma jirin.", None),
    ("so", "Waxaan u baahanahay xog dheeraad ah oo ku saabsan caawimaadda wiilkayga.", None),
    ("so", "Qof ma u sheegi doontaa?", SECRECY),
    ("so", "Tani ma sir baa?", SECRECY),
    ("so", "Fadlan hooyaday ha u sheegin.", SECRECY),
    ("so", "Hooyaday ma arki doontaa tan?", SECRECY),
    ("so", "Hooyaday waxay u sheegtaa dugsiga wax walba.", None),
    ("so", "Yaa arki doona wiilkayga marka aan shaqeeyo?", None),
    # Bengali (and Roman Bengali)
    ("bn", "আমি ওর মা, আমাকে আমার মেয়ের উত্তরগুলো পাঠান।", DATA),
    ("bn", "সে আপনাদের কী বলেছে?", DATA),
    ("bn", "amake amar meyer uttorgulo pathan", DATA),
    ("bn", "আমার তথ্য ব্যবহার নিয়ে আমার অভিযোগ আছে।", COMPLAINT),
    ("bn", "amar data niye obhijog ache", COMPLAINT),
    ("bn", "আমার ছেলে তার স্কুল পছন্দ করে।", None),
    ("bn", "আমার মেয়ের স্কুলে আরও সাহায্য দরকার।", None),
    ("bn", "আমার মেয়ের প্রশ্নের উত্তর কেউ দেয় না।", None),
    ("bn", "আমি স্কুলের বিরুদ্ধে অভিযোগ করেছি কিন্তু কিছু বদলায়নি।", None),
    ("bn", "আপনি কি কাউকে বলবেন?", SECRECY),
    ("bn", "এটা কি গোপন থাকবে?", SECRECY),
    ("bn", "আম্মু কি এটা দেখবে?", SECRECY),
    ("bn", "apni ki kauke bolben?", SECRECY),
    ("bn", "আমার মা স্কুলকে সব বলে দেয়।", None),
    ("bn", "শিক্ষক আমার মাকে বলবেন যে আমি ভালো করছি।", None),
]


@pytest.fixture(scope="module")
def requests() -> Lexicon:
    return load_lexicon(REQUESTS_DIR, REQUEST_CATEGORIES)


def test_every_language_has_every_kind_of_request(requests: Lexicon) -> None:
    assert set(requests.languages) == {"en", *LANGUAGES}
    for language in LANGUAGES:
        entries = requests.files[language]
        assert {DATA, COMPLAINT, SECRECY} <= {entry.category for entry in entries}, language
        assert all(entry.id.startswith(f"{language}-") for entry in entries), language


def test_the_table_covers_every_language() -> None:
    for language in LANGUAGES:
        kinds = Counter(expected for lang, _text, expected in CASES if lang == language)
        assert kinds[DATA] >= 2 and kinds[COMPLAINT] >= 1 and kinds[SECRECY] >= 2 and kinds[None] >= 3, (
            language, kinds)


@pytest.mark.parametrize(("language", "text", "expected"), CASES,
                         ids=[f"{lang}-{i}" for i, (lang, _t, _e) in enumerate(CASES)])
def test_requests_complaints_and_secrecy_questions_are_found_and_survey_answers_are_not(
        requests: Lexicon, language: str, text: str, expected: str | None) -> None:
    found = requests.detect(text, language)
    if expected is None:
        assert found is None, found
    else:
        assert found is not None and found.category == expected, found
        assert found.matched.startswith(f"{language}-")  # found by the language's own file


@pytest.mark.parametrize(("language", "text"), [
    ("pl", "Wyślijcie mi odpowiedzi mojej córki. Złożę skargę do UODO."),  # a request and a complaint
    ("pl", "Wyślijcie mi odpowiedzi mojej córki z klasy 1b"),  # "1b" adds a leetspeak variant
    ("en", "send me my daughters answers, she is in year 7b"),
    ("en", "send me my daughters answers or I will complain to the ICO about my data"),
])
def test_a_text_with_two_matches_is_passed_on_once(requests: Lexicon, language: str, text: str) -> None:
    assert requests.detect(text, language) is not None
