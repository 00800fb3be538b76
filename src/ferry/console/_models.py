"""The console's JSON shapes (pydantic), shared by the API and the pages.

Times are tz-aware UTC in JSON (ISO 8601); the pages show them in Asia/Shanghai.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from ferry.console._limits import MAX_KEY, MAX_REPLAY_KEYS, Key, Time

__all__ = [
    "ActionResult",
    "ActivityModel",
    "AlertIncident",
    "AlertNotice",
    "Alerts",
    "ApiBucketModel",
    "ApiStatModel",
    "Attempt",
    "Dashboard",
    "DeliveryModel",
    "EnableRequest",
    "FileIssues",
    "FlowStepModel",
    "IssueModel",
    "LoginRequest",
    "MappingRowModel",
    "PreviewModel",
    "PreviewRecord",
    "RecordDetail",
    "RecordKey",
    "RecordPage",
    "RecordSummary",
    "ReplayRequest",
    "ReplayResult",
    "RunDetail",
    "RunEvent",
    "RunSummary",
    "SchemeDetail",
    "SchemeSummary",
    "SessionInfo",
    "ValueMapModel",
]


class SessionInfo(BaseModel):
    """Who is logged in, and the CSRF token to send as ``X-CSRF-Token`` with every POST."""

    authenticated: bool
    user: str | None = None
    csrf_token: str


class LoginRequest(BaseModel):
    username: str = Field(max_length=MAX_KEY)
    password: str = Field(max_length=1024)


class ActionResult(BaseModel):
    ok: bool
    message: str
    key: str = Field("", description="The message's label key, for showing it in another language.")
    params: dict[str, str] = Field(default_factory=dict, description="The values the message names.")


class EnableRequest(BaseModel):
    enabled: bool


class RunSummary(BaseModel):
    id: int
    scheme_id: str
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    counts: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    placeholders: dict[str, Any] | None = Field(
        None,
        description="Records mapped and, per target field, those in which a placeholder found nothing: "
        '{"mapped": 399, "missing": {"outer_id": 399}}; null when the run mapped nothing.',
    )


class RunEvent(BaseModel):
    at: datetime
    level: str
    message: str


class RunDetail(RunSummary):
    windows: list[dict[str, Any]] = Field(default_factory=list, description="Per-window detail of the run.")
    events: list[RunEvent] = Field(default_factory=list, description="The run's log lines.")


class SchemeSummary(BaseModel):
    id: str
    name: str
    enabled: bool
    loaded: bool = Field(description="Whether the console has the scheme's file (flow, preview, run).")
    running: bool = False
    source_type: str = ""
    source_api: str = ""
    target_type: str = ""
    target_api: str = ""
    counts: dict[str, int] = Field(default_factory=dict, description="Ledger rows by status.")
    last_run: RunSummary | None = None
    drift: int = Field(0, description="Open schema drift events (`ferry drift accept` accepts them).")


class ActivityModel(BaseModel):
    hours: list[datetime]
    received: list[int]
    delivered: list[int]
    failed: list[int]


class FileIssues(BaseModel):
    path: str
    issues: list[IssueModel]


class Dashboard(BaseModel):
    activity: ActivityModel
    schemes: list[SchemeSummary]
    broken_files: list[FileIssues] = Field(default_factory=list)


class IssueModel(BaseModel):
    path: str
    message: str
    got: str | None = None
    hint: str | None = None


class FlowStepModel(BaseModel):
    """One box of the flow diagram: ``kind`` is source, filter, flatten, map or target; its
    ``lines`` quote the scheme's metadata (API names, keys, conditions) as written."""

    kind: str
    lines: list[str]
    fields: int | None = Field(None, description="The map step: how many target fields are mapped.")
    active: bool = True
    """False when the step does nothing (no condition, no beatFlat)."""


class MappingRowModel(BaseModel):
    """One field of ``request``/``otherRequest``, flattened with its depth and path."""

    path: str
    depth: int
    field: str
    label: str
    type: str
    value: str
    parser: str
    required: bool
    issues: list[str] = Field(default_factory=list)


