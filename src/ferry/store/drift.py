"""Schema drift in the store: each scheme's known source fingerprint and its drift events.

The fingerprint is opaque JSON here (:mod:`ferry.engine.fingerprint` says what it holds). A
drift event is one field of one scheme that appeared, disappeared or changed type
(``change``), with the types ``before`` and ``after``, the run and window that found it, the id
of a record that shows it and the scheme's ``policy`` then. It stays ``open`` until accepted
(``ferry drift accept``); the same open change found again bumps ``occurrences`` and
``last_seen_at`` instead of adding a row, so a policy that holds every page (``fail``,
``quarantine``) leaves one row per change, not one per page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ferry.store._schema import schema_drift_events as E
from ferry.store._schema import schema_fingerprints as F

if TYPE_CHECKING:
    from ferry.store import Store

__all__ = [
    "ACCEPTED",
    "OPEN",
    "DriftEvent",
    "accept_drift",
    "list_drift",
    "load_fingerprint",
    "open_drift",
    "open_drift_counts",
    "open_events",
    "record_drift",
    "save_fingerprint",
]

OPEN, ACCEPTED = "open", "accepted"
_CLIP = 191


@dataclass(frozen=True)
class DriftEvent:
    """One drifted field found by a run (what :func:`record_drift` stores)."""

    field: str
    change: str
    """``appeared``, ``disappeared`` or ``type``."""
    before: str | None
    after: str | None
    record_id: str | None
    policy: str
    run_id: int | None = None
    window: tuple[datetime, datetime] | None = None


def load_fingerprint(store: Store, scheme_id: str) -> dict[str, Any] | None:
    """The scheme's known fingerprint, or ``None`` before its first run learnt one."""
    with store.transaction() as conn:
        text = conn.execute(sa.select(F.c.fingerprint).where(F.c.scheme_id == scheme_id)).scalar_one_or_none()
    return None if text is None else json.loads(text)


def _put(conn: sa.Connection, scheme_id: str, fingerprint: dict[str, Any], now: datetime) -> None:
    text = json.dumps(fingerprint, ensure_ascii=False, separators=(",", ":"))
    done = conn.execute(
        sa.update(F).where(F.c.scheme_id == scheme_id).values(fingerprint=text, updated_at=now)
    ).rowcount
    if not done:
        conn.execute(sa.insert(F).values(scheme_id=scheme_id, fingerprint=text, updated_at=now))


def save_fingerprint(store: Store, scheme_id: str, fingerprint: dict[str, Any], now: datetime) -> None:
    """Store the scheme's known fingerprint (replacing the one before)."""
    with store.transaction(write=True) as conn:
        _put(conn, scheme_id, fingerprint, now)


def _same_open(conn: sa.Connection, scheme_id: str, event: DriftEvent) -> int | None:
    """The id of the scheme's open event of the same field, change and after-types, if any."""
    return conn.execute(
        sa.select(E.c.id).where(
            E.c.scheme_id == scheme_id,
            E.c.status == OPEN,
            E.c.field_path == event.field[:_CLIP],
            E.c.change_kind == event.change,
            E.c.types_after.is_(None) if event.after is None else E.c.types_after == event.after,
        )
    ).scalar()


def record_drift(store: Store, scheme_id: str, events: Sequence[DriftEvent], now: datetime) -> list[int]:
    """Store ``events`` in one transaction; returns the ids of the rows added (an event already
    open for the same field, change and types is counted again, not added)."""
    added: list[int] = []
    with store.transaction(write=True) as conn:
        for event in events:
            known = _same_open(conn, scheme_id, event)
            if known is not None:
                conn.execute(
                    sa.update(E)
                    .where(E.c.id == known)
                    .values(occurrences=E.c.occurrences + 1, last_seen_at=now, run_id=event.run_id)
                )
                continue
            start, end = event.window if event.window is not None else (None, None)
            values = {
                "scheme_id": scheme_id,
                "run_id": event.run_id,
                "window_start": start,
                "window_end": end,
                "field_path": event.field[:_CLIP],
                "change_kind": event.change,
                "types_before": event.before,
                "types_after": event.after,
                "record_id": None if event.record_id is None else event.record_id[:_CLIP],
                "policy": event.policy,
                "status": OPEN,
                "occurrences": 1,
                "detected_at": now,
                "last_seen_at": now,
            }
            added.append(int(conn.execute(sa.insert(E).values(**values)).inserted_primary_key[0]))  # type: ignore[index]
    return added


