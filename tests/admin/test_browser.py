"""Accessibility in a real browser: axe-core through Playwright on Debian's Chromium (ACCESSIBILITY.md 5.3).

Every page in its empty, populated and error states: 0 violations for WCAG 2.2 A and AA, no
horizontal scroll at 320 px, every control reached by Tab with a visible focus style, and no
Content-Security-Policy violations. Outside CI the tests skip when Chromium is missing; in CI
(``CI=true``) a missing browser is a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SECRET = pyotp.random_base32()
PASSWORD = "correct horse battery staple"
EMAIL = "boss@example.org"

if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    reason = f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true, so the browser tests must run)", pytrace=False)
    pytest.skip(reason + "; skipping the browser tests", allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402


@dataclass
class Site:
    url: str
    loop: asyncio.AbstractEventLoop
    state: dict[str, Any]

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(
    db_path: Path, port: int, ready: Future[asyncio.AbstractEventLoop], stop: asyncio.Event
) -> None:
    from aiohttp import web

    from admin import security
    from admin.app import make_app
    from core.settings import Settings
    from core.storage import models as m
    from core.storage.db import close_db, init_db

    await init_db(f"sqlite://{db_path}")
    await m.AdminUser.create(
        email=EMAIL,
        role="admin",
        password_hash=security.hash_password(PASSWORD),
        totp_secret=SECRET,
        totp_confirmed=True,
    )
    runner = web.AppRunner(make_app(Settings(database_url=f"sqlite://{db_path}")))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    ready.set_result(asyncio.get_running_loop())
    await stop.wait()
    await runner.cleanup()
    await close_db()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    port, ready = _free_port(), Future[asyncio.AbstractEventLoop]()
    holder: dict[str, asyncio.Event] = {}

    def main() -> None:
        async def go() -> None:
            holder["stop"] = asyncio.Event()
            await _serve(tmp_path_factory.mktemp("browser") / "voices.db", port, ready, holder["stop"])

        asyncio.run(go())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    loop = ready.result(timeout=60)
    yield Site(f"http://127.0.0.1:{port}", loop, {})
    loop.call_soon_threadsafe(holder["stop"].set)
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def page(site: Site) -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page()
        tab.csp_errors = []  # type: ignore[attr-defined]
        tab.on(
            "console", lambda msg: "Content Security Policy" in msg.text and tab.csp_errors.append(msg.text)
        )  # type: ignore[attr-defined]
        yield tab
        browser.close()


def check(page: Page, label: str) -> None:
    """axe with 0 violations, no sideways scroll at 320 px, no CSP violations."""
    result = Axe().run(
        page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    )
    assert result.violations_count == 0, f"{label}:\n{result.generate_report()}"
    page.set_viewport_size({"width": 320, "height": 800})
    wide = page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not wide, f"{label}: scrolls sideways at 320 px"
    assert not page.csp_errors, page.csp_errors  # type: ignore[attr-defined]


# A group of radios is one Tab stop (arrow keys move inside it).
COUNT_CONTROLS = """
    document.querySelectorAll('a[href], button:not([hidden]), select, textarea, audio[controls], '
        + 'input:not([type=hidden]):not([type=radio])').length
    + new Set([...document.querySelectorAll('input[type=radio]')].map(r => r.name)).size"""
# <audio controls>: the focus lands on its built-in buttons, which draw their own ring.
FOCUSED = """() => {
    const e = document.activeElement;
    if (!e || e === document.body) return null;
    const s = getComputedStyle(e);
    const name = e.id || e.name || e.textContent.trim().slice(0, 30);
    const place = [...e.parentNode.children].indexOf(e);
    const key = e.tagName + '#' + name + place + (e.getAttribute('href') || '');
    return {key, visible: e.tagName === 'AUDIO' || s.outlineStyle !== 'none' || s.boxShadow !== 'none'};
}"""


def keyboard(page: Page, label: str) -> None:
    """Tab reaches every control, and each shows a focus style."""
    # A group of radios is one Tab stop (arrow keys move inside it).
    total = page.evaluate(COUNT_CONTROLS)
    page.evaluate("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    reached: set[str] = set()
    for _ in range(min(total * 2 + 5, 400)):
        page.keyboard.press("Tab")
        info = page.evaluate(FOCUSED)
        if info is None:
            continue
        assert info["visible"], f"{label}: no visible focus on {info['key']}"
        reached.add(info["key"])
    assert len(reached) >= total - 1, f"{label}: Tab reached {len(reached)} of {total} controls"


def sign_in(page: Page, site: Site) -> None:
    page.goto(site.url + "/sign-in")
    if "/sign-in" not in page.url:
        return  # signed in already
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Continue')")
    page.fill("#code", pyotp.TOTP(SECRET).now())
    page.click("button:has-text('Sign in')")
    assert page.url.rstrip("/") == site.url, page.url


SIGNED_OUT = [("/sign-in", "sign in"), ("/invite/not-a-real-token", "invite 404")]
PAGES = ["/", "/responses", "/report", "/audit", "/users", "/keywords", "/languages", "/safeguarding",
         "/campaigns", "/campaigns/new", "/bulletins", "/bulletins/new", "/waves", "/nowhere"]
ERRORS = ["/responses?from=2026-13-45&language=xx", "/?from=99/99/2026", "/report?period=decade"]


def test_signed_out_pages(page: Page, site: Site) -> None:
    for path, label in SIGNED_OUT:
        page.goto(site.url + path)
        check(page, label)
    page.goto(site.url + "/sign-in")
    page.fill("#email", "nobody@example.org")
    page.fill("#password", "wrong password")
    page.click("button:has-text('Continue')")
    check(page, "sign-in error")
    keyboard(page, "sign-in error")


def test_code_page_and_its_error(page: Page, site: Site) -> None:
    page.goto(site.url + "/sign-in")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Continue')")
    assert "/sign-in/code" in page.url, page.content()[:3000]
    check(page, "code")
    page.fill("#code", "000000")
    page.click("button:has-text('Sign in')")
    check(page, "code error")


def test_empty_pages(page: Page, site: Site) -> None:
    sign_in(page, site)
    for path in PAGES + ERRORS:
        page.goto(site.url + path)
        check(page, "empty " + path)


async def _safeguarding_alerts() -> str:
    """A new alert, one that could not be sent, and one acknowledged with an outcome; the new one's ref."""
    from core.storage import models as m

    response = await m.Response.all().first()
    new = await m.SafeguardingAlert.create(source="answer", category="self-harm", severity=1, language="pl",
                                           age_band="13-15", response_id=response.id if response else None)
    await m.SafeguardingAlert.create(source="request", category="request", severity=2, attempts=3,
                                     last_error="e-mail: ConnectionRefusedError")
    await m.SafeguardingAlert.create(source="answer", category="neglect", severity=3,
                                     acknowledged_by=EMAIL, acknowledged_at=new.created_at,
                                     outcome="<script>alert(1)</script> no further action",
                                     outcome_by=EMAIL, outcome_at=new.created_at)
    return str(new.ref)


