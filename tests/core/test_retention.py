"""The retention job, with an injected clock (SECURITY.md P4)."""

from __future__ import annotations

import datetime as dt

from core.model import Command, Voice, VoiceNote
from core.retention import anonymise_older_than
from core.service import Clip, Incoming
from core.storage import models as m
from tests.core.test_service import make_service, turn

NOW = dt.datetime.now(dt.UTC)  # rows get the real time when they are written


async def test_old_answers_lose_their_words_and_their_person(db: str) -> None:
    service = make_service(db)
    await service.handle(Incoming("terminal", "r1", None, Command("start")))
    for text in ["English", "None of these", "Done", "A parent or carer", "Next", "Next", "Yes, that is OK",
                 "No thanks", "School or college", "Not going well"]:
        await turn(service, text, who="r1")
    note = VoiceNote("file-r1", "u", duration=2, mime="audio/ogg", size=4)
    clip = Clip("file-r1", "audio/ogg", b"OggS")
    await service.handle(Incoming("terminal", "r1", None, Voice(note), clip=clip))
    assert await m.VoiceClip.all().count() == 1
    assert await anonymise_older_than(NOW + dt.timedelta(days=700), days=730) == 0  # not yet
    assert await anonymise_older_than(NOW + dt.timedelta(days=731), days=730) == 2  # welcome and feedback
    assert await m.Response.filter(respondent_id__isnull=False).count() == 0
    voice = await m.Answer.get(step_id="tell-bad")
    assert (voice.text, voice.voice_file_id, voice.label) == (None, None, "")
    assert await m.VoiceClip.all().count() == 0
    area = await m.Answer.get(step_id="area")
    assert area.option_ids == ["school"]  # the choices stay for the yearly figures
    assert await anonymise_older_than(NOW + dt.timedelta(days=900), days=730) == 0  # safe to repeat