def _row(row: Any) -> dict[str, Any]:
    out = dict(row._asdict())
    out["field"] = out.pop("field_path")
    out["change"] = out.pop("change_kind")
    out["before"] = out.pop("types_before")
    out["after"] = out.pop("types_after")
    return out


def list_drift(
    store: Store, scheme_id: str | None = None, *, status: str | None = None, limit: int | None = 100
) -> list[dict[str, Any]]:
    """Drift events, newest first: ``{id, scheme_id, run_id, window_start, window_end, field,
    change, before, after, record_id, policy, status, occurrences, detected_at, last_seen_at,
    accepted_at, accepted_by}``."""
    query = sa.select(E).order_by(E.c.id.desc())
    if scheme_id is not None:
        query = query.where(E.c.scheme_id == scheme_id)
    if status is not None:
        query = query.where(E.c.status == status)
    if limit is not None:
        query = query.limit(limit)
    with store.transaction() as conn:
        return [_row(row) for row in conn.execute(query)]


def open_drift_counts(
    conn: sa.Connection, scheme_ids: Collection[str] | None = None
) -> dict[str, tuple[int, int]]:
    """``{scheme_id: (open events, newest open event id)}`` (the alert rule and the console)."""
    query = (
        sa.select(E.c.scheme_id, sa.func.count(), sa.func.max(E.c.id))
        .where(E.c.status == OPEN)
        .group_by(E.c.scheme_id)
    )
    if scheme_ids is not None:
        if not scheme_ids:
            return {}
        query = query.where(E.c.scheme_id.in_(list(scheme_ids)))
    return {sid: (int(count), int(newest)) for sid, count, newest in conn.execute(query)}


def open_events(conn: sa.Connection, scheme_ids: Collection[str], limit: int = 500) -> list[dict[str, Any]]:
    """The open events of ``scheme_ids``, oldest first, at most ``limit`` (the alert's summary)."""
    if not scheme_ids:
        return []
    query = (
        sa.select(E)
        .where(E.c.status == OPEN, E.c.scheme_id.in_(list(scheme_ids)))
        .order_by(E.c.id)
        .limit(limit)
    )
    return [_row(row) for row in conn.execute(query)]


def open_drift(store: Store, scheme_ids: Collection[str] | None = None) -> dict[str, tuple[int, int]]:
    """:func:`open_drift_counts` in a transaction of its own."""
    with store.transaction() as conn:
        return open_drift_counts(conn, scheme_ids)


def accept_drift(
    store: Store,
    scheme_id: str,
    apply: Callable[[dict[str, Any] | None, list[dict[str, Any]]], dict[str, Any]],
    *,
    by: str,
    now: datetime,
) -> int:
    """Accept the scheme's open drift events in one transaction: the known fingerprint becomes
    ``apply(fingerprint, events)`` and the events are marked ``accepted`` by ``by``. Returns how
    many were accepted (0: nothing was open, nothing changed)."""
    with store.transaction(write=True) as conn:
        rows = [
            _row(row)
            for row in conn.execute(
                sa.select(E).where(E.c.scheme_id == scheme_id, E.c.status == OPEN).order_by(E.c.id)
            )
        ]
        if not rows:
            return 0
        text = conn.execute(sa.select(F.c.fingerprint).where(F.c.scheme_id == scheme_id)).scalar_one_or_none()
        _put(conn, scheme_id, apply(None if text is None else json.loads(text), rows), now)
        conn.execute(
            sa.update(E)
            .where(E.c.id.in_([row["id"] for row in rows]))
            .values(status=ACCEPTED, accepted_at=now, accepted_by=by[:_CLIP])
        )
    return len(rows)
