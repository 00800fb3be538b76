"""Console logins in the ``users`` table: names, password hashes (never passwords), last login.

Hashing and checking passwords is the console's (:mod:`ferry.console`); the store only keeps
the rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ferry.store._schema import users

if TYPE_CHECKING:
    from ferry.store import Store

__all__ = ["delete_user", "list_users", "note_login", "password_hash", "put_user"]


def put_user(store: Store, username: str, hashed: str, now: datetime, *, replace: bool) -> bool | None:
    """Create ``username`` with the password hash ``hashed``, or with ``replace`` give an
    existing one that hash, in one transaction.

    Returns ``True`` when the user was created, ``False`` when its hash was replaced, ``None``
    when it exists and ``replace`` is false (nothing changed).
    """
    with store.transaction(write=True) as conn:
        exists = conn.execute(sa.select(users.c.username).where(users.c.username == username)).first()
        if exists is not None:
            if not replace:
                return None
            conn.execute(sa.update(users).where(users.c.username == username).values(password_hash=hashed))
            return False
        conn.execute(sa.insert(users).values(username=username, password_hash=hashed, created_at=now))
    return True


def delete_user(store: Store, username: str) -> bool:
    """Delete a user; ``False`` if there was none."""
    with store.transaction(write=True) as conn:
        return conn.execute(sa.delete(users).where(users.c.username == username)).rowcount > 0


def list_users(store: Store) -> list[dict[str, Any]]:
    """``[{username, created_at, last_login_at}]`` by name (no hashes)."""
    query = sa.select(users.c.username, users.c.created_at, users.c.last_login_at).order_by(users.c.username)
    with store.transaction() as conn:
        return [row._asdict() for row in conn.execute(query)]


def password_hash(store: Store, username: str) -> str | None:
    """The stored password hash of ``username``, or ``None`` when there is no such user."""
    with store.transaction() as conn:
        found = conn.execute(
            sa.select(users.c.password_hash).where(users.c.username == username)
        ).scalar_one_or_none()
    return None if found is None else str(found)


def note_login(store: Store, username: str, now: datetime) -> None:
    """Record a successful login of ``username`` at ``now``."""
    with store.transaction(write=True) as conn:
        conn.execute(sa.update(users).where(users.c.username == username).values(last_login_at=now))
