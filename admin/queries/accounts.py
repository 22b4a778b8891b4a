"""Admin users, invitations and server-side sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from admin import security
from core.storage import models as m

LOCK_AFTER = 10  # failures before the account waits
LOCK_FOR = timedelta(minutes=15)


@dataclass(frozen=True)
class NewSession:
    token: str  # goes in the cookie; only its hash is stored
    session: m.AdminSession


async def user_count() -> int:
    return await m.AdminUser.all().count()


async def find_user(email: str) -> m.AdminUser | None:
    return await m.AdminUser.get_or_none(email=email.strip().lower())


async def start_session(user: m.AdminUser, stage: str, now: datetime) -> NewSession:
    token = security.new_token()
    session = await m.AdminSession.create(
        id=security.token_hash(token), user=user, stage=stage, csrf_token=security.new_token(),
        created_at=now, last_seen_at=now)
    return NewSession(token, session)


async def live_session(token: str) -> m.AdminSession | None:
    """The session for a cookie value, with its user, if it has not ended."""
    return await m.AdminSession.filter(id=security.token_hash(token), ended_at=None) \
        .select_related("user").first()


async def touch(session: m.AdminSession, now: datetime) -> None:
    await m.AdminSession.filter(id=session.id).update(last_seen_at=now)


async def end_session(session_id: str, now: datetime) -> None:
    await m.AdminSession.filter(id=session_id, ended_at=None).update(ended_at=now)


async def end_all_sessions(user_id: int, now: datetime) -> None:
    await m.AdminSession.filter(user_id=user_id, ended_at=None).update(ended_at=now)


def is_locked(user: m.AdminUser, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


async def note_failure(user: m.AdminUser, now: datetime) -> None:
    user.failed_count += 1
    if user.failed_count >= LOCK_AFTER:
        # Back off: 15 minutes, doubling with every further run of failures (at most a day).
        runs = user.failed_count // LOCK_AFTER
        user.locked_until = now + min(LOCK_FOR * (2 ** (runs - 1)), timedelta(days=1))
    await user.save(update_fields=["failed_count", "locked_until"])


async def note_success(user: m.AdminUser, now: datetime) -> None:
    user.failed_count, user.locked_until, user.last_sign_in_at = 0, None, now
    await user.save(update_fields=["failed_count", "locked_until", "last_sign_in_at"])


async def set_password(user: m.AdminUser, password: str) -> None:
    user.password_hash = security.hash_password(password)
    await user.save(update_fields=["password_hash"])


async def begin_totp(user: m.AdminUser) -> str:
    """The unconfirmed secret to show at set-up (made once, kept until confirmed)."""
    if not user.totp_secret or user.totp_confirmed:
        user.totp_secret, user.totp_confirmed = security.new_totp_secret(), False
        await user.save(update_fields=["totp_secret", "totp_confirmed"])
    return user.totp_secret


async def accept_code(user: m.AdminUser, code: str) -> bool:
    """Check a one-time code and use it up; on success the authenticator is confirmed."""
    if not user.totp_secret:
        return False
    step = security.totp_step(user.totp_secret, code, user.totp_last_step)
    if step is None:
        return False
    updated = await m.AdminUser.filter(id=user.id, totp_last_step__lt=step) \
        .update(totp_last_step=step, totp_confirmed=True)
    return updated == 1


async def create_invite(role: str, user: m.AdminUser | None, now: datetime, lifetime: timedelta) -> str:
    token = security.new_token()
    if user is None:  # a new first-admin link replaces the old ones
        await m.AdminInvite.filter(user_id=None, used_at=None).update(used_at=now)
    await m.AdminInvite.create(token_hash=security.token_hash(token), user=user, role=role,
                               expires_at=now + lifetime)
    return token


async def open_invite(token: str, now: datetime) -> m.AdminInvite | None:
    invite = await m.AdminInvite.filter(token_hash=security.token_hash(token), used_at=None) \
        .select_related("user").first()
    if invite is None or invite.expires_at <= now:
        return None
    if invite.user is None and await user_count() > 0:
        return None  # the first-admin link stops working once anyone exists
    return invite


async def use_invite(invite: m.AdminInvite, email: str, password: str, now: datetime) -> m.AdminUser:
    """Set the password (creating the first admin if needed) and reset the authenticator."""
    user = invite.user
    if user is None:
        user = await m.AdminUser.create(email=email.strip().lower(), role=invite.role)
    user.password_hash = security.hash_password(password)
    user.totp_secret, user.totp_confirmed, user.totp_last_step = None, False, 0
    user.failed_count, user.locked_until = 0, None
    await user.save()
    invite.used_at = now
    await invite.save(update_fields=["used_at"])
    await end_all_sessions(user.id, now)
    return user


async def add_user(email: str, role: str, safeguarding_lead: bool = False) -> m.AdminUser:
    return await m.AdminUser.create(email=email.strip().lower(), role=role,
                                    safeguarding_lead=safeguarding_lead)


async def all_users() -> list[m.AdminUser]:
    return await m.AdminUser.all().order_by("email")


async def get_user(user_id: int) -> m.AdminUser | None:
    return await m.AdminUser.get_or_none(id=user_id)


async def change_user(user: m.AdminUser, role: str, disabled: bool, now: datetime,
                      safeguarding_lead: bool | None = None) -> None:
    """Change the role, disabled and (unless None) the safeguarding lead permission."""
    user.role, user.disabled = role, disabled
    fields = ["role", "disabled"]
    if safeguarding_lead is not None:
        user.safeguarding_lead = safeguarding_lead
        fields.append("safeguarding_lead")
    await user.save(update_fields=fields)
    await end_all_sessions(user.id, now)  # a new role or a disabled account takes effect at once
