"""Plain-words names for stored codes, used by pages, charts and exports."""

from __future__ import annotations

from core.alerts import category_name
from core.languages import BY_CODE
from core.storage.models import PRIORITIES

PRIORITY = {code: name for code, name in PRIORITIES}
PRIORITY_SHORT = {
    "multi-agency": "Services working together",
    "families": "Families",
    "provision": "Education",
    "provision.mainstream": "Mainstream schools",
    "provision.specialist": "Specialist places",
    "adulthood": "Becoming an adult",
    "": "Not coded",
}
POLARITY = {"works-well": "Works well", "not-working": "Not working", "improve": "Could be better",
            "": "Not given"}
ROLE = {"young-person": "Young person", "helper": "Helping a young person (assisted)",
        "parent-carer": "Parent or carer", "professional": "Professional", "": "Not given"}
AGE = {"under-13": "Under 13", "13-15": "13 to 15", "16-18": "16 to 18", "19-25": "19 to 25",
       "": "Not given"}
STATUS = {"new": "New", "reviewed": "Reviewed", "actioned": "Actioned"}
CONVERSATION = {"welcome": "Welcome", "feedback": "Feedback",
                "annual-parent": "Yearly survey: parents and carers",
                "annual-young-person": "Yearly survey: young people"}
ANSWERED_BY = {"self": "Themselves", "assisted": "With help", "proxy": "Someone for them"}
# Requests passed to a person (core/risk.py REQUEST_CATEGORIES, SECURITY.md P3, P8): the council must
# reply within one calendar month. The risk categories' names come from core/alerts.py.
REQUEST_CATEGORIES = {"data-request": "Request for someone else's data",
                      "complaint": "Complaint about how we use data"}
OWN_DATA = "Request for a copy of their own data"  # a data-request matched by a "*-request-my-data" entry


def alert_category(code: str, matched: str = "") -> str:
    """A safeguarding alert's category in plain words (``matched``: the lexicon entry, if known)."""
    if code == "data-request" and matched.endswith("-request-my-data"):
        return OWN_DATA
    return REQUEST_CATEGORIES.get(code) or category_name(code)


def language(code: str | None) -> str:
    if not code:
        return "Not given"
    found = BY_CODE.get(code)
    return found.english if found else code


def name(table: dict[str, str], code: str | None) -> str:
    return table.get(code or "", code or "Not given")