class ValueMapModel(BaseModel):
    """One value map (值映射) of a scheme, read-only: where it comes from, its size, its unmatched
    policy, its version and its first entries."""

    name: str
    origin: str
    entries: int
    unmatched: str
    version: str
    sample: list[tuple[str, str]] = Field(default_factory=list)
    """Up to :data:`VALUE_MAP_SAMPLE` entries, key and value as text."""


VALUE_MAP_SAMPLE = 20


class SchemeDetail(BaseModel):
    summary: SchemeSummary
    schedule: dict[str, str | None] = Field(default_factory=dict)
    flow: list[FlowStepModel] = Field(default_factory=list)
    mapping: list[MappingRowModel] = Field(default_factory=list)
    options: list[MappingRowModel] = Field(default_factory=list)
    value_maps: list[ValueMapModel] = Field(default_factory=list)
    issues: list[IssueModel] = Field(default_factory=list)
    drift: list[dict[str, Any]] = Field(
        default_factory=list, description="The scheme's open schema drift events, newest first."
    )


class PreviewRecord(BaseModel):
    record_id: str
    payload: Any = None
    error: str | None = None


class DeliveryModel(BaseModel):
    api: str
    method: str
    record_ids: list[str]
    body: Any = None


class PreviewModel(BaseModel):
    scheme_id: str
    records: list[PreviewRecord]
    deliveries: list[DeliveryModel]
    error: str | None = None


class RecordSummary(BaseModel):
    scheme_id: str
    record_id: str
    number: str | None = None
    status: str
    attempts: int
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None


class RecordPage(BaseModel):
    records: list[RecordSummary]
    offset: int
    limit: int
    more: bool


class Attempt(BaseModel):
    attempt: int
    status: str
    at: datetime
    run_id: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


class RecordDetail(RecordSummary):
    content: dict[str, Any]
    mapped: Any = None
    mapping_error: str | None = None
    target_response: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    run_id: int | None = None
    history: list[Attempt] = Field(default_factory=list)


class RecordKey(BaseModel):
    scheme_id: Key
    record_id: Key


class ReplayRequest(BaseModel):
    """Either ``records`` (selected rows) or a filter: a status, a record id or number (exact,
    or a prefix ending in ``*``) or a time range, optionally narrowed to one scheme.

    A filter that selects everything is refused: none given, only a scheme, or an id or number
    that is blank or only wildcards (``*``, ``%``, ``**``). A time without a zone is in the
    scheme's zone (Asia/Shanghai when no loaded scheme is named).
    """

    records: list[RecordKey] = Field(default_factory=list, max_length=MAX_REPLAY_KEYS)
    scheme_id: Key | None = None
    status: list[str] = Field(default_factory=list, max_length=10)
    record_id: Key | None = None
    number: Key | None = None
    since: Time | None = None
    until: Time | None = None
    deliver: bool = Field(True, description="Start delivering the replayed records right away.")


class ReplayResult(BaseModel):
    replayed: int
    kept: int = Field(
        0,
        description="Dead letters from collecting that matched and were left as they are (a record "
        "without an id or that could not be read has nothing to deliver again).",
    )
    messages: list[str] = Field(default_factory=list)
    started: list[ActionResult] = Field(
        default_factory=list, description="The deliveries started after the replay, one per scheme."
    )


class ApiBucketModel(BaseModel):
    start: datetime
    calls: int
    errors: int
    throttled: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class ApiStatModel(BaseModel):
    connection: str
    api: str
    calls: int
    errors: int
    throttled: int = 0
    """Throttling answers (the vendor's rate limit, waited out): not counted in ``errors``."""
    error_rate: float
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    buckets: list[ApiBucketModel] = Field(default_factory=list)


class AlertNotice(BaseModel):
    channel: str
    kind: str
    at: datetime
    ok: bool
    error: str | None = None
    skipped: bool = False
    """Not sent: the channel is misconfigured (``error`` names what it lacks)."""


class AlertIncident(BaseModel):
    id: int
    rule: str
    subject: str
    status: str
    severity: str
    summary: str
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None = None
    notice_count: int = 0
    """Every notice recorded for the incident; ``notices`` holds only the latest."""
    notices: list[AlertNotice] = Field(default_factory=list)


class Alerts(BaseModel):
    incidents: list[AlertIncident]
    rules: list[dict[str, str]]


FileIssues.model_rebuild()
