"""What Voices says, at once, when an answer suggests someone may be at risk (SECURITY.md 1.4).

Calm and plain; says it is not the young person's fault; says honestly that a person at the
council will read it (never that it is secret); gives the numbers for who is answering: children
and young people under 19 get Childline, adults 19 to 25 get Samaritans and Shout, parents,
carers and professionals worried about a child get the NSPCC. The numbers come from settings.
"""

from __future__ import annotations

from collections.abc import Callable

from core.settings import Settings

Text = Callable[..., str]  # (key, **values) -> the text in the person's language
WORRIED_ROLES = frozenset({"parent-carer", "professional"})


def audience(role: str | None, age_band: str | None) -> str:
    """``child``, ``adult`` or ``worried`` (an adult worried about a child)."""
    if role in WORRIED_ROLES:
        return "worried"
    return "adult" if age_band == "19-25" else "child"


def signpost(text: Text, settings: Settings, role: str | None, age_band: str | None) -> list[str]:
    """Two messages: thanks and who will read it; then the numbers to call now."""
    who = audience(role, age_band)
    first = text("signpost_child" if who == "child" else "signpost_adult")
    numbers = text(f"numbers_{who}", emergency=settings.emergency_number, childline=settings.childline_number,
                   samaritans=settings.samaritans_number, shout=settings.shout_number,
                   nspcc=settings.nspcc_number)
    extra = []
    council = settings.adult_social_care if who == "adult" else settings.children_social_care
    if council:
        extra.append(text("council_adults" if who == "adult" else "council_children", phone=council))
    if settings.out_of_hours_number:
        extra.append(text("out_of_hours", phone=settings.out_of_hours_number))
    return [first, " ".join([numbers, *extra])]
