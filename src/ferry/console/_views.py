"""What each console screen shows, built once for both the pages and the JSON API."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from ferry.console import _queries
from ferry.console._context import Console
from ferry.console._flow import connection_label, flow_steps, mapping_rows
from ferry.console._i18n import say
from ferry.console._limits import local_time, zone_of
from ferry.console._models import (
    VALUE_MAP_SAMPLE,
    ActionResult,
    ActivityModel,
    AlertIncident,
    Alerts,
    ApiStatModel,
    Attempt,
    Dashboard,
    DeliveryModel,
    FileIssues,
    IssueModel,
    PreviewModel,
    PreviewRecord,
    RecordDetail,
    RecordPage,
    RecordSummary,
    ReplayRequest,
    ReplayResult,
    RunDetail,
    RunEvent,
    RunSummary,
    SchemeDetail,
    SchemeSummary,
    ValueMapModel,
)
from ferry.errors import FerryError, Issue
from ferry.expr.valuemap import ValueMap
from ferry.scheme.model import Scheme
from ferry.store import RECORD_STATUSES, LedgerRow, selects_everything
from ferry.store.drift import OPEN, list_drift, open_drift

__all__ = [
    "alerts",
    "api_assets",
    "dashboard",
    "list_runs",
    "map_record",
    "record_detail",
    "replay",
    "run_detail",
    "run_now",
    "scheme_detail",
    "scheme_preview",
    "scheme_summaries",
    "search_records",
    "set_enabled",
    "start_run",
]


def issue_model(issue: Issue) -> IssueModel:
    got = None if issue.got is None else repr(issue.got)[:200]
    return IssueModel(path=issue.path, message=issue.message, got=got, hint=issue.hint)


def run_summary(run: dict[str, Any]) -> RunSummary:
    return RunSummary.model_validate(run, from_attributes=False)


def _summary(
    console: Console,
    scheme_id: str,
    stored: dict[str, Any] | None,
    scheme: Scheme | None,
    counts: dict[str, dict[str, int]],
    runs: dict[str, dict[str, Any]],
) -> SchemeSummary:
    summary = SchemeSummary(
        id=scheme_id,
        name=scheme.name if scheme is not None else (stored or {}).get("name", scheme_id),
        enabled=bool(stored["enabled"]) if stored is not None else bool(scheme and scheme.enabled),
        loaded=scheme is not None,
        running=console.running(scheme_id),
        counts=counts.get(scheme_id, dict.fromkeys(RECORD_STATUSES, 0)),
        last_run=run_summary(runs[scheme_id]) if scheme_id in runs else None,
    )
    if scheme is not None:
        summary.source_type = connection_label(scheme.source_connection, scheme.source.connection)[0]
        summary.target_type = connection_label(scheme.target_connection, scheme.target.connection)[0]
        summary.source_api = scheme.source_meta.api if scheme.source_meta else ""
        summary.target_api = scheme.target_meta.api if scheme.target_meta else ""
    elif stored is not None:
        definition = stored.get("definition") or {}
        for side in ("source", "target"):
            conn = (definition.get(side) or {}).get("connection")
            kind = conn.get("type") if isinstance(conn, dict) else None
            setattr(summary, f"{side}_type", str(kind or "?"))
    return summary


def scheme_summaries(console: Console) -> list[SchemeSummary]:
    """Every scheme the console loaded or the store knows, by id."""
    loaded = console.loaded()
    stored = {s["id"]: s for s in console.store.list_schemes()}
    counts = _queries.status_by_scheme(console.store)
    runs = _queries.last_runs(console.store)
    ids = sorted(set(loaded) | set(stored))
    summaries = [_summary(console, i, stored.get(i), loaded.get(i), counts, runs) for i in ids]
    drifted = open_drift(console.store)
    for summary in summaries:
        summary.drift = drifted.get(summary.id, (0, 0))[0]
    return summaries


def dashboard(console: Console, now: datetime | None = None) -> Dashboard:
    """Activity over the last 24 hours and every scheme's status and last run."""
    act = _queries.activity(console.store, now or datetime.now(UTC))
    broken = [
        FileIssues(path=path, issues=[issue_model(i) for i in issues])
        for path, issues in sorted(console.broken_files().items())
    ]
    return Dashboard(
        activity=ActivityModel(
            hours=act.hours, received=act.received, delivered=act.delivered, failed=act.failed
        ),
        schemes=scheme_summaries(console),
        broken_files=broken,
    )


def _compiled_values(scheme: Scheme) -> dict[str, Any]:
    """The values of the scheme's plan (compiled once, by the loader), for validation to take
    instead of compiling them again; none when the scheme does not compile (loaded unchecked)."""
    from ferry.transform.plan import compile_scheme

    try:
        return dict(compile_scheme(scheme).values)
    except FerryError:
        return {}


