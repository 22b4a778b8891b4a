"""Database models (tortoise-orm, app label ``voices``).

Privacy rules that the schema itself enforces:

* No names, usernames, phone numbers or raw Telegram ids are stored anywhere. A respondent is
  found by ``key_hash``, an HMAC-SHA256 of ``"{channel}:{external_id}"`` under the secret key
  (see :func:`respondent_key`); ``ref`` is a random public pseudonym for the admin and exports.
* ``chat_id`` is kept only because replying needs it.
* The inbox drops each update's payload once it has been processed.

The schema is owned by the migrations in ``core/migrations`` (see ``core/storage/db.py`` for how
to make a new one after changing this file).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

CHANNELS = ("telegram", "terminal", "web")
ROLES = ("young-person", "helper", "parent-carer", "professional")
ANSWERED_BY = ("self", "assisted", "proxy")
RESPONSE_STATUSES = ("in-progress", "submitted", "abandoned")
ANSWER_KINDS = ("choice", "multi", "text", "voice", "skipped")
POLARITIES = ("works-well", "not-working", "improve")
PRIORITY_SOURCES = ("option", "officer")

# The coding frame (DESIGN.md). The initial migration seeds exactly these rows.
PRIORITIES: tuple[tuple[str, str], ...] = (
    ("multi-agency", "Multi-agency working and coordination of services"),
    ("families", "Support for and involvement of parents, carers, children, young people and families"),
    ("provision", "Quality and sufficiency of SEND education provision"),
    ("provision.mainstream", "Supporting mainstream schools and settings"),
    ("provision.specialist", "Sufficient local high-quality specialist places"),
    ("adulthood", "The transition to adulthood"),
)


def new_ref() -> str:
    """A fresh public pseudonymous reference (uuid4, 36 characters)."""
    return str(uuid.uuid4())


def respondent_key(secret_key: str, channel: str, external_id: str | int) -> str:
    """The ``key_hash`` for a channel user: HMAC-SHA256 hex of ``"{channel}:{external_id}"``.

    The raw external id (e.g. a Telegram user id) is never stored; only this digest is.
    """
    message = f"{channel}:{external_id}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


class Respondent(Model):
    id = fields.IntField(primary_key=True)
    ref = fields.CharField(max_length=36, unique=True, default=new_ref)
    channel = fields.CharField(max_length=16)
    key_hash = fields.CharField(max_length=64, unique=True)
    chat_id = fields.BigIntField(null=True)
    language = fields.CharField(max_length=16, default="en")
    language_confirmed = fields.BooleanField(default=False)
    role = fields.CharField(max_length=32, null=True)
    answered_by = fields.CharField(max_length=16, null=True)
    age_band = fields.CharField(max_length=16, null=True)
    consent = fields.CharField(max_length=8, null=True)
    consent_version = fields.CharField(max_length=32, null=True)
    consent_at = fields.DatetimeField(null=True)
    contact_ok = fields.BooleanField(default=False)  # may be sent invitations, reminders, bulletins
    contact_at = fields.DatetimeField(null=True)  # when that choice was last made
    blocked_at = fields.DatetimeField(null=True)  # Telegram said the bot is blocked: send nothing
    # Chose to answer anonymously: each response is cut loose from this row when it is sent.
    anonymous = fields.BooleanField(default=False, db_default=False)
    # Personal settings that are on, comma-separated (easy, pictures, voice, screen-reader).
    settings = fields.CharField(max_length=64, default="", db_default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(auto_now=True)

    session: fields.BackwardOneToOneRelation[Session]
    responses: fields.ReverseRelation[Response]
    deliveries: fields.ReverseRelation[Delivery]

    class Meta:
        app = "voices"
        table = "respondent"

    def __str__(self) -> str:
        return f"Respondent({self.ref})"


class Response(Model):
    id = fields.IntField(primary_key=True)
    ref = fields.CharField(max_length=36, unique=True, default=new_ref)
    respondent: fields.ForeignKeyNullableRelation[Respondent] = fields.ForeignKeyField(
        "voices.Respondent", related_name="responses", null=True, on_delete=fields.SET_NULL
    )
    conversation_id = fields.CharField(max_length=64)
    conversation_version = fields.IntField()
    channel = fields.CharField(max_length=16)
    language = fields.CharField(max_length=16)
    answered_by = fields.CharField(max_length=16, null=True)
    role = fields.CharField(max_length=32, null=True)
    age_band = fields.CharField(max_length=16, null=True)
    status = fields.CharField(max_length=16, default="in-progress")  # indexed with started_at
    started_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    submitted_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # Admin (issue 3): the officers' review and a summary of the answers that the admin keeps
    # up to date from ``updated_at`` (admin/summary.py), so that lists and charts need no joins.
    review_status = fields.CharField(max_length=16, default="new")
    flagged = fields.BooleanField(default=False)
    polarity = fields.CharField(max_length=16, null=True)
    priority_codes = fields.CharField(max_length=200, null=True)  # "|adulthood|families|"
    has_voice = fields.BooleanField(default=False)
    summarised_at = fields.DatetimeField(null=True)

    answers: fields.ReverseRelation[Answer]
    sessions: fields.ReverseRelation[Session]

    class Meta:
        app = "voices"
        table = "response"
        indexes = (
            Index(fields=("status", "started_at"), name="response_status_started"),
            Index(fields=("conversation_id", "conversation_version"), name="response_conversation"),
            Index(fields=("respondent_id",), name="response_respondent"),
            Index(fields=("updated_at",), name="response_updated"),
            Index(fields=("summarised_at",), name="response_summarised"),
            # Covers the dashboard's one grouped scan over a date range.
            Index(fields=("started_at", "conversation_id", "polarity", "priority_codes", "role", "language",
                          "age_band"), name="response_dashboard"),
        )

    def __str__(self) -> str:
        return f"Response({self.ref})"


# Class docstrings would become table comments in the migrations (and every edit of one a new
# migration), so the models are described in comments instead.


# Where a respondent is in a conversation: the engine state plus delivery bookkeeping.
class Session(Model):
    id = fields.IntField(primary_key=True)
    respondent: fields.OneToOneRelation[Respondent] = fields.OneToOneField(
        "voices.Respondent", related_name="session", on_delete=fields.CASCADE
    )
    conversation_id = fields.CharField(max_length=64)
    conversation_version = fields.IntField()
    response: fields.ForeignKeyNullableRelation[Response] = fields.ForeignKeyField(
        "voices.Response", related_name="sessions", null=True, on_delete=fields.SET_NULL
    )
    state = fields.TextField()  # core.storage.statecodec JSON
    version = fields.IntField(default=1)  # optimistic lock: UPDATE ... WHERE version = ?
    delivered_version = fields.IntField(default=0)  # last version whose messages were sent
    asked_message_id = fields.BigIntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = "voices"
        table = "session"
        indexes = (Index(fields=("response_id",), name="session_response"),)


# One answer to one step. A re-answer updates this row (unique per response and step).
class Answer(Model):
    id = fields.IntField(primary_key=True)
    response: fields.ForeignKeyRelation[Response] = fields.ForeignKeyField(
        "voices.Response", related_name="answers", on_delete=fields.CASCADE
    )
    step_id = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=16)
    question = fields.TextField()
    option_ids: fields.JSONField[list[str]] = fields.JSONField(default=list)
    text = fields.TextField(null=True)
    voice_file_id = fields.CharField(max_length=255, null=True)
    voice_unique_id = fields.CharField(max_length=128, null=True)
    voice_duration = fields.IntField(null=True)
    voice_mime = fields.CharField(max_length=64, null=True)
    voice_size = fields.IntField(null=True)
    label = fields.TextField(default="")
    language = fields.CharField(max_length=16)
    polarity = fields.CharField(max_length=16, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    transcript = fields.TextField(null=True)  # typed by an officer for a voice answer

    priorities: fields.ReverseRelation[AnswerPriority]

    class Meta:
        app = "voices"
        table = "answer"
        # Its index (response_id, step_id) also serves every lookup by response_id alone.
        unique_together = (("response", "step_id"),)
        indexes = (Index(fields=("updated_at",), name="answer_updated"),)


class Priority(Model):
    code = fields.CharField(max_length=32, primary_key=True)
    name = fields.CharField(max_length=200)

    class Meta:
        app = "voices"
        table = "priority"

    def __str__(self) -> str:
        return self.code


# An answer coded against a priority, from the chosen option or by an officer.
class AnswerPriority(Model):
    id = fields.IntField(primary_key=True)
    answer: fields.ForeignKeyRelation[Answer] = fields.ForeignKeyField(
        "voices.Answer", related_name="priorities", on_delete=fields.CASCADE
    )
    priority: fields.ForeignKeyRelation[Priority] = fields.ForeignKeyField(
        "voices.Priority", related_name="answers", to_field="code", on_delete=fields.RESTRICT
    )
    source = fields.CharField(max_length=8)

    class Meta:
        app = "voices"
        table = "answer_priority"
        unique_together = (("answer", "priority", "source"),)
        indexes = (Index(fields=("priority_id",), name="answer_priority_priority"),)


# The audio of a voice answer, downloaded when the answer was given (size- and type-checked), so
# that it can be played in the admin and erased with the answer.
class VoiceClip(Model):
    id = fields.IntField(primary_key=True)
    answer: fields.OneToOneRelation[Answer] = fields.OneToOneField(
        "voices.Answer", related_name="clip", on_delete=fields.CASCADE
    )
    mime = fields.CharField(max_length=32)
    size = fields.IntField()
    data = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = "voices"
        table = "voice_clip"


# A safeguarding concern: raised in the same transaction as the answer that caused it (or by a
# request to talk to a person). Officers acknowledge it and record the outcome; notifications carry
# the reference and a link, never the words. Kept when survey data is erased (its own basis).
class SafeguardingAlert(Model):
    id = fields.IntField(primary_key=True)
    ref = fields.CharField(max_length=36, unique=True, default=new_ref)
    response_id = fields.IntField(null=True, db_index=True)
    answer_id = fields.IntField(null=True)
    source = fields.CharField(max_length=16)  # answer | transcript | request
    category = fields.CharField(max_length=32)
    severity = fields.IntField(default=2)  # 1 high .. 3 low
    matched = fields.CharField(max_length=64, default="")  # the lexicon entry, never the words
    # Restricted: the words that raised it, for the safeguarding lead only (never in notifications or
    # logs). Kept when the person's survey data is erased, under the alert's own basis.
    words = fields.TextField(null=True)
    language = fields.CharField(max_length=16, default="en")
    age_band = fields.CharField(max_length=16, null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    acknowledged_by = fields.CharField(max_length=254, null=True)
    acknowledged_at = fields.DatetimeField(null=True)
    outcome = fields.TextField(null=True)
    outcome_by = fields.CharField(max_length=254, null=True)
    outcome_at = fields.DatetimeField(null=True)
    notified_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    last_error = fields.CharField(max_length=100, null=True)  # exception type only
    escalated_at = fields.DatetimeField(null=True)

    class Meta:
        app = "voices"
        table = "safeguarding_alert"


# Someone asked to be forgotten (/delete). Only the keyed hash is kept, with the last update seen,
# so that a late or repeated copy of an earlier message cannot bring their data back.
class Tombstone(Model):
    key_hash = fields.CharField(max_length=64, primary_key=True)
    deleted_at = fields.DatetimeField()
    last_update_id = fields.BigIntField(null=True)

    class Meta:
        app = "voices"
        table = "tombstone"


# A durable copy of an incoming update, so that each is processed at most once.
class InboxUpdate(Model):
    update_id = fields.BigIntField(primary_key=True, generated=False)
    source = fields.CharField(max_length=16)
    received_at = fields.DatetimeField()
    processed_at = fields.DatetimeField(null=True, db_index=True)
    attempts = fields.IntField(default=0)
    failed_at = fields.DatetimeField(null=True)
    error = fields.CharField(max_length=100, null=True)  # exception type only, never a message
    payload = fields.TextField(null=True)  # JSON; NULL once processed or dead-lettered

    class Meta:
        app = "voices"
        table = "inbox_update"


# ---- Admin (issue 3) ----------------------------------------------------------------------------

ADMIN_ROLES = ("viewer", "officer", "admin")
REVIEW_STATUSES = ("new", "reviewed", "actioned")


# A council member of staff who signs in to the admin. No name is kept: the e-mail is the login.
class AdminUser(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    role = fields.CharField(max_length=16)
    password_hash = fields.CharField(max_length=200, null=True)  # NULL until the invitation is used
    totp_secret = fields.CharField(max_length=64, null=True)
    totp_confirmed = fields.BooleanField(default=False)
    totp_last_step = fields.BigIntField(default=0)  # a code is accepted once (no replay)
    disabled = fields.BooleanField(default=False)
    # Issue 5 (SECURITY.md S9): may read restricted words (flagged answers, what raised an alert).
    # Separate from the role, and granted by an admin.
    safeguarding_lead = fields.BooleanField(default=False, db_default=False)
    failed_count = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_sign_in_at = fields.DatetimeField(null=True)

    class Meta:
        app = "voices"
        table = "admin_user"


# A one-time link that lets someone set their password and authenticator (first admin, invitations).
class AdminInvite(Model):
    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyNullableRelation[AdminUser] = fields.ForeignKeyField(
        "voices.AdminUser", related_name="invites", null=True, on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=16)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        app = "voices"
        table = "admin_invite"


# A server-side admin session. Only a hash of the cookie value is stored.
class AdminSession(Model):
    id = fields.CharField(max_length=64, primary_key=True)
    user: fields.ForeignKeyRelation[AdminUser] = fields.ForeignKeyField(
        "voices.AdminUser", related_name="sessions", on_delete=fields.CASCADE
    )
    stage = fields.CharField(max_length=16)  # "password": waiting for a code; "full": signed in
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        app = "voices"
        table = "admin_session"
        indexes = (Index(fields=("user_id",), name="admin_session_user"),)


# Append-only: who did what to which record, and when. Never the record's content.
class AuditEvent(Model):
    id = fields.IntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    actor = fields.CharField(max_length=254)  # the user's e-mail, or "-" when nobody signed in
    action = fields.CharField(max_length=32)
    target = fields.CharField(max_length=100, default="")  # e.g. "response:<ref>"
    detail = fields.CharField(max_length=300, default="")

    class Meta:
        app = "voices"
        table = "audit_event"


# A response coded against a priority by an officer.
class ResponseCode(Model):
    id = fields.IntField(primary_key=True)
    response: fields.ForeignKeyRelation[Response] = fields.ForeignKeyField(
        "voices.Response", related_name="codes", on_delete=fields.CASCADE
    )
    priority: fields.ForeignKeyRelation[Priority] = fields.ForeignKeyField(
        "voices.Priority", related_name="response_codes", to_field="code", on_delete=fields.RESTRICT
    )
    coded_by = fields.CharField(max_length=254)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = "voices"
        table = "response_code"
        unique_together = (("response", "priority"),)


class ResponseNote(Model):
    id = fields.IntField(primary_key=True)
    response: fields.ForeignKeyRelation[Response] = fields.ForeignKeyField(
        "voices.Response", related_name="notes", on_delete=fields.CASCADE
    )
    author = fields.CharField(max_length=254)
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = "voices"
        table = "response_note"
        indexes = (Index(fields=("response_id",), name="response_note_response"),)


# A quote chosen for the board report, anonymised by the officer who chose it.
class BoardQuote(Model):
    id = fields.IntField(primary_key=True)
    response: fields.ForeignKeyRelation[Response] = fields.ForeignKeyField(
        "voices.Response", related_name="quotes", on_delete=fields.CASCADE
    )
    text = fields.TextField()
    chosen_by = fields.CharField(max_length=254)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = "voices"
        table = "board_quote"


# A keyword that suggests a priority for answers in one language (edited by admins).
class KeywordRule(Model):
    id = fields.IntField(primary_key=True)
    language = fields.CharField(max_length=16)
    keyword = fields.CharField(max_length=100)
    priority: fields.ForeignKeyRelation[Priority] = fields.ForeignKeyField(
        "voices.Priority", related_name="keyword_rules", to_field="code", on_delete=fields.CASCADE
    )

    class Meta:
        app = "voices"
        table = "keyword_rule"
        unique_together = (("language", "keyword", "priority"),)


# Admin (issue 3, scale): the dashboard's figures per UTC day of ``response.started_at``, one row
# per breakdown value, so a dashboard or board report sums a few thousand rows instead of scanning
# every response. The admin keeps it current from ``updated_at`` (admin/queries/rollup.py).
class DashboardCount(Model):
    id = fields.IntField(primary_key=True)
    day = fields.CharField(max_length=10)  # "YYYY-MM-DD", UTC
    dimension = fields.CharField(max_length=16)  # conversation, polarity, priority, role, language, age
    value = fields.CharField(max_length=64)  # "" for "not given"
    polarity = fields.CharField(max_length=16, default="")  # with "priority" only
    n = fields.IntField()

    class Meta:
        app = "voices"
        table = "dashboard_count"
        unique_together = (("day", "dimension", "value", "polarity"),)


# Admin (issue 3, scale): what each response is counted under in dashboard_count now, so that a
# change is counted by subtracting the old values and adding the new (admin/queries/rollup.py).
class DashboardResponse(Model):
    response_id = fields.IntField(primary_key=True, generated=False)
    day = fields.CharField(max_length=10)
    conversation_id = fields.CharField(max_length=64)
    polarity = fields.CharField(max_length=16, null=True)
    priority_codes = fields.CharField(max_length=200, null=True)
    role = fields.CharField(max_length=32, null=True)
    language = fields.CharField(max_length=16)
    age_band = fields.CharField(max_length=16, null=True)

    class Meta:
        app = "voices"
        table = "dashboard_response"


# Admin (issue 3, scale): how far one of the admin's derived tables has caught up with the bot's
# writes (the newest ``updated_at`` and the highest id it has taken in).
class AdminMark(Model):
    name = fields.CharField(max_length=32, primary_key=True)
    at = fields.DatetimeField(null=True)
    last_id = fields.BigIntField(default=0)

    class Meta:
        app = "voices"
        table = "admin_mark"


__all__ = [
    "ADMIN_ROLES",
    "ANSWERED_BY",
    "ANSWER_KINDS",
    "CHANNELS",
    "POLARITIES",
    "PRIORITIES",
    "PRIORITY_SOURCES",
    "RESPONSE_STATUSES",
    "REVIEW_STATUSES",
    "ROLES",
    "AdminInvite",
    "AdminMark",
    "AdminSession",
    "AdminUser",
    "Answer",
    "AnswerPriority",
    "AuditEvent",
    "BoardQuote",
    "DashboardCount",
    "DashboardResponse",
    "InboxUpdate",
    "KeywordRule",
    "Priority",
    "Respondent",
    "Response",
    "ResponseCode",
    "ResponseNote",
    "SafeguardingAlert",
    "Session",
    "Tombstone",
    "VoiceClip",
    "new_ref",
    "respondent_key",
]


# ---- the annual survey: campaigns, deliveries and bulletins (issue 6) -------------------------

CAMPAIGN_KINDS = ("survey", "bulletin")
CAMPAIGN_STATUSES = ("draft", "scheduled", "sending", "paused", "cancelled", "done")
DELIVERY_KINDS = ("invite", "reminder", "bulletin")
# pending: to send; sending: handed to Telegram, outcome not yet written; sent; blocked: the person
# blocked the bot or deleted their account; failed: refused for another reason (not retried);
# unknown: the process stopped while the message was on its way, so it may or may not have arrived
# (never sent again: a second invitation is worse than a missing one); skipped: the person stopped
# messages, or was erased, before it went.
DELIVERY_STATUSES = ("pending", "sending", "sent", "blocked", "failed", "unknown", "skipped")


# Something sent to many people: an invitation to a survey (with one reminder) or a bulletin.
class Campaign(Model):
    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=16, default="survey")
    name = fields.CharField(max_length=200)
    conversation_id = fields.CharField(max_length=64, null=True)
    conversation_version = fields.IntField(null=True)
    bulletin: fields.ForeignKeyNullableRelation[Bulletin] = fields.ForeignKeyField(
        "voices.Bulletin", related_name="campaigns", null=True, on_delete=fields.SET_NULL
    )
    # Who is invited: {"roles": [...], "languages": [...], "age_bands": [...]}; an empty list is all.
    audience: fields.JSONField[dict[str, list[str]]] = fields.JSONField(default=dict)
    invitation: fields.JSONField[dict[str, str]] = fields.JSONField(default=dict)  # language -> text
    reminder: fields.JSONField[dict[str, str]] = fields.JSONField(default=dict)  # language -> text
    reminder_days = fields.IntField(default=7)  # 0: no reminder
    status = fields.CharField(max_length=16, default="draft")
    scheduled_at = fields.DatetimeField(null=True)
    launched_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    created_by = fields.CharField(max_length=254, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    deliveries: fields.ReverseRelation[Delivery]

    class Meta:
        app = "voices"
        table = "campaign"
        indexes = (Index(fields=("status", "scheduled_at"), name="campaign_status"),)


# One message of a campaign to one person. Unique per campaign, person and kind, so nobody is
# invited (or reminded) twice, whatever crashes or how many processes run.
class Delivery(Model):
    id = fields.IntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "voices.Campaign", related_name="deliveries", on_delete=fields.CASCADE
    )
    respondent: fields.ForeignKeyRelation[Respondent] = fields.ForeignKeyField(
        "voices.Respondent", related_name="deliveries", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=16, default="invite")
    status = fields.CharField(max_length=16, default="pending")
    language = fields.CharField(max_length=16, default="en")  # the person's language when queued
    attempts = fields.IntField(default=0)
    not_before = fields.DatetimeField(null=True)
    sending_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)
    message_id = fields.BigIntField(null=True)
    error = fields.CharField(max_length=100, null=True)  # exception type only
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = "voices"
        table = "delivery"
        unique_together = (("campaign", "respondent", "kind"),)
        indexes = (
            Index(fields=("status", "id"), name="delivery_status"),
            Index(fields=("respondent_id",), name="delivery_respondent"),
        )


# A "You said, we did" item: a text per language (drafts marked for review), linked to the
# responses it answers. Published ones can be read with /news and broadcast like a campaign.
class Bulletin(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)  # for officers, in English
    # language -> {"text": "...", "review": "draft" | "reviewed"}; English is the source.
    texts: fields.JSONField[dict[str, dict[str, str]]] = fields.JSONField(default=dict)
    status = fields.CharField(max_length=16, default="draft")  # draft | published
    published_at = fields.DatetimeField(null=True, db_index=True)
    created_by = fields.CharField(max_length=254, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    responses: fields.ManyToManyRelation[Response] = fields.ManyToManyField(
        "voices.Response", related_name="bulletins", through="bulletin_response"
    )

    campaigns: fields.ReverseRelation[Campaign]

    class Meta:
        app = "voices"
        table = "bulletin"
