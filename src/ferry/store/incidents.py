"""Alert incidents and notices: the memory that makes alerts converge (:mod:`ferry.observe.alerts`).

An incident is one rule firing for one subject, from the first evaluation that saw it firing
(``opened_at``) to the first that did not (``resolved_at``). At most one incident per
``(rule, subject)`` is ``open``. Each alert or recovery sent (or attempted) to a channel is
one ``alert_notices`` row with ``ok``, the error text and its ``attempt`` number; "has this
channel been told?" is a question about those rows, so a failed send is simply asked again on
the next evaluation. A notice for a misconfigured channel is one row with ``skipped`` set: not
sent, not retried.

An incident keeps only its latest :data:`KEEP_NOTICES` notices (and the latest of each channel
and kind, which carries the attempt count); ``alert_incidents.notice_count`` counts them all.

Statuses: ``open``, ``resolved`` (recovered; a recovery notice is due), ``closed`` (its rule
was removed from the alert config; nothing more is sent).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from ferry.store._schema import alert_incidents, alert_notices
from ferry.store.codec import to_text

if TYPE_CHECKING:
    from ferry.store import Store

__all__ = [
    "CLOSED",
    "KEEP_NOTICES",
    "OPEN",
    "RESOLVED",
    "Firing",
    "NoticeState",
    "alert_history",
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
KEEP_NOTICES = 20
"""Notices kept per incident (the newest), besides the latest of each channel and kind."""


class Firing(Protocol):
    """What an incident records of a rule's finding (:class:`ferry.observe.alerts.Finding` is one)."""

    @property
    def rule(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def summary(self) -> str: ...


@dataclass(frozen=True)
class NoticeState:
    """What one channel has heard of one notice (alert or recovery) of one incident."""

    attempts: int
    """Sends tried (skipped notices are not sends)."""
    delivered: bool
    """One of them was taken."""
    skipped: bool
    """It was skipped because the channel was misconfigured."""


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


def open_incident(conn: sa.Connection, finding: Firing, now: datetime) -> int:
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


def touch_incident(conn: sa.Connection, incident_id: int, finding: Firing, now: datetime) -> None:
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


def notice_state(conn: sa.Connection, incident_ids: Iterable[int]) -> dict[tuple[int, str, str], NoticeState]:
    """``{(incident_id, channel, kind): NoticeState}`` for the given incidents.

    Attempts are the highest ``attempt`` number (rows may have been pruned), or the number of
    rows for notices recorded before attempts were numbered, whichever is larger.
    """
    ids = list(incident_ids)
    if not ids:
        return {}
    n = alert_notices.c
    sent = sa.case((n.skipped == sa.false(), 1), else_=0)
    rows = conn.execute(
        sa.select(
            n.incident_id,
            n.channel,
            n.kind,
            sa.func.sum(sent),
            sa.func.max(sa.case((n.skipped == sa.false(), n.attempt), else_=0)),
            sa.func.max(sa.case((n.ok == sa.true(), 1), else_=0)),
            sa.func.max(sa.case((n.skipped == sa.true(), 1), else_=0)),
        )
        .where(n.incident_id.in_(ids))
        .group_by(n.incident_id, n.channel, n.kind)
    )
    return {
        (int(i), ch, kind): NoticeState(max(int(rows_sent or 0), int(top or 0)), bool(ok), bool(skipped))
        for i, ch, kind, rows_sent, top, ok, skipped in rows
    }


def record_notice(
    conn: sa.Connection,
    incident_id: int,
    channel: str,
    kind: str,
    ok: bool,
    error: str | None,
    at: datetime,
    *,
    attempt: int = 1,
    skipped: bool = False,
) -> None:
    """Record one send (or failed send, or skipped notice), count it on the incident and prune
    the incident's notices to the newest :data:`KEEP_NOTICES` plus the latest per channel and kind."""
    conn.execute(
        sa.insert(alert_notices).values(
            incident_id=incident_id,
            channel=channel,
            kind=kind,
            at=at,
            ok=ok,
            error=to_text(error),
            attempt=attempt,
            skipped=skipped,
        )
    )
    conn.execute(
        sa.update(alert_incidents)
        .where(alert_incidents.c.id == incident_id)
        .values(notice_count=alert_incidents.c.notice_count + 1)
    )
    _prune_notices(conn, incident_id)


def _prune_notices(conn: sa.Connection, incident_id: int) -> None:
    n = alert_notices.c
    rows = conn.execute(
        sa.select(n.id, n.channel, n.kind).where(n.incident_id == incident_id).order_by(n.id.desc())
    ).all()
    if len(rows) <= KEEP_NOTICES:
        return
    keep = {row.id for row in rows[:KEEP_NOTICES]}
    latest: dict[tuple[str, str], int] = {}
    for row in rows:
        latest.setdefault((row.channel, row.kind), row.id)
    keep |= set(latest.values())
    drop = [row.id for row in rows if row.id not in keep]
    if drop:
        conn.execute(sa.delete(alert_notices).where(n.id.in_(drop)))


def list_incidents(
    store: Store, limit: int = 50, *, status: str | None = None, rule: str | None = None
) -> list[dict[str, Any]]:
    """Newest incidents first, for the console's alerts page and ``ferry alerts incidents``.

    Each item has the ``alert_incidents`` columns (``id, rule, subject, status, severity,
    summary, opened_at, last_seen_at, resolved_at, notice_count``) plus ``notices``:
    ``{"total": n, "sent": n, "failed": n, "skipped": n, "last_error": text | None}``, where
    ``total`` counts every notice ever recorded and the others the notices still kept.
    """
    with store.transaction() as conn:
        query = sa.select(alert_incidents).order_by(alert_incidents.c.id.desc()).limit(max(limit, 0))
        if status is not None:
            query = query.where(alert_incidents.c.status == status)
        if rule is not None:
            query = query.where(alert_incidents.c.rule == rule)
        items = [row._asdict() for row in conn.execute(query)]
        counts = _notice_counts(conn, [item["id"] for item in items])
    for item in items:
        entry = counts[item["id"]]
        entry["total"] = max(
            int(item["notice_count"] or 0), entry["sent"] + entry["failed"] + entry["skipped"]
        )
        item["notices"] = entry
    return items


def _notice_counts(conn: sa.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per incident: the kept notices sent, failed and skipped, and the last send error."""
    counts: dict[int, dict[str, Any]] = {
        i: {"total": 0, "sent": 0, "failed": 0, "skipped": 0, "last_error": None} for i in ids
    }
    if not ids:
        return counts
    n = alert_notices.c
    rows = conn.execute(
        sa.select(n.incident_id, n.ok, n.skipped, n.error).where(n.incident_id.in_(ids)).order_by(n.id)
    )
    for incident_id, ok, skipped, error in rows:
        entry = counts[int(incident_id)]
        entry["skipped" if skipped else "sent" if ok else "failed"] += 1
        if not ok and not skipped:
            entry["last_error"] = error
    return counts


def list_notices(store: Store, incident_id: int) -> list[dict[str, Any]]:
    """The notices an incident keeps (its latest), oldest first (``channel, kind, at, ok, error,
    attempt, skipped``); ``notice_count`` of :func:`list_incidents` counts them all."""
    with store.transaction() as conn:
        rows = conn.execute(
            sa.select(alert_notices)
            .where(alert_notices.c.incident_id == incident_id)
            .order_by(alert_notices.c.id)
        )
        return [row._asdict() for row in rows]


def alert_history(store: Store, limit: int = 200) -> list[dict[str, Any]]:
    """The newest ``limit`` incidents, each with the ``notices`` it keeps (its latest, oldest
    first) and ``notice_count`` (all of them)."""
    query = sa.select(alert_incidents).order_by(alert_incidents.c.id.desc()).limit(limit)
    with store.transaction() as conn:
        incidents = [row._asdict() for row in conn.execute(query)]
        ids = [incident["id"] for incident in incidents]
        notices: dict[int, list[dict[str, Any]]] = defaultdict(list)
        if ids:
            rows = conn.execute(
                sa.select(alert_notices)
                .where(alert_notices.c.incident_id.in_(ids))
                .order_by(alert_notices.c.id)
            )
            for row in rows:
                notices[row.incident_id].append(row._asdict())
    for incident in incidents:
        incident["notices"] = notices.get(incident["id"], [])
    return incidents