def scheme_detail(console: Console, scheme_id: str) -> SchemeDetail | None:
    """Flow, mapping table and validation of one scheme; ``None`` when unknown."""
    summary = next((s for s in scheme_summaries(console) if s.id == scheme_id), None)
    if summary is None:
        return None
    scheme = console.loaded().get(scheme_id)
    detail = SchemeDetail(summary=summary)
    if summary.drift:
        detail.drift = list_drift(console.store, scheme_id, status=OPEN, limit=50)
    if scheme is None:
        return detail
    from ferry.scheme.validate import validate_scheme

    try:
        issues = validate_scheme(scheme, compiled=_compiled_values(scheme))
    except FerryError as exc:
        issues = [Issue("", str(exc))]
    detail.issues = [issue_model(i) for i in issues]
    detail.schedule = scheme.schedule.model_dump()
    detail.flow = flow_steps(scheme)
    if scheme.target_meta is not None:
        detail.mapping = mapping_rows(scheme.target_meta.request, "target.request", issues)
        detail.options = mapping_rows(scheme.target_meta.otherRequest, "target.otherRequest", issues)
    detail.value_maps = [value_map_model(table) for _, table in sorted(scheme.value_maps.items())]
    return detail


def value_map_model(table: ValueMap) -> ValueMapModel:
    """A :class:`~ferry.expr.valuemap.ValueMap` as the scheme page lists it (read-only)."""
    sample = [(key, _text(value)) for key, value in islice(table.entries.items(), VALUE_MAP_SAMPLE)]
    return ValueMapModel(
        name=table.name,
        origin=table.origin,
        entries=len(table.entries),
        unmatched=table.unmatched.describe(),
        version=table.version,
        sample=sample,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def scheme_preview(console: Console, scheme_id: str, limit: int = 5) -> PreviewModel | None:
    """Map and pack the scheme's newest ledger records as a run would; write nothing."""
    scheme = console.loaded().get(scheme_id)
    if scheme is None:
        return None
    from ferry.engine.preview import preview

    try:
        result = preview(scheme, console.store, limit=limit, from_ledger=True)
    except FerryError as exc:
        return PreviewModel(scheme_id=scheme_id, records=[], deliveries=[], error=str(exc))
    records = [PreviewRecord(record_id=rid, payload=payload) for rid, payload in result.records]
    records += [PreviewRecord(record_id=rid, error=why) for rid, why in result.failures.items()]
    deliveries = [
        DeliveryModel(api=d.api, method=d.method, record_ids=d.record_ids, body=d.body)
        for d in result.deliveries
    ]
    return PreviewModel(scheme_id=scheme_id, records=records, deliveries=deliveries)


def set_enabled(console: Console, scheme_id: str, enabled: bool) -> ActionResult:
    """Switch a scheme on or off in the store (saving a loaded scheme first if it never ran)."""
    store = console.store
    named = {"scheme": scheme_id}
    if store.get_scheme(scheme_id) is None:
        scheme = console.loaded().get(scheme_id)
        if scheme is None:
            return _said(False, "msg.unknown_scheme", named)
        from ferry.engine.runner import scheme_definition

        store.save_scheme(scheme.id, scheme.name, scheme_definition(scheme))
    store.set_scheme_enabled(scheme_id, enabled)
    return _said(True, "msg.enabled" if enabled else "msg.disabled", named)


def _said(ok: bool, key: str, params: dict[str, str]) -> ActionResult:
    return ActionResult(ok=ok, message=say(key, "en", params), key=key, params=params)


def start_run(console: Console, scheme_id: str, *, collect: bool = True) -> ActionResult:
    """Start a run of ``scheme_id`` (``collect=False``: deliver only) with this console's runner,
    or ask the scheduler (whose answer is passed on as it is)."""
    if console.runner is not None:
        started = console.runner.start(scheme_id, collect=collect)
        return _said(started.ok, started.key, started.params)
    answer = console.run_now(scheme_id) if collect else console.deliver_now(scheme_id)
    return ActionResult(ok=True, message=answer, key="msg.scheduler", params={"detail": answer})


def run_now(console: Console, scheme_id: str) -> ActionResult:
    """Start a run of ``scheme_id`` (the scheduler's, or this console's runner)."""
    return start_run(console, scheme_id, collect=True)


def list_runs(console: Console, scheme_id: str | None = None, limit: int = 100) -> list[RunSummary]:
    """The newest runs first."""
    return [run_summary(r) for r in console.store.list_runs(scheme_id, limit=limit)]


RUN_LOG_LIMIT = 2000
"""Most log lines :func:`run_detail` returns (the run page pages through all of them)."""


def run_detail(console: Console, run_id: int) -> RunDetail | None:
    """One run with its windows and its first :data:`RUN_LOG_LIMIT` log lines."""
    run = console.store.get_run(run_id)
    if run is None:
        return None
    events = [RunEvent.model_validate(e) for e in console.store.list_run_events(run_id, limit=RUN_LOG_LIMIT)]
    return RunDetail.model_validate({**run, "events": events})


def _record_summary(row: LedgerRow) -> RecordSummary:
    return RecordSummary.model_validate(row, from_attributes=True)


def search_records(
    console: Console,
    *,
    scheme_id: str | None = None,
    status: Sequence[str] = (),
    record_id: str | None = None,
    number: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RecordPage:
    """Ledger rows matching every given filter, most recently updated first; a time without a
    zone is in the scheme's zone (Asia/Shanghai when ``scheme_id`` names no loaded scheme).

    Raises:
        ValueError: An unknown status.
    """
    zone = zone_of(console.loaded(), scheme_id)
    rows = console.store.find_records(
        scheme_id or None,
        status=list(status) or None,
        record_id=record_id or None,
        number=number or None,
        since=local_time(since, zone),
        until=local_time(until, zone),
        limit=limit + 1,
        offset=offset,
    )
    return RecordPage(
        records=[_record_summary(r) for r in rows[:limit]], offset=offset, limit=limit, more=len(rows) > limit
    )


def map_record(scheme: Scheme, console: Console, row: LedgerRow) -> tuple[Any, str | None]:
    """``(payload, None)`` as delivery would map ``row`` now, or ``(None, reason)``."""
    from ferry.engine.counts import RunCounts
    from ferry.engine.deliverer import Deliverer

    try:
        batch = Deliverer(scheme, None, console.store, RunCounts()).prepare([row], datetime.now(UTC))
    except FerryError as exc:
        return None, str(exc)
    if batch.failures:
        return None, next(iter(batch.failures.values()))
    return (batch.items[0][1] if batch.items else None), None


def record_detail(console: Console, scheme_id: str, record_id: str) -> RecordDetail | None:
    """A ledger row with its content, mapped payload, response, error and attempt history."""
    row = console.store.get_record(scheme_id, record_id)
    if row is None:
        return None
    detail = RecordDetail.model_validate(row, from_attributes=True)
    detail.history = [Attempt.model_validate(h) for h in console.store.record_history(scheme_id, record_id)]
    scheme = console.loaded().get(scheme_id)
    if scheme is None:
        detail.mapping_error = "scheme not loaded in this console: cannot map"
    else:
        detail.mapped, detail.mapping_error = map_record(scheme, console, row)
    return detail


REPLAY_LIMIT = 10_000
"""Most records one replay by filter sends back (the newest matching ones)."""


def _matching(console: Console, request: ReplayRequest) -> Sequence[LedgerRow]:
    """The newest :data:`REPLAY_LIMIT` records matching the request's filter.

    Raises:
        ValueError: The filter selects everything (see :func:`replay`).
    """
    record_id = None if selects_everything(request.record_id) else request.record_id
    number = None if selects_everything(request.number) else request.number
    if not (request.status or record_id or number or request.since or request.until):
        raise ValueError(
            "select records or give at least one filter besides the scheme: a status, a record id "
            "or number (blank or wildcards only, such as * or %, select everything and are no "
            "filter), or a time range; a replay of everything is refused"
        )
    zone = zone_of(console.loaded(), request.scheme_id)
    return console.store.find_records(
        request.scheme_id or None,
        status=list(request.status) or None,
        record_id=record_id,
        number=number,
        since=local_time(request.since, zone),
        until=local_time(request.until, zone),
        limit=REPLAY_LIMIT,
    )


def replay(console: Console, request: ReplayRequest) -> ReplayResult:
    """Send the selected records, or those matching the filter, back to ``pending``; then,
    with ``deliver``, start delivering each scheme concerned.

    Raises:
        ValueError: Neither records nor a real filter given (a scheme alone, or an id or number
            that selects everything, is none: :func:`~ferry.store.selects_everything`), or an
            unknown status.
    """
    targets: dict[str, list[str]] = defaultdict(list)
    status = list(request.status) or None
    keys = request.records or _matching(console, request)
    for key in keys:
        targets[key.scheme_id].append(key.record_id)
    total, kept, started = 0, 0, []
    for scheme_id, ids in sorted(targets.items()):
        count = console.store.replay(scheme_id, record_ids=ids, status=None if request.records else status)
        total, kept = total + count, kept + count.kept
        if count and request.deliver:
            started.append(start_run(console, scheme_id, collect=False))
    return ReplayResult(replayed=total, kept=kept, messages=[s.message for s in started], started=started)


def api_assets(console: Console, now: datetime | None = None, hours: int = 24) -> list[ApiStatModel]:
    """Calls, error rate and latency percentiles per connection and API."""
    stats = _queries.api_stats(console.store, now or datetime.now(UTC), hours=hours, buckets=min(hours, 48))
    return [
        ApiStatModel.model_validate(
            {**vars(s), "error_rate": s.error_rate, "buckets": [vars(b) for b in s.buckets]}
        )
        for s in stats
    ]


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def alerts(console: Console) -> Alerts:
    """Incident history with notices, and the rules."""
    incidents = [AlertIncident.model_validate(i) for i in _queries.alert_history(console.store)]
    rules: list[dict[str, str]] = []
    if console.alert_rules is not None:
        rules = [{str(k): _shown(v) for k, v in rule.items()} for rule in console.alert_rules()]
    return Alerts(incidents=incidents, rules=rules)


def scrubbed(model: Any, redact: Callable[[str], str]) -> Any:
    """A copy of a pydantic model with every secret masked in its JSON form."""
    return type(model).model_validate_json(redact(model.model_dump_json()))
