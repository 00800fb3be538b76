"""Console users and sessions: scrypt password hashes in the ``users`` table, CSRF tokens.

A password is stored as ``scrypt$N$r$p$<salt>$<hash>`` (base64, a random 16-byte salt per
user); checking it takes about as long for an unknown user as for a wrong password, and the
comparison is constant-time. The session (a signed cookie, see :func:`ferry.console.create_app`)
holds only the user name and the CSRF token, never the password or its hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from ferry.errors import ConfigError
from ferry.store import Store
from ferry.store import users as rows

__all__ = [
    "MIN_PASSWORD",
    "add_user",
    "authenticate",
    "check_csrf",
    "csrf_token",
    "hash_password",
    "list_users",
    "remove_user",
    "user_exists",
    "verify_password",
]

MIN_PASSWORD = 8
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_NAME = re.compile(r"^[^\s\x00-\x1f]{1,191}$")
_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` for the ``users`` table (never the password itself)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time); ``False`` for a malformed hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _check_name(username: str) -> None:
    if not _NAME.match(username or ""):
        raise ConfigError(
            f"invalid user name {username!r:.60}: use 1-191 characters without spaces or control characters"
        )


def add_user(store: Store, username: str, password: str, *, replace: bool = False) -> bool:
    """Create console user ``username`` (or, with ``replace``, set its new password).

    Returns ``True`` when the user was created, ``False`` when an existing one was updated.

    Raises:
        ConfigError: The name is invalid, the password shorter than 8 characters, or the
            user exists and ``replace`` is false.
    """
    _check_name(username)
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password must have at least {MIN_PASSWORD} characters")
    created = rows.put_user(store, username, hash_password(password), datetime.now(UTC), replace=replace)
    if created is None:
        raise ConfigError(
            f"console user {username!r} already exists\n  hint: pass --replace to set a new password"
        )
    return created


def remove_user(store: Store, username: str) -> bool:
    """Delete a console user; ``False`` if there was none. Its open sessions end at their next request."""
    return rows.delete_user(store, username)


def list_users(store: Store) -> list[dict[str, Any]]:
    """``[{username, created_at, last_login_at}]`` by name (no hashes)."""
    return rows.list_users(store)


def user_exists(store: Store, username: str) -> bool:
    """Whether ``username`` is a console user (checked on every request of a session)."""
    return rows.password_hash(store, username) is not None


def authenticate(store: Store, username: str, password: str) -> bool:
    """Check a login; on success record ``last_login_at``.

    An unknown user costs one scrypt like a known one, so timing does not tell which
    names exist.
    """
    stored = rows.password_hash(store, username)
    ok = verify_password(password, stored or _DUMMY) and stored is not None
    if ok:
        rows.note_login(store, username, datetime.now(UTC))
    return ok


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, created on first use."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf(session: dict[str, Any], supplied: str | None) -> bool:
    """Whether ``supplied`` is the session's CSRF token (constant-time)."""
    expected = session.get("csrf")
    if not isinstance(expected, str) or not expected or not supplied:
        return False
    return hmac.compare_digest(expected.encode(), supplied.encode())
