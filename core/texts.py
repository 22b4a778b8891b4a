"""Texts the engine and the channels say themselves (not from a conversation file).

Each value is an English source string and a gettext msgid. ``{name}`` placeholders are
filled with :func:`fill`, never with ``str.format``, so a stray brace in a translation
cannot break a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def N_(text: str) -> str:
    """Mark a text for ``pybabel extract -k N_`` without translating it here."""
    return text


UI: dict[str, str] = {
    "progress": N_("Question {n} of {total}"),
    "reask": N_("Sorry, I did not understand that. Please tap a button, or type its number."),
    "reask_text": N_("Please tell me in words. You can also send a voice note."),
    "reask_info": N_("Tap Next when you are ready."),
    "media_choice": N_("I cannot use that for this question. Please tap a button."),
    "media_text": N_("I cannot use that here. Please type your answer, or send a voice note."),
    "offer_help": N_("You can skip this question, or tap Help."),
    "offer_help_no_skip": N_("You can tap Help to get help from a person."),
    "cannot_skip": N_("You cannot skip this question. Please tap a button to answer."),
    "back_first": N_("This is the first question. There is nothing to go back to."),
    "your_answer": N_("Your answer was: {answer}"),
    "stopped": N_(
        "OK, we have stopped. We have saved your answers. Send me any message when you want to carry on."
    ),
    "welcome_back": N_("Welcome back. We will carry on where you stopped."),
    "moved_on": N_("That question has moved on. Here is the question now."),
    "help": N_(
        "Tap a button or type your answer. Type /back to change your last answer. "
        "Type /skip to skip a question. Type /stop to stop for now."
    ),
    "contact_phone": N_("To talk to a person, call {team} on {phone}. We are there {hours}."),
    "contact_email": N_("To talk to a person, email {team} at {email}."),
    "contact_none": N_("To talk to a person, ask the person who told you about Voices."),
    "privacy": N_(
        "We keep your answers, but not your name. People at the council read them. "
        "You can ask us to delete your answers at any time."
    ),
    "privacy_link": N_("You can read all about it here: {url}"),
    "picked": N_("You picked: {labels}. Pick more, or tap Done."),
    "pick_one": N_("Please pick at least one answer, or type /skip."),
    "restart_question": N_("You have answers saved. Do you want to carry on, or start again?"),
    # TRANSLATORS: button, at most 4 words
    "carry_on": N_("Carry on"),
    # TRANSLATORS: button, at most 4 words
    "start_again": N_("Start again"),
    "language_question": N_("Which language do you want to use?"),
    "done_already": N_("Thank you. You have sent your answers. To tell us something new, type /start."),
    "summary_line": N_("{n}. {question}: {answer}"),
    # TRANSLATORS: button, at most 4 words
    "send": N_("Send my answers"),
    "change": N_("Change {n}"),
    # TRANSLATORS: button, at most 4 words
    "tell_me_more": N_("Tell me more"),
    # TRANSLATORS: button, at most 4 words
    "skip": N_("Skip"),
    # TRANSLATORS: button, at most 4 words
    "help_button": N_("Help"),
    # TRANSLATORS: button, at most 4 words
    "next": N_("Next"),
    # TRANSLATORS: button, at most 4 words
    "done": N_("Done"),
    "skipped": N_("Skipped"),
    "voice_answer": N_("Voice note, {seconds} seconds"),
    "placeholder_choice": N_("Tap a button or type"),
    "placeholder_text": N_("Type here, or send a voice note"),
    "group": N_("Please send me a message directly. I do not take answers in groups."),
    "edited": N_("I saw you changed a message. I keep your first answer. To change it, type /back."),
    "error": N_("Sorry, something went wrong. Your answers are safe. Please try again in a minute."),
    "wait_a_minute": N_("Sorry, I am slow just now. I have your message. I will answer it in a minute or "
                        "two. You do not need to send it again."),
    "no_catalogue": N_("Sorry, I cannot speak {language} yet. I will use English for now."),
    # TRANSLATORS: button, at most 4 words
    "listen": N_("Listen"),
    "no_voice": N_("Sorry, I cannot read this out loud in {language} yet. Here it is in words."),
    "settings_question": N_("What do you want to change?"),
    # TRANSLATORS: button, at most 4 words
    "simpler_words": N_("Simpler words"),
    # TRANSLATORS: button, at most 4 words
    "pictures": N_("Pictures"),
    # TRANSLATORS: button, at most 4 words
    "voice": N_("Read out loud"),
    # TRANSLATORS: button, at most 4 words
    "screen_reader": N_("Screen reader"),
    "settings_now": N_(
        "Simpler words: {easy}. Pictures: {pictures}. Read out loud: {voice}. Screen reader: {reader}."
    ),
    "on": N_("on"),
    "off": N_("off"),
    "voice_too_long": N_("That voice note is too long for me. Please send one under 5 minutes."),
    "description": N_(
        "I am a robot from {council}. I ask young people and families what works well. "
        "I also ask what does not work, and what would help."
    ),
    "short_description": N_("Tell {council} what works well, and what would help."),
    "mydata_intro": N_("Here is everything we keep about you."),
    "mydata_none": N_("You have not given any answers yet."),
    "mydata_file": N_("This file has the same, for a computer."),
    # TRANSLATORS: button, at most 4 words
    "talk_to_person": N_("Talk to a person"),
    "person_asked": N_("We have told a person at the council. They will read your answers soon."),
    "delete_question": N_("Do you want us to delete all your answers? We cannot get them back after."),
    # TRANSLATORS: button, at most 4 words
    "delete_yes": N_("Yes, delete them"),
    # TRANSLATORS: button, at most 4 words
    "delete_no": N_("No, keep them"),
    "deleted": N_("We have deleted your answers and everything we kept about you."),
    "deleted_safety": N_("You told us you might not be safe. We keep a note of that to help keep you safe."),
    "kept": N_("OK. We have kept your answers."),
    # Safeguarding: said in the same turn as a worrying answer, before anything else.
    "signpost_child": N_("Thank you for telling us. It is not your fault. A person at the council will "
                         "read this to keep you safe."),
    "signpost_adult": N_("Thank you for telling us. A person at the council will read this soon."),
    "numbers_child": N_("If you are in danger now, call {emergency}. Childline is free on {childline}, "
                        "day or night."),
    "numbers_adult": N_("If you are in danger now, call {emergency}. Samaritans are free on {samaritans}. "
                        "You can text Shout on {shout}."),
    "numbers_worried": N_("If a child is in danger now, call {emergency}. The NSPCC helpline is free on "
                          "{nspcc}."),
    "council_children": N_("The council's help for children: {phone}."),
    "council_adults": N_("The council's help for adults: {phone}."),
    "out_of_hours": N_("At night and at weekends, call {phone}."),
    # Messages from us: invitations to the yearly survey, one reminder, and news (issue 6).
    "messages_on": N_("We send you messages now and then. They are about our yearly survey and our news."),
    # TRANSLATORS: button, at most 4 words
    "stop_messages": N_("Stop messages"),
    "messages_ask": N_("Do you want us to send you messages now and then? They are about our yearly "
                       "survey and our news."),
    # TRANSLATORS: button, at most 4 words
    "start_messages": N_("Yes, send messages"),
    "messages_stopped": N_("OK. We will not send you any more messages."),
    "messages_started": N_("OK. We will send you messages now and then. Type /stop to stop them."),
    "news_intro": N_("You told us what you think. Here is what we did."),
    "news_none": N_("There is no news yet. We will tell you when there is."),
    # TRANSLATORS: button, at most 4 words
    "survey_start": N_("Start the survey"),
    "survey_closed": N_("Sorry, this survey has closed. Thank you for wanting to help."),
    "invitation": N_("Hello from {council}. Please tell us how things went this year. It takes about "
                     "10 minutes. You can stop and carry on later."),
    # Consent (issue 5): /privacy says what the person agreed to, and lets them withdraw it.
    "consent_given": N_("On {date} you said we can keep your answers."),
    # TRANSLATORS: button, at most 4 words
    "withdraw": N_("Stop keeping my answers"),
    "withdrawn": N_("OK. We will not keep any more answers from you. We will not send you messages."),
    "withdrawn_more": N_("We still have the answers you sent before. Type /delete to delete them. "
                         "Type /start if you change your mind."),
    "anonymous_chosen": N_("OK. When you send your answers, we will keep them apart from you. After that, "
                           "we cannot show them to you or delete them."),
    # Requests the bot passes to a person (SECURITY.md P3, P8).
    "request_data": N_("We cannot share anyone's answers in this chat. This keeps them safe. "
                       "We have told a person at the council about your request."),
    "request_complaint": N_("Thank you for telling us. We have passed this to the council's data protection "
                            "officer. They will reply within one month."),
    "secrecy": N_("We cannot keep a secret if you are not safe. A person at the council reads every answer. "
                  "If you are not safe, they will tell someone who can help."),
    "slow_down": N_("You sent a lot of messages very fast, so I did not read the last ones. Your answers "
                    "before that are safe. Please wait a moment, then answer again."),
    "reminder": N_("Hello again from {council}. You can still answer our yearly survey. It takes about "
                   "10 minutes. This is the only reminder we will send."),
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
