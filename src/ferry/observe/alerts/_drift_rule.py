"""The ``schema_drift`` rule: a scheme's open schema drift events (:mod:`ferry.store.drift`).

It fires for a scheme while the scheme has drift nobody accepted: a source field that appeared,
disappeared or changed type under ``settings.schema_drift`` warn, quarantine or fail. The
incident stays open (one alert) however many pages or runs meet the same drift, and recovers
once ``ferry drift accept SCHEME`` accepts it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ferry.store import drift as stored

if TYPE_CHECKING:
    from ferry.observe.alerts.config import SchemaDriftRule
    from ferry.observe.alerts.rules import Finding, RuleContext

__all__ = ["schema_drift"]

SHOWN = 5
"""Drifted fields named in a summary; the rest are counted."""


def _describe(event: dict[str, Any]) -> str:
    if event["change"] == "appeared":
        return f"{event['field']} appeared ({event['after']})"
    if event["change"] == "disappeared":
        return f"{event['field']} disappeared (was {event['before']})"
    return f"{event['field']} changed type: {event['before']} -> {event['after']}"


def _summary(events: list[dict[str, Any]]) -> str:
    shown = "; ".join(_describe(e) for e in events[:SHOWN])
    more = f"; and {len(events) - SHOWN} more" if len(events) > SHOWN else ""
    runs = sorted({e["run_id"] for e in events if e["run_id"]})
    seen = f" (run {', '.join(f'#{r}' for r in runs[-3:])})" if runs else ""
    return f"{len(events)} source field(s) drifted (结构漂移 {len(events)} 处){seen}: {shown}{more}"


def schema_drift(rule: SchemaDriftRule, conn: sa.Connection, ctx: RuleContext) -> list[Finding]:
    """One finding per watched scheme, firing while it has open drift events."""
    from ferry.observe.alerts.rules import Finding

    watched = [sid for sid in ctx.scheme_ids if rule.watches(sid)]
    by_scheme: dict[str, list[dict[str, Any]]] = {}
    for event in stored.open_events(conn, watched):
        by_scheme.setdefault(event["scheme_id"], []).append(event)
    out = []
    for sid in watched:
        events = by_scheme.get(sid, [])
        hint = f"ferry drift show {sid}; ferry drift accept {sid}"
        summary = (
            _summary(events) if events else "no open schema drift: the source's fields are known (已确认)"
        )
        facts = {"open": len(events), "fields": [e["field"] for e in events[:SHOWN]]}
        out.append(Finding(rule.name, rule.type, sid, bool(events), summary, rule.severity, hint, facts))
    return out
