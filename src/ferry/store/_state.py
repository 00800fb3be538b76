"""Schemes, window cursors, runs and API calls: the store's small tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ferry._redact import redact
from ferry.store._models import API_CALL_STATUSES, RUN_KINDS, RUN_STATUSES
from ferry.store._schema import ID_LENGTH, api_calls, run_events, runs, schemes, window_cursors
from ferry.store._sql import aware, upsert
from ferry.store.codec import dumps, loads, to_text

__all__ = [
    "add_run_event",
    "count_run_events",
    "fail_running_runs",
    "finish_run",
    "get_cursor",
    "get_run",
    "get_scheme",
    "list_api_calls",
    "list_run_events",
    "list_runs",
    "list_schemes",
    "log_api_calls",
    "save_scheme",
    "scheme_flags",
    "set_scheme_enabled",
    "start_run",
]

API_CALL_FIELDS = {
    "run_id",
    "scheme_id",
    "connection",
    "api",
    "started_at",
    "duration_ms",
    "status",
    "error_code",
    "error_message",
    "records",
}


# -- schemes -----------------------------------------------------------------------------------


def save_scheme(
    conn: sa.Connection, scheme_id: str, name: str, definition: dict[str, Any], now: datetime
) -> None:
    """Insert or replace a scheme's name and definition (``enabled`` and ``created_at`` kept)."""
    if not scheme_id or len(scheme_id) > ID_LENGTH:
        raise ValueError(f"scheme id must be 1-{ID_LENGTH} characters (got {scheme_id!r:.80})")
    values = {
        "id": scheme_id,
        "name": name[:255],
        "definition": dumps(definition),
        "enabled": True,
        "created_at": now,
        "updated_at": now,
    }
    upsert(conn, schemes, values, update=["name", "definition", "updated_at"])


def _scheme_dict(row: sa.Row[Any]) -> dict[str, Any]:
    out = row._asdict()
    out["definition"] = loads(out["definition"])
    out["enabled"] = bool(out["enabled"])
    return out


def get_scheme(conn: sa.Connection, scheme_id: str) -> dict[str, Any] | None:
    """``{id, name, definition, enabled, created_at, updated_at}`` or ``None``."""
    row = conn.execute(sa.select(schemes).where(schemes.c.id == scheme_id)).first()
    return None if row is None else _scheme_dict(row)