def test_populated_pages(page: Page, site: Site) -> None:
    from admin.demo import fill

    site.run(fill(300))
    site.state["alert"] = site.run(_safeguarding_alerts())
    sign_in(page, site)
    for path in PAGES + ERRORS:
        page.goto(site.url + path)
        check(page, "populated " + path)
    page.goto(site.url + "/responses?voice=yes")
    page.click("table a >> nth=0")
    check(page, "response with a voice answer")
    keyboard(page, "response page")
    page.goto(site.url + "/responses")
    keyboard(page, "responses")
    page.goto(site.url + "/safeguarding/" + site.state["alert"])
    check(page, "safeguarding concern")
    keyboard(page, "safeguarding concern")
    page.click("button:has-text('Save outcome')")
    check(page, "safeguarding outcome error")
    page.click("button:has-text('Acknowledge')")
    check(page, "safeguarding concern acknowledged")


async def _campaign_data() -> dict[str, int]:
    """A campaign part-way through sending, a published bulletin with a draft translation, two waves."""
    from core.loader import load_dir
    from core.settings import Settings
    from core.storage import models as m

    versions = {cid: c.version for cid, c in load_dir(Settings().conversations_dir)[0].items()}
    people = []
    kinds = [("en", "parent-carer"), ("ur", "parent-carer"), ("pl", "young-person"), ("ar", "helper"),
             ("en", "professional")]
    for n, (language, role) in enumerate(kinds):
        people.append(await m.Respondent.create(
            channel="telegram", key_hash=f"browser-{n:056d}", chat_id=9000 + n, language=language, role=role,
            consent="yes", contact_ok=True))
    survey = await m.Campaign.create(
        name="Yearly survey 2027: parents and carers", conversation_id="annual-parent",
        conversation_version=versions["annual-parent"], status="sending", reminder_days=7,
        audience={"roles": ["parent-carer"], "languages": [], "age_bands": []},
        invitation={"ur": "براہ کرم ہمارا سروے کریں", "en": "<b>Please</b> answer"})
    for person, status in zip(people, ("sent", "sent", "unknown", "blocked", "pending"), strict=True):
        await m.Delivery.create(campaign=survey, respondent=person, kind="invite", status=status,
                                language=person.language)
    await m.Delivery.create(campaign=survey, respondent=people[1], kind="reminder", status="sent",
                            language="ur")
    draft = await m.Campaign.create(name="Draft for next year", conversation_id="annual-young-person",
                                    conversation_version=versions["annual-young-person"])
    linked = await m.Response.all().first()
    texts = {"en": {"text": "You said the buses were late.", "review": "reviewed"},
             "ur": {"text": "آپ نے کہا کہ بسیں دیر سے آتی تھیں۔", "review": "draft"},
             "pl": {"text": "Autobusy się spóźniały.", "review": "reviewed"}}
    bulletin = await m.Bulletin.create(title="Buses <script>alert(1)</script>", status="published",
                                       texts=texts)
    if linked is not None:
        await bulletin.responses.add(linked)
    for version in (2026, 2027):
        for n, option in enumerate(("good", "ok", "bad", "good")):
            response = await m.Response.create(conversation_id="annual-parent", conversation_version=version,
                                               channel="telegram", language="en", role="parent-carer",
                                               status="submitted", respondent=people[n])
            await m.Answer.create(response=response, step_id="services", kind="choice", question="How well?",
                                  option_ids=[option], label=option, language="en")
            await m.Answer.create(response=response, step_id="services-good", kind="text", question="Tell us",
                                  text=f"Answer {n} in {version}", language="en")
    return {"survey": survey.id, "draft": draft.id, "bulletin": bulletin.id}


