"""Scheme leases and schedule slots: the state schedulers sharing a store agree through.

Leases (``scheme_leases``) keep one collect (and one deliver) per scheme at a time across
processes. Taking one is atomic on every backend: an ``UPDATE`` that only matches a row that
has expired or is already ours, else an insert that does nothing when a row exists (each
statement locks the row, so two takers never both succeed). A holder renews its lease while
its run lasts and deletes it at the end; a lease left by a killed process is taken over once
it has expired.

Slots (``schedule_slots``) remember the last cron slot each job fired. Claiming a slot is a
compare-and-set (``UPDATE ... WHERE last_slot < :slot``), so of two schedulers sharing a store
only one runs a given slot, and a restart after downtime runs one catch-up, not one per
missed slot.

All times come from the caller's clock (tz-aware), so tests can expire a lease by moving a
fake clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from ferry.store._schema import runs, schedule_slots, scheme_leases
from ferry.store.codec import to_text

if TYPE_CHECKING:
    from ferry.store import Store

__all__ = [
    "acquire_lease",
    "claim_slot",
    "close_stale_runs",
    "holds_lease",
    "init_slot",
    "lease_holders",
    "read_slots",
    "release_lease",
    "renew_lease",
]


def _insert_ignore(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> bool:
    """Insert ``values`` unless the primary key exists; whether a row was inserted."""
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        stmt: Any = mysql.insert(table).values(values).prefix_with("IGNORE")
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(values).on_conflict_do_nothing()
    else:
        stmt = postgresql.insert(table).values(values).on_conflict_do_nothing()
    # SQLAlchemy counts an INSERT's rows only when asked (psycopg answers -1 otherwise)
    return bool(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount == 1)


def _lease(scheme_id: str, phase: str) -> sa.ColumnElement[bool]:
    return (scheme_leases.c.scheme_id == scheme_id) & (scheme_leases.c.phase == phase)


def _owned(scheme_id: str, phase: str, owner: str) -> sa.ColumnElement[bool]:
    return _lease(scheme_id, phase) & (scheme_leases.c.owner == owner)


def acquire_lease(
    store: Store, scheme_id: str, phase: str, owner: str, now: datetime, ttl: timedelta
) -> str | None:
    """Take (or extend) the ``phase`` lease of ``scheme_id`` for ``owner`` until ``now + ttl``.

    Returns:
        ``None`` when the lease is now ``owner``'s; otherwise the current holder's owner id.
        The previous holder, when an expired lease was taken over, is not reported here:
        :func:`close_stale_runs` closes what it left.
    """
    key = _lease(scheme_id, phase)
    values = {"owner": owner, "acquired_at": now, "expires_at": now + ttl}
    with store.transaction(write=True) as conn:
        taken = conn.execute(
            sa.update(scheme_leases)
            .where(key, (scheme_leases.c.owner == owner) | (scheme_leases.c.expires_at <= now))
            .values(**values)
        ).rowcount
        if taken == 1:
            return None
        if _insert_ignore(conn, scheme_leases, {"scheme_id": scheme_id, "phase": phase, **values}):
            return None
        holder = conn.execute(sa.select(scheme_leases.c.owner).where(key)).scalar()
    return str(holder) if holder is not None else "?"


def renew_lease(store: Store, scheme_id: str, phase: str, owner: str, now: datetime, ttl: timedelta) -> bool:
    """Move the expiry of ``owner``'s lease to ``now + ttl``; ``False`` if it is no longer ours."""
    with store.transaction(write=True) as conn:
        renewed = conn.execute(
            sa.update(scheme_leases).where(_owned(scheme_id, phase, owner)).values(expires_at=now + ttl)
        ).rowcount
    return bool(renewed == 1)


def release_lease(store: Store, scheme_id: str, phase: str, owner: str) -> None:
    """Give the lease up (only if ``owner`` still holds it)."""
    with store.transaction(write=True) as conn:
        conn.execute(sa.delete(scheme_leases).where(_owned(scheme_id, phase, owner)))


def lease_holders(store: Store, scheme_id: str | None = None) -> list[dict[str, Any]]:
    """Current lease rows (``scheme_id, phase, owner, acquired_at, expires_at``), expired included."""
    stmt = sa.select(scheme_leases).order_by(scheme_leases.c.scheme_id, scheme_leases.c.phase)
    if scheme_id is not None:
        stmt = stmt.where(scheme_leases.c.scheme_id == scheme_id)
    with store.transaction() as conn:
        return [row._asdict() for row in conn.execute(stmt)]


def holds_lease(conn: sa.Connection, scheme_id: str, now: datetime) -> bool:
    """Whether anyone holds an unexpired lease (of any phase) on ``scheme_id`` at ``now``."""
    c = scheme_leases.c
    query = sa.select(c.owner).where(c.scheme_id == scheme_id, c.expires_at > now).limit(1)
    return conn.execute(query).first() is not None


def close_stale_runs(store: Store, scheme_id: str, kinds: Iterable[str], now: datetime) -> int:
    """Mark the scheme's ``running`` runs of ``kinds`` failed; call only while holding their leases.

    A lease-respecting process runs a scheme's collect and deliver only under its leases, so
    a run of those kinds still ``running`` when the leases are ours was left by a process that
    died (its lease expired and was taken over).
    """
    with store.transaction(write=True) as conn:
        return int(
            conn.execute(
                sa.update(runs)
                .where(
                    runs.c.scheme_id == scheme_id, runs.c.status == "running", runs.c.kind.in_(list(kinds))
                )
                .values(
                    status="failed",
                    finished_at=now,
                    error=to_text("interrupted: the process running it stopped (its lease expired)"),
                )
            ).rowcount
        )


def read_slots(store: Store) -> dict[tuple[str, str], datetime]:
    """Every job's last fired slot: ``{(scheme_id, job): slot}`` (tz-aware UTC)."""
    with store.transaction() as conn:
        rows = conn.execute(
            sa.select(schedule_slots.c.scheme_id, schedule_slots.c.job, schedule_slots.c.last_slot)
        )
        return {(r.scheme_id, r.job): r.last_slot for r in rows}


def init_slot(store: Store, scheme_id: str, job: str, slot: datetime, now: datetime) -> bool:
    """Remember ``slot`` as fired unless the job already has a row; whether it was inserted.

    A job seen for the first time starts from its latest slot: it fires at the next one, as
    cron would, instead of running at once.
    """
    with store.transaction(write=True) as conn:
        return _insert_slot(conn, scheme_id, job, slot, now)


def _insert_slot(conn: sa.Connection, scheme_id: str, job: str, slot: datetime, now: datetime) -> bool:
    values = {"scheme_id": scheme_id, "job": job, "last_slot": slot, "updated_at": now}
    return _insert_ignore(conn, schedule_slots, values)


def claim_slot(store: Store, scheme_id: str, job: str, slot: datetime, now: datetime) -> bool:
    """Record ``slot`` as fired if it is later than the job's last one; whether this caller won."""
    with store.transaction(write=True) as conn:
        won = conn.execute(
            sa.update(schedule_slots)
            .where(
                schedule_slots.c.scheme_id == scheme_id,
                schedule_slots.c.job == job,
                schedule_slots.c.last_slot < slot,
            )
            .values(last_slot=slot, updated_at=now)
        ).rowcount
        return won == 1 or _insert_slot(conn, scheme_id, job, slot, now)