def list_schemes(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every scheme, by id."""
    return [_scheme_dict(row) for row in conn.execute(sa.select(schemes).order_by(schemes.c.id))]


def scheme_flags(conn: sa.Connection) -> dict[str, bool]:
    """``{scheme_id: enabled}`` of every scheme, by id."""
    query = sa.select(schemes.c.id, schemes.c.enabled).order_by(schemes.c.id)
    return {sid: bool(enabled) for sid, enabled in conn.execute(query)}


def set_scheme_enabled(conn: sa.Connection, scheme_id: str, enabled: bool, now: datetime) -> bool:
    """Enable or disable a scheme; ``False`` if there is no such scheme."""
    stmt = sa.update(schemes).where(schemes.c.id == scheme_id).values(enabled=enabled, updated_at=now)
    return conn.execute(stmt).rowcount > 0


# -- cursors -----------------------------------------------------------------------------------


def get_cursor(conn: sa.Connection, scheme_id: str, kind: str) -> datetime | None:
    """The saved window position, tz-aware UTC, or ``None``."""
    query = sa.select(window_cursors.c.position).where(
        window_cursors.c.scheme_id == scheme_id, window_cursors.c.kind == kind
    )
    return conn.execute(query).scalar_one_or_none()


# -- runs --------------------------------------------------------------------------------------


def start_run(conn: sa.Connection, scheme_id: str, kind: str, now: datetime) -> int:
    """Insert a ``running`` run and return its id."""
    if kind not in RUN_KINDS:
        raise ValueError(f"run kind must be one of {', '.join(RUN_KINDS)} (got {kind!r})")
    stmt = sa.insert(runs).values(scheme_id=scheme_id, kind=kind, status="running", started_at=now)
    run_id = conn.execute(stmt).inserted_primary_key[0]  # type: ignore[index]
    return int(run_id)


def finish_run(
    conn: sa.Connection,
    run_id: int,
    status: str,
    counts: dict[str, Any],
    error: str | None,
    windows: list[dict[str, Any]] | None,
    now: datetime,
    placeholders: dict[str, Any] | None = None,
) -> None:
    """Close a run with its outcome."""
    if status not in RUN_STATUSES[1:]:
        raise ValueError(
            f"a finished run's status must be one of {', '.join(RUN_STATUSES[1:])} (got {status!r})"
        )
    stmt = (
        sa.update(runs)
        .where(runs.c.id == run_id)
        .values(
            status=status,
            finished_at=now,
            counts=dumps(counts),
            error=to_text(error),
            windows=None if windows is None else redact(dumps(windows)),
            placeholders=None if placeholders is None else dumps(placeholders),
        )
    )
    if conn.execute(stmt).rowcount == 0:
        raise ValueError(f"run {run_id} does not exist")


def fail_running_runs(conn: sa.Connection, scheme_id: str, error: str, now: datetime) -> int:
    """Mark a scheme's runs still ``running`` as ``failed`` (their process died)."""
    stmt = (
        sa.update(runs)
        .where(runs.c.scheme_id == scheme_id, runs.c.status == "running")
        .values(status="failed", finished_at=now, error=to_text(error))
    )
    return conn.execute(stmt).rowcount


def _run_dict(row: sa.Row[Any]) -> dict[str, Any]:
    out = row._asdict()
    out["counts"] = loads(out["counts"]) if out["counts"] is not None else {}
    out["windows"] = loads(out["windows"]) if out["windows"] is not None else []
    out["placeholders"] = loads(out["placeholders"]) if out["placeholders"] is not None else None
    return out


def list_runs(conn: sa.Connection, scheme_id: str | None, limit: int) -> list[dict[str, Any]]:
    """Most recent runs first."""
    query = sa.select(runs).order_by(runs.c.id.desc()).limit(max(limit, 0))
    if scheme_id is not None:
        query = query.where(runs.c.scheme_id == scheme_id)
    return [_run_dict(row) for row in conn.execute(query)]


def get_run(conn: sa.Connection, run_id: int) -> dict[str, Any] | None:
    """One run as a dict (``counts`` and ``windows`` decoded), or ``None``."""
    row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
    return None if row is None else _run_dict(row)


def _events_of(run_id: int, levels: Sequence[str] | None) -> Any:
    where = run_events.c.run_id == run_id
    return where if levels is None else sa.and_(where, run_events.c.level.in_(list(levels)))


def add_run_event(conn: sa.Connection, run_id: int, level: str, message: str, at: datetime) -> None:
    """Append one line to the run's log."""
    conn.execute(sa.insert(run_events).values(run_id=run_id, at=at, level=level, message=message))


def list_run_events(
    conn: sa.Connection, run_id: int, offset: int, limit: int | None, levels: Sequence[str] | None
) -> list[dict[str, Any]]:
    """``limit`` (``None``: all) of the run's events (of ``levels``, when given) from ``offset``,
    oldest first."""
    c = run_events.c
    query = sa.select(c.id, c.at, c.level, c.message).where(_events_of(run_id, levels)).order_by(c.id)
    if offset > 0:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(max(limit, 0))
    return [row._asdict() for row in conn.execute(query)]


def count_run_events(conn: sa.Connection, run_id: int, levels: Sequence[str] | None) -> int:
    """How many events (of ``levels``, when given) the run logged."""
    query = sa.select(sa.func.count()).select_from(run_events).where(_events_of(run_id, levels))
    return int(conn.execute(query).scalar_one())


# -- API calls ---------------------------------------------------------------------------------


def _api_call_row(call: dict[str, Any], now: datetime) -> dict[str, Any]:
    unknown = sorted(set(call) - API_CALL_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown API call field(s) {', '.join(unknown)}; known: {', '.join(sorted(API_CALL_FIELDS))}"
        )
    missing = [name for name in ("connection", "api") if not call.get(name)]
    if missing:
        raise ValueError(f"API call is missing {', '.join(missing)}: {call!r:.200}")
    status = call.get("status") or ("error" if call.get("error_code") or call.get("error_message") else "ok")
    if status not in API_CALL_STATUSES:
        raise ValueError(f"API call status must be one of {', '.join(API_CALL_STATUSES)} (got {status!r})")
    started = aware(call.get("started_at"), "started_at") or now
    duration = call.get("duration_ms")
    code = call.get("error_code")
    return {
        "run_id": call.get("run_id"),
        "scheme_id": call.get("scheme_id"),
        "connection": str(call["connection"])[:191],
        "api": str(call["api"])[:255],
        "started_at": started,
        "duration_ms": None if duration is None else round(duration),
        "status": status,
        "error_code": None if code is None else str(code)[:64],
        "error_message": to_text(call.get("error_message")),
        "records": int(call.get("records") or 0),
    }


def log_api_calls(conn: sa.Connection, calls: Sequence[dict[str, Any]], now: datetime) -> None:
    """Insert API call records in one ``executemany``."""
    rows = [_api_call_row(call, now) for call in calls]
    if rows:
        conn.execute(sa.insert(api_calls), rows)


def list_api_calls(conn: sa.Connection, scheme_id: str | None, limit: int) -> list[dict[str, Any]]:
    """Most recent API calls first."""
    query = sa.select(api_calls).order_by(api_calls.c.id.desc()).limit(max(limit, 0))
    if scheme_id is not None:
        query = query.where(api_calls.c.scheme_id == scheme_id)
    return [row._asdict() for row in conn.execute(query)]
