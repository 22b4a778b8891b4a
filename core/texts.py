"""Texts the engine and the channels say themselves (not from a conversation file).

Each value is an English source string and a gettext msgid. ``{name}`` placeholders are
filled with :func:`fill`, never with ``str.format``, so a stray brace in a translation
cannot break a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

UI: dict[str, str] = {
    "progress": "Question {n} of {total}",
    "reask": "Sorry, I did not understand that. Please tap a button, or type its number.",
    "reask_text": "Please tell me in words. You can also send a voice note.",
    "reask_info": "Tap Next when you are ready.",
    "media_choice": "I cannot use that for this question. Please tap a button.",
    "media_text": "I cannot use that here. Please type your answer, or send a voice note.",
    "offer_help": "You can skip this question, or tap Help.",
    "offer_help_no_skip": "You can tap Help to get help from a person.",
    "cannot_skip": "You cannot skip this question. Please tap a button to answer.",
    "back_first": "This is the first question. There is nothing to go back to.",
    "your_answer": "Your answer was: {answer}",
    "stopped": "OK, we have stopped. Your answers are saved. Send me any message when you want to carry on.",
    "welcome_back": "Welcome back. We will carry on where you stopped.",
    "moved_on": "That question has moved on. Here is the question now.",
    "help": (
        "Tap a button or type your answer. Type /back to change your last answer. "
        "Type /skip to skip a question. Type /stop to stop for now."
    ),
    "contact_phone": "To talk to a person, call {team} on {phone}. We are there {hours}.",
    "contact_email": "To talk to a person, email {team} at {email}.",
    "contact_none": "To talk to a person, ask the person who told you about Voices.",
    "privacy": (
        "We keep your answers, but not your name. People at the council read them. "
        "You can ask us to delete your answers at any time."
    ),
    "privacy_link": "You can read all about it here: {url}",
    "picked": "You picked: {labels}. Pick more, or tap Done.",
    "pick_one": "Please pick at least one answer, or type /skip.",
    "restart_question": "You have answers saved. Do you want to carry on, or start again?",
    "carry_on": "Carry on",
    "start_again": "Start again",
    "language_question": "Which language do you want to use?",
    "done_already": "Thank you. You have sent your answers. To tell us something new, type /start.",
    "summary_line": "{n}. {question}: {answer}",
    "send": "Send my answers",
    "change": "Change {n}",
    "tell_me_more": "Tell me more",
    "skip": "Skip",
    "help_button": "Help",
    "next": "Next",
    "done": "Done",
    "skipped": "Skipped",
    "voice_answer": "Voice note, {seconds} seconds",
    "placeholder_choice": "Tap a button or type",
    "placeholder_text": "Type here, or send a voice note",
    "group": "Please send me a message directly. I do not take answers in groups.",
    "edited": "I saw you changed a message. I keep your first answer. To change it, type /back.",
    "error": "Sorry, something went wrong. Your answers are safe. Please try again in a minute.",
    "no_catalogue": "Sorry, I cannot speak {language} yet. I will use English for now.",
}

#: Words that mean an option with this id, in English (other languages use ``also:``).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "yes": ("yes", "y", "yeah", "yep", "ok", "okay", "sure"),
    "no": ("no", "n", "nope", "no thanks", "no thank you"),
}


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def fill(text: str, values: Mapping[str, object]) -> str:
    """Replace ``{key}`` for each known key; leave anything else untouched."""
    if "{" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        found = values.get(match.group(1))
        return match.group(0) if found is None else str(found)

    return _PLACEHOLDER.sub(value, text)