def test_campaign_bulletin_and_year_on_year_pages(page: Page, site: Site) -> None:
    ids = site.run(_campaign_data())
    sign_in(page, site)
    survey, draft, bulletin = (f"/campaigns/{ids['survey']}", f"/campaigns/{ids['draft']}",
                               f"/bulletins/{ids['bulletin']}")
    for path in ("/campaigns", survey, f"{survey}/preview", draft, f"{draft}/edit", f"{draft}/schedule",
                 f"{draft}/cancel", "/bulletins", bulletin, f"{bulletin}/edit", f"{bulletin}/send", "/waves",
                 "/report", "/responses?wave=annual-parent:2026&step=services-good"):
        page.goto(site.url + path)
        check(page, "populated " + path)
    page.goto(site.url + survey)
    keyboard(page, "campaign")
    page.goto(site.url + f"{draft}/schedule")
    keyboard(page, "schedule")
    page.check("#when-2")
    page.fill("#date-day", "1")
    page.fill("#date-month", "1")
    page.fill("#date-year", "2020")
    page.fill("#time", "9am")
    page.click("button:has-text('Schedule')")
    check(page, "schedule error")
    assert page.locator(".govuk-error-summary").count() == 1
    page.goto(site.url + "/campaigns/new")
    keyboard(page, "campaign form")
    page.fill("#invitation-ur", "x" * 4001)
    page.click("button:has-text('Save draft')")
    check(page, "campaign form error")
    assert "Enter a name for the campaign" in page.content()
    page.goto(site.url + "/bulletins/new")
    page.fill("#responses", "not-a-reference")
    page.click("button:has-text('Save')")
    check(page, "bulletin form error")
    page.goto(site.url + f"{bulletin}/send")
    keyboard(page, "send bulletin")
    page.click("button:has-text('Send')")
    check(page, "send error")
    page.goto(site.url + f"{draft}/schedule")
    page.check("#when")
    page.click("button:has-text('Schedule')")
    check(page, "campaign scheduled")
    assert "Scheduled" in page.content()


