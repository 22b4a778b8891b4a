"""Passwords (argon2id), one-time codes (TOTP), random tokens and the QR code for set-up."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's argon2id minimum: 19 MiB memory, 2 iterations, 1 lane.
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the e-mail is unknown, so that the answer takes the same time.
_DUMMY_HASH = HASHER.hash("not a real password " + secrets.token_hex(8))
MIN_PASSWORD = 8
MAX_PASSWORD = 256
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password1!", "password123", "12345678", "123456789", "1234567890",
    "qwertyuiop", "iloveyou", "letmein1", "welcome1", "sunshine", "football", "baseball",
    "admin123", "passw0rd", "changeme", "trustno1", "abc12345", "11111111", "00000000",
})
ISSUER = "Voices admin"


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check ``password``; with no stored hash, spend the same time and say no."""
    try:
        return HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return HASHER.check_needs_rehash(stored)


def password_problem(password: str) -> str | None:
    """A plain-words reason the password cannot be used, or None."""
    if len(password) < MIN_PASSWORD:
        return f"Password must be {MIN_PASSWORD} characters or more"
    if len(password) > MAX_PASSWORD:
        return f"Password must be {MAX_PASSWORD} characters or fewer"
    if password.lower() in COMMON_PASSWORDS:
        return "This password is too common. Choose a different one, for example 3 random words"
    return None


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_step(secret: str, code: str, last_step: int, now: float | None = None) -> int | None:
    """The time step ``code`` matches (one step either side allowed), if it is newer than ``last_step``.

    Returning the step lets the caller store it, so the same code cannot be used twice.
    """
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    moment = time.time() if now is None else now
    current = int(moment // totp.interval)
    for step in (current - 1, current, current + 1):
        if step > last_step and hmac.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG (no script), with a title for screen readers."""
    qr = segno.make(uri, error="m")
    return str(qr.svg_inline(scale=4, title="QR code for your authenticator app", omitsize=True))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
