"""Incidents and notices in the store: the memory that makes alerts converge.

An incident is one rule firing for one subject, from the first evaluation that saw it firing
(``opened_at``) to the first that did not (``resolved_at``). At most one incident per
``(rule, subject)`` is ``open``. Each alert or recovery sent (or attempted) to a channel is
one ``alert_notices`` row with ``ok`` and the error text; "has this channel been told?" is a
question about those rows, so a failed send is simply asked again on the next evaluation.

Statuses: ``open``, ``resolved`` (recovered; a recovery notice is due), ``closed`` (its rule
was removed from the alert config; nothing more is sent).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ferry.store._schema import alert_incidents, alert_notices
from ferry.store.codec import to_text

if TYPE_CHECKING:
    from ferry.observe.alerts.rules import Finding
    from ferry.store import Store

__all__ = [
    "CLOSED",
    "OPEN",
    "RESOLVED",
    "close_orphans",
    "list_incidents",
    "list_notices",
    "notice_state",
    "open_incident",
    "open_incidents",
    "recent_incidents",
    "record_notice",
    "resolve_incident",
    "touch_incident",
]

OPEN, RESOLVED, CLOSED = "open", "resolved", "closed"
SUMMARY_LIMIT = 4000


def open_incidents(conn: sa.Connection, rules: Collection[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Open incidents of ``rules``, by ``(rule, subject)``."""
    if not rules:
        return {}
    rows = conn.execute(
        sa.select(alert_incidents).where(
            alert_incidents.c.rule.in_(list(rules)), alert_incidents.c.status == OPEN
        )
    )
    return {(row.rule, row.subject): row._asdict() for row in rows}


def open_incident(conn: sa.Connection, finding: Finding, now: datetime) -> int:
    """Insert an ``open`` incident for a firing finding; its id."""
    stmt = sa.insert(alert_incidents).values(
        rule=finding.rule,
        subject=finding.subject,
        status=OPEN,
        severity=finding.severity,
        summary=finding.summary[:SUMMARY_LIMIT],
        opened_at=now,
        last_seen_at=now,
    )
    return int(conn.execute(stmt).inserted_primary_key[0])  # type: ignore[index]


def touch_incident(conn: sa.Connection, incident_id: int, finding: Finding, now: datetime) -> None:
    """Still firing: move ``last_seen_at`` and keep the latest summary and severity."""
    conn.execute(
        sa.update(alert_incidents)
        .where(alert_incidents.c.id == incident_id)
        .values(last_seen_at=now, summary=finding.summary[:SUMMARY_LIMIT], severity=finding.severity)
    )


def resolve_incident(conn: sa.Connection, incident_id: int, now: datetime, status: str = RESOLVED) -> None:
    """Close an open incident as ``resolved`` (or ``closed``) at ``now``."""
    conn.execute(
        sa.update(alert_incidents)
        .where(alert_incidents.c.id == incident_id, alert_incidents.c.status == OPEN)
        .values(status=status, resolved_at=now)
    )


def close_orphans(conn: sa.Connection, known_rules: Collection[str], now: datetime) -> int:
    """Mark open incidents of rules no longer configured ``closed`` (no notice); how many."""
    stmt = sa.update(alert_incidents).where(alert_incidents.c.status == OPEN)
    if known_rules:
        stmt = stmt.where(alert_incidents.c.rule.not_in(list(known_rules)))
    return conn.execute(stmt.values(status=CLOSED, resolved_at=now)).rowcount


def recent_incidents(
    conn: sa.Connection, rules: Collection[str], now: datetime, window: timedelta
) -> list[dict[str, Any]]:
    """Incidents of ``rules`` that may still owe a notice: open ones and those resolved in ``window``."""
    if not rules:
        return []
    owing = sa.or_(
        alert_incidents.c.status == OPEN,
        sa.and_(alert_incidents.c.status == RESOLVED, alert_incidents.c.resolved_at >= now - window),
    )
    rows = conn.execute(
        sa.select(alert_incidents)
        .where(alert_incidents.c.rule.in_(list(rules)), owing)
        .order_by(alert_incidents.c.id)
    )
    return [row._asdict() for row in rows]


def notice_state(
    conn: sa.Connection, incident_ids: Iterable[int]
) -> dict[tuple[int, str, str], tuple[int, bool]]:
    """``{(incident_id, channel, kind): (attempts, delivered)}`` for the given incidents."""
    ids = list(incident_ids)
    if not ids:
        return {}
    delivered = sa.func.max(sa.case((alert_notices.c.ok == sa.true(), 1), else_=0))
    rows = conn.execute(
        sa.select(
            alert_notices.c.incident_id,
            alert_notices.c.channel,
            alert_notices.c.kind,
            sa.func.count(),
            delivered,
        )
        .where(alert_notices.c.incident_id.in_(ids))
        .group_by(alert_notices.c.incident_id, alert_notices.c.channel, alert_notices.c.kind)
    )
    return {(int(i), ch, kind): (int(n), bool(ok)) for i, ch, kind, n, ok in rows}


def record_notice(
    conn: sa.Connection, incident_id: int, channel: str, kind: str, ok: bool, error: str | None, at: datetime
) -> None:
    """Record one send (or failed send) of a notice."""
    conn.execute(
        sa.insert(alert_notices).values(
            incident_id=incident_id, channel=channel, kind=kind, at=at, ok=ok, error=to_text(error)
        )
    )


def list_incidents(
    store: Store, limit: int = 50, *, status: str | None = None, rule: str | None = None
) -> list[dict[str, Any]]:
    """Newest incidents first, for the console's alerts page and ``ferry alerts incidents``.

    Each item has the ``alert_incidents`` columns (``id, rule, subject, status, severity,
    summary, opened_at, last_seen_at, resolved_at``) plus ``notices``: ``{"sent": n,
    "failed": n, "last_error": text | None}``.
    """
    with store.transaction() as conn:
        query = sa.select(alert_incidents).order_by(alert_incidents.c.id.desc()).limit(max(limit, 0))
        if status is not None:
            query = query.where(alert_incidents.c.status == status)
        if rule is not None:
            query = query.where(alert_incidents.c.rule == rule)
        items = [row._asdict() for row in conn.execute(query)]
        ids = [item["id"] for item in items]
        counts: dict[int, dict[str, Any]] = {i: {"sent": 0, "failed": 0, "last_error": None} for i in ids}
        if ids:
            rows = conn.execute(
                sa.select(alert_notices.c.incident_id, alert_notices.c.ok, alert_notices.c.error)
                .where(alert_notices.c.incident_id.in_(ids))
                .order_by(alert_notices.c.id)
            )
            for incident_id, ok, error in rows:
                entry = counts[int(incident_id)]
                entry["sent" if ok else "failed"] += 1
                if not ok:
                    entry["last_error"] = error
    for item in items:
        item["notices"] = counts[item["id"]]
    return items


def list_notices(store: Store, incident_id: int) -> list[dict[str, Any]]:
    """Every notice of one incident, oldest first (``channel, kind, at, ok, error``)."""
    with store.transaction() as conn:
        rows = conn.execute(
            sa.select(alert_notices)
            .where(alert_notices.c.incident_id == incident_id)
            .order_by(alert_notices.c.id)
        )
        return [row._asdict() for row in rows]
