"""Sliding-window rate budgets shared through the store (``Store.reserve_call``).

A reservation locks the key's ``rate_keys`` row (``SELECT ... FOR UPDATE``; SQLite's write
transaction serialises anyway), drops calls older than the longest window, and checks every
rule ``(limit, seconds)`` against the calls still inside its window. If one more call fits, it
is recorded and the delay is 0; otherwise nothing is recorded and the caller learns how long to
wait. ``finish`` moves a call's time to when it ended (the pacer counts a call from its end,
see :mod:`ferry.engine.pacing`). ``penalize`` pushes ``not_before`` forward when the vendor
throttled.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ferry.store._schema import rate_calls, rate_keys

__all__ = ["finish", "penalize", "reserve"]

K, C = rate_keys, rate_calls


def _ensure_key(conn: sa.Connection, key: str) -> None:
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        conn.execute(sa.insert(K).prefix_with("IGNORE").values(key=key, not_before=0.0))
        return
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    conn.execute(insert(K).values(key=key, not_before=0.0).on_conflict_do_nothing(index_elements=["key"]))


def reserve(conn: sa.Connection, key: str, rules: Sequence[tuple[int, float]], now: float) -> float:
    """Record one call for ``key`` if it fits every rule; else return the seconds to wait."""
    _ensure_key(conn, key)
    not_before = conn.execute(sa.select(K.c.not_before).where(K.c.key == key).with_for_update()).scalar_one()
    delay = not_before - now
    longest = max((seconds for _, seconds in rules), default=0.0)
    conn.execute(sa.delete(C).where(C.c.key == key, C.c.at <= now - longest))
    for limit, seconds in rules:
        recent = (
            conn.execute(
                sa.select(C.c.at)
                .where(C.c.key == key, C.c.at > now - seconds)
                .order_by(C.c.at.desc())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        if len(recent) >= limit:
            delay = max(delay, recent[limit - 1] + seconds - now)
    if delay > 0:
        return delay
    conn.execute(sa.insert(C).values(key=key, at=now))
    return 0.0


def finish(conn: sa.Connection, key: str, started: float, ended: float) -> None:
    """Count the call of ``key`` recorded at ``started`` from ``ended`` on; record it anew if
    it was dropped meanwhile (a call longer than the longest window)."""
    moved = conn.execute(sa.update(C).where(C.c.key == key, C.c.at == started).values(at=ended))
    if moved.rowcount == 0:
        conn.execute(sa.insert(C).values(key=key, at=ended))


def penalize(conn: sa.Connection, key: str, until: float) -> None:
    """Hold every call on ``key`` until ``until`` (epoch seconds)."""
    _ensure_key(conn, key)
    conn.execute(sa.update(K).where(K.c.key == key, K.c.not_before < until).values(not_before=until))