async def _restricted_data() -> dict[str, str]:
    """Someone with a flagged response (typed and voice answers) and its alert, a complaint that is overdue,
    a data request, and an anonymous response (issue 5: SECURITY.md S9, P1, P3, P8)."""
    from datetime import timedelta

    from core.storage import models as m

    who = await m.Respondent.create(
        channel="telegram",
        key_hash="browser-erase-" + "0" * 50,
        chat_id=9900,
        language="en",
        role="young-person",
        consent="yes",
    )
    flagged = await m.Response.create(
        respondent=who,
        conversation_id="feedback",
        conversation_version=1,
        channel="telegram",
        language="en",
        role="young-person",
        status="submitted",
        flagged=True,
    )
    await m.Answer.create(
        response=flagged,
        step_id="tell-bad",
        kind="text",
        question="What is not going well?",
        text="My uncle hits me",
        label="My uncle hits me",
        language="en",
    )
    voice = await m.Answer.create(
        response=flagged,
        step_id="more",
        kind="voice",
        question="Anything else?",
        voice_file_id="tg-browser",
        voice_duration=2,
        label="Voice message",
        transcript="I am scared at home",
        language="en",
    )
    await m.VoiceClip.create(answer=voice, mime="audio/wav", size=44, data=b"RIFF" + bytes(40))
    alert = await m.SafeguardingAlert.create(
        response_id=flagged.id,
        source="answer",
        category="abuse",
        severity=1,
        matched="en.abuse.01",
        words="My uncle hits me",
    )
    complaint = await m.SafeguardingAlert.create(
        source="message",
        category="complaint",
        severity=3,
        matched="en-complaint-data",
        words="I want to complain",
    )
    await m.SafeguardingAlert.filter(id=complaint.id).update(
        created_at=complaint.created_at - timedelta(days=45)
    )
    await m.SafeguardingAlert.create(
        source="message",
        category="data-request",
        severity=3,
        matched="en-request-someone-elses-answers",
        words="I'm her mum",
    )
    anonymous = await m.Response.create(
        conversation_id="feedback",
        conversation_version=1,
        channel="telegram",
        language="en",
        status="submitted",
    )
    return {
        "flagged": str(flagged.ref),
        "alert": str(alert.ref),
        "complaint": str(complaint.ref),
        "anonymous": str(anonymous.ref),
    }


async def _set_lead(on: bool) -> None:
    from core.storage import models as m

    await m.AdminUser.filter(email=EMAIL).update(safeguarding_lead=on)


def test_restricted_views_requests_and_erasure(page: Page, site: Site) -> None:
    refs = site.run(_restricted_data())
    sign_in(page, site)
    flagged, erase = f"/responses/{refs['flagged']}", f"/responses/{refs['flagged']}/erase"
    for path, label in (
        (flagged, "restricted response"),
        (f"/safeguarding/{refs['alert']}", "restricted alert"),
        (f"/safeguarding/{refs['complaint']}", "overdue complaint"),
        ("/safeguarding", "queue"),
        ("/responses?flagged=yes", "restricted list"),
        (erase, "erase confirmation"),
        (f"/responses/{refs['anonymous']}", "anonymous response"),
        (f"/responses/{refs['anonymous']}/erase", "nobody to erase"),
        ("/users", "users"),
    ):
        page.goto(site.url + path)
        check(page, label)
    page.goto(site.url + flagged)
    assert (
        "My uncle hits me" not in page.content()
        and "Restricted: only the safeguarding lead" in page.content()
    )
    keyboard(page, "restricted response")
    page.goto(site.url + erase)
    keyboard(page, "erase confirmation")
    site.run(_set_lead(True))
    try:
        for path, label in (
            (flagged, "response for a lead"),
            (f"/safeguarding/{refs['alert']}", "alert for a lead"),
            ("/responses?flagged=yes", "list for a lead"),
        ):
            page.goto(site.url + path)
            check(page, label)
            assert "My uncle hits me" in page.content(), label
    finally:
        site.run(_set_lead(False))
    page.goto(site.url + erase)
    page.click("button:has-text('Erase their data')")
    check(page, "erased")
    assert "/erased/" in page.url and "Their data has been erased" in page.content()
    keyboard(page, "erased")


def test_response_page_forms_and_set_up(page: Page, site: Site) -> None:
    sign_in(page, site)
    page.goto(site.url + "/responses")
    page.click("table a >> nth=0")
    page.fill("#note", "<script>alert(1)</script>")
    page.click("button:has-text('Save note')")
    check(page, "response after a note")
    assert page.locator("text=<script>alert(1)</script>").count() == 1
    page.goto(site.url + "/users")
    page.fill("#email", "new@example.org")
    page.click("button:has-text('Add user')")
    check(page, "users with a new link")
    link = page.locator("#invite-link").inner_text().strip()
    page.click("button:has-text('Sign out')")
    check(page, "signed out")
    page.goto(link)
    check(page, "invite")
    page.fill("#password", "short")
    page.fill("#confirm", "short")
    page.click("button:has-text('Continue')")
    check(page, "invite error")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button:has-text('Continue')")
    check(page, "authenticator set-up")
    keyboard(page, "authenticator set-up")
