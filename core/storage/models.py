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
    contact_ok = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(auto_now=True)

    session: fields.BackwardOneToOneRelation[Session]
    responses: fields.ReverseRelation[Response]

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

    answers: fields.ReverseRelation[Answer]
    sessions: fields.ReverseRelation[Session]

    class Meta:
        app = "voices"
        table = "response"
        indexes = (
            Index(fields=("status", "started_at"), name="response_status_started"),
            Index(fields=("conversation_id", "conversation_version"), name="response_conversation"),
            Index(fields=("respondent_id",), name="response_respondent"),
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

    priorities: fields.ReverseRelation[AnswerPriority]

    class Meta:
        app = "voices"
        table = "answer"
        # Its index (response_id, step_id) also serves every lookup by response_id alone.
        unique_together = (("response", "step_id"),)


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


__all__ = [
    "ANSWERED_BY",
    "ANSWER_KINDS",
    "CHANNELS",
    "POLARITIES",
    "PRIORITIES",
    "PRIORITY_SOURCES",
    "RESPONSE_STATUSES",
    "ROLES",
    "Answer",
    "AnswerPriority",
    "InboxUpdate",
    "Priority",
    "Respondent",
    "Response",
    "Session",
    "new_ref",
    "respondent_key",
]
