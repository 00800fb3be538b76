"""The native scheme file: one integration, its connections, schedules, window and metadata.

```yaml
id: demo-orders                 # the ledger key; lookups in other schemes use it
name: Demo orders -> SQLite
source:
  connection: demo_api          # a name from `connections` (or an inline mapping)
  metadata: orders.source.json  # QEasy source metadata, inline or a path relative to this file
target:
  connection: warehouse
  metadata: orders.target.json
connections: connections.yaml   # a path or an inline mapping name -> connection
schedule: {source: "*/5 * * * *", target: "*/5 * * * *", omissionRemedy: "2 */2 * * *"}
window: {start: "2024-01-01 00:00:00", step: 1d, lookback: 10m, lag: 1m, max_span: 7d}
settings: {on_change: redeliver, lookup_scheme: demo-products, page_size: 200, schema_drift: warn}
maps: {shops: {file: maps/shops.csv, from: code, to: name, unmatched: quarantine}}
quality:                        # data-quality rules (ferry.transform.quality)
  source: [{field: qty, range: {min: 0}, action: quarantine}]
  target: [{name: sku-known, field: sku, lookup: {scheme: demo-products, field: sku}, action: warn}]
```
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from ferry._text import shown
from ferry.connectors.specs import ConnectionSpec
from ferry.errors import Issue
from ferry.scheme.metadata import SourceMetadata, TargetMetadata

__all__ = [
    "CHECKS",
    "DEFAULT_RETRY_LADDER",
    "MAX_DURATION",
    "QUALITY_ACTIONS",
    "SHANGHAI",
    "QualityRule",
    "QualitySpec",
    "ScheduleSpec",
    "Scheme",
    "SchemeSettings",
    "SideSpec",
    "UnmatchedDefault",
    "ValueMapSpec",
    "WindowSpec",
    "parse_duration",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_RETRY_LADDER = ("20s", "5m", "1h", "4h", "20h")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


MAX_DURATION = timedelta(days=36500)
"""Longest duration a scheme may write (100 years): a window step or wait beyond it is a typo."""


def parse_duration(value: Any) -> timedelta:
    """``"20s"``, ``"5m"``, ``"1h"``, ``"7d"``, ``"2w"``, a number of seconds, or a timedelta.

    Raises:
        ValueError: Not a duration, not finite, or longer than :data:`MAX_DURATION`.
    """
    if isinstance(value, timedelta):
        return value
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            unit = m.group(2).lower() if m.group(2) else None
            seconds = float(m.group(1)) * _UNITS[unit]
    if seconds is None:
        raise ValueError(
            f"invalid duration {shown(value)}; write e.g. 30s, 5m, 1h, 7d or a number of seconds"
        )
    if not abs(seconds) <= MAX_DURATION.total_seconds():  # also NaN
        raise ValueError(f"duration {shown(value, 40)} is longer than {MAX_DURATION.days:,} days")
    return timedelta(seconds=seconds)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SideSpec(_Strict):
    """One side of the scheme: where it connects and what its metadata says."""

    connection: str | dict[str, Any] = Field(
        description="Connection name (from `connections`) or inline spec."
    )
    metadata: Any = Field(description="QEasy metadata object, or a path to a .json/.jsonc/.yaml file.")


class ScheduleSpec(_Strict):
    """Crontabs, as QEasy sets them per side (5-field Linux cron)."""

    source: str | None = Field(None, description="When to collect (e.g. '2 */2 * * *').")
    target: str | None = Field(None, description="When to deliver pending records.")
    omissionRemedy: str | None = Field(None, description="When to run the wider 补漏 sweep.")


class WindowSpec(_Strict):
    """The incremental window planner's settings. Windows are half-open ``[start, end)``."""

    start: datetime | None = Field(
        None, description="First LAST_SYNC_TIME when the scheme has no cursor yet."
    )
    step: timedelta = Field(timedelta(days=1), description="Width of each incremental window.")
    lookback: timedelta = Field(
        timedelta(0), description="Re-read this much before the saved cursor (late rows)."
    )
    lag: timedelta = Field(timedelta(0), description="Stay this far behind now (rows still being written).")
    max_span: timedelta | None = Field(
        None, description="Split windows longer than this (also the connector's limit)."
    )

    @field_validator("step", "lookback", "lag", "max_span", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = datetime.fromisoformat(value.strip().replace("/", "-"))
        return value

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=SHANGHAI)
        if value is not None and not 1970 <= value.year < 9000:
            raise ValueError(f"must be between 1970 and 8999 (got year {value.year})")
        return value

    @field_validator("step")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value


class CallRetrySpec(_Strict):
    """In-run retries of one source or target call (5xx, timeouts, throttling) before the page
    fails the run or the batch's records go on the retry ladder."""

    attempts: int = Field(5, ge=1, le=50, description="Tries per call, the first included.")
    base_delay: timedelta = Field(
        timedelta(seconds=0.5), description="Backoff of the first retry (full jitter, doubling each time)."
    )
    max_delay: timedelta = Field(timedelta(seconds=30), description="Longest wait between two tries.")

    @field_validator("base_delay", "max_delay", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return parse_duration(value)


class SchemeSettings(_Strict):
    """Behaviour switches beyond QEasy's metadata."""

    on_change: Literal["skip", "redeliver"] = Field(
        "skip", description="A known id whose content changed: skip (QEasy) or send it again."
    )
    lookup_scheme: str | None = Field(None, description="Default scheme for _mongoQuery without a scheme id.")
    page_size: int | None = Field(None, ge=1, description="Source page size (defaults to the connector's).")
    batch_size: int = Field(500, ge=1, le=100000, description="Ledger records claimed per deliver batch.")
    retry: list[timedelta] = Field(
        default_factory=lambda: [parse_duration(d) for d in DEFAULT_RETRY_LADDER],
        description="Waits between delivery attempts; after the last the record is dead.",
    )
    call_retry: CallRetrySpec = Field(
        default_factory=CallRetrySpec, description="Backoff of a failing source or target call within a run."
    )
    stream: Literal["process", "thread", "inline"] = Field(
        "process",
        description=(
            "Where delivery runs while collecting: in child processes (two CPU cores; Linux), a thread, "
            "or inline between pages (one thread, nothing concurrent)."
        ),
    )
    deliver_workers: int | None = Field(
        None,
        ge=1,
        le=16,
        description=(
            "With stream: process, how many child processes deliver side by side (claims never overlap). "
            "Default: 2 for a MySQL/MariaDB or PostgreSQL target on a machine with two or more cores (one "
            "maps the next batch while the other waits for the database), else 1 (vendor APIs limit "
            "concurrent calls; a SQLite file takes one writer at a time)."
        ),
    )
    verify_totals: bool = Field(
        True,
        description=(
            "After a window, compare the distinct records read with the total the API reports; when "
            "short (records moved while paging), read the window again, up to twice, and count what "
            "that recovers."
        ),
    )
    follow_vendor_clock: bool = Field(
        True,
        description=(
            "A window's cursor never passes the vendor's own time (its HTTP Date header) less the lag: "
            "a vendor clock behind Ferry's would otherwise stamp later changes into windows already read."
        ),
    )
    timezone: str = Field("Asia/Shanghai", description="Zone for naive times and date formatters.")
    function_raw_text_on_error: bool = Field(
        False,
        description="QEasy compatibility: a failing _function yields its text instead of a record error.",
    )
    on_no_match: Literal["error", "ok"] = Field(
        "error",
        description=(
            "A SQL execute target whose UPDATE or DELETE matches no row: error (the record waits on the "
            "retry ladder, since the row often appears later in the target, and is dead after the last "
            "rung; the reason names the table and the key values) or ok (accept it as delivered and "
            "counted unchanged, the behaviour before this setting; the extend_sql statements still run)."
        ),
    )

    schema_drift: Literal["ignore", "warn", "quarantine", "fail"] = Field(
        "warn",
        description=(
            "A source field that appears, disappears from a whole page or changes type, against the "
            "fingerprint the scheme's first run learnt: ignore (learn it, say nothing), warn (a drift "
            "event, a run event, a console badge and the schema_drift alert; deliver and learn it), "
            "quarantine (the event, and the records showing it are held with the reason, not "
            "delivered) or fail (the event, and the window fails: its cursor stays). Held and failed "
            "drift stays until `ferry drift accept SCHEME` makes the new fields known."
        ),
    )

    @field_validator("retry", mode="before")
    @classmethod
    def _ladder(cls, value: Any) -> Any:
        return [parse_duration(v) for v in value] if isinstance(value, list) else value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value


class UnmatchedDefault(_Strict):
    """``unmatched: {default: X}``: a value the map does not hold becomes ``X``."""

    default: Any = Field(description="What a value with no match in the map becomes.")


class ValueMapSpec(_Strict):
    """A value map (值映射) used as ``_map <name> {field}``: from a file beside the scheme
    (``.csv`` UTF-8, ``.xlsx``, ``.yaml``/``.yml``) or inline ``entries``. Without either, the
    file ``maps/<name>.csv`` (``.xlsx``, ``.yaml``, ``.yml``) beside the scheme. A plain string
    is the file: ``shops: maps/shops.csv``."""

    file: str | None = Field(None, description="Path of the table, relative to the scheme file.")
    entries: dict[str, Any] | None = Field(None, description="The table inline: key -> value.")
    from_: str | None = Field(
        None, alias="from", description="Header of the key column (CSV/XLSX; default: the first column)."
    )
    to: str | None = Field(None, description="Header of the value column (CSV/XLSX; default: the second).")
    sheet: str | None = Field(None, description="XLSX sheet to read (default: the first sheet).")
    unmatched: Literal["keep", "quarantine"] | UnmatchedDefault = Field(
        "keep",
        description=(
            "A value the map does not hold: keep it, quarantine the record, or {default: X}; "
            "a `_map` value may override it (unmatched=keep|quarantine, default=X)."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _file_only(cls, value: Any) -> Any:
        return {"file": value} if isinstance(value, str) else value


CONDITION_CHECKS = (
    "eq",
    "neq",
    "gt",
    "egt",
    "lt",
    "elt",
    "like",
    "notlike",
    "between",
    "notnull",
    "isnull",
    "in",
    "notin",
)
CHECKS = (
    *CONDITION_CHECKS,
    "required",
    "type",
    "range",
    "length",
    "regex",
    "enum",
    "unique_in_window",
    "lookup",
    "expr",
)
"""The checks a quality rule may name (exactly one per rule)."""
QUALITY_ACTIONS = ("warn", "quarantine", "fail_window")


class QualityRule(_Strict):
    """One data-quality rule: one check of one field, and what a record that breaks it does.

    ```yaml
    - {name: qty-positive, field: items.qty, range: {min: 0}, action: quarantine}
    - {field: shop_no, in: "S1,S2", action: warn}
    - {field: sku, lookup: {scheme: products, field: sku_id}, action: fail_window}
    ```
    """

    name: str | None = Field(
        None,
        max_length=64,
        description="Name shown in counts, alerts and quarantine (default quality.<side>[i]).",
    )
    field: str = Field(
        min_length=1, description="Dotted path of the value checked (a ledger row / payload path)."
    )
    action: Literal["warn", "quarantine", "fail_window"] = Field(
        description=(
            "warn: deliver and count; quarantine: hold the record (status quarantined) for an operator; "
            "fail_window: the window's cursor does not move, the run fails and the quality_failed alert fires."
        )
    )
    eq: Any = Field(None, description="Equal (as numbers when both are numeric, else as text).")
    neq: Any = Field(None, description="Not equal.")
    gt: Any = Field(None, description="Greater than (numbers, or date-times as epoch seconds).")
    egt: Any = Field(None, description="Greater than or equal.")
    lt: Any = Field(None, description="Less than.")
    elt: Any = Field(None, description="Less than or equal.")
    like: Any = Field(None, description="Contains this text.")
    notlike: Any = Field(None, description="Does not contain this text.")
    between: Any = Field(None, description='Between two bounds, inclusive: "low,high".')
    notnull: bool | None = Field(None, description="true: not missing, null or empty text.")
    isnull: bool | None = Field(None, description="true: missing, null or empty text.")
    in_: Any = Field(None, alias="in", description="One of a list (or a comma-separated text).")
    notin: Any = Field(None, description="None of a list (or a comma-separated text).")
    required: bool | None = Field(None, description="true: present and not null or empty text.")
    type: Literal["string", "int", "float", "number", "bool", "date", "datetime"] | None = Field(
        None, description="The value's type (a missing value passes; add required for that)."
    )
    range: dict[str, Any] | None = Field(None, description="{min, max}, inclusive, compared as numbers.")
    length: dict[str, Any] | None = Field(None, description="{min, max} length of a text or a list.")
    regex: str | None = Field(None, description="Python regular expression the text must match (search).")
    enum: list[Any] | None = Field(None, description="The allowed values (compared as text).")
    unique_in_window: bool | None = Field(
        None, description="true: no other record of the window has this value."
    )
    lookup: dict[str, Any] | None = Field(
        None, description="{scheme, field}: the value must exist as content.<field> in that scheme's ledger."
    )
    expr: str | None = Field(
        None,
        description="A _function expression over the record that must be true (1); the prefix is optional.",
    )

    def checks(self) -> list[str]:
        """The check names this rule sets (one when valid)."""
        return [name for name in CHECKS if getattr(self, "in_" if name == "in" else name) is not None]

    def check_arg(self) -> Any:
        """The argument of the rule's first check (``None`` without one)."""
        names = self.checks()
        return getattr(self, "in_" if names[0] == "in" else names[0]) if names else None


class QualitySpec(_Strict):
    """Data-quality rules per side: ``source`` rules see each ledger row at collect time (after
    ``condition`` and ``beatFlat``, before it is stored), ``target`` rules each mapped payload at
    deliver time (paths into the payload)."""

    source: list[QualityRule] = Field(default_factory=list, description="Rules on each collected row.")
    target: list[QualityRule] = Field(default_factory=list, description="Rules on each mapped payload.")


class Scheme(_Strict):
    """A complete integration scheme (loaded and resolved)."""

    id: str = Field(min_length=1, max_length=191, description="Stable id; the ledger and lookups key on it.")
    name: str = Field(description="Display name.")
    enabled: bool = True
    source: SideSpec
    target: SideSpec
    connections: str | dict[str, Any] | None = Field(
        None, description="Path or mapping of named connections."
    )
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    window: WindowSpec = Field(default_factory=WindowSpec)
    settings: SchemeSettings = Field(default_factory=SchemeSettings)
    maps: dict[str, ValueMapSpec] = Field(
        default_factory=dict,
        description="Value maps (值映射) by name; files maps/<name>.csv|.xlsx|.yaml beside the scheme count too.",
    )
    quality: QualitySpec = Field(
        default_factory=QualitySpec, description="Data-quality rules on collected rows and mapped payloads."
    )

    # Filled in by the loader once metadata files are read and validated.
    source_meta: SourceMetadata | None = Field(None, exclude=True)
    target_meta: TargetMetadata | None = Field(None, exclude=True)
    base_dir: str | None = Field(None, exclude=True)
    source_connection: SkipJsonSchema[ConnectionSpec | None] = Field(None, exclude=True)
    """The resolved source connection spec (``None`` until the loader resolves it)."""
    target_connection: SkipJsonSchema[ConnectionSpec | None] = Field(None, exclude=True)
    """The resolved target connection spec (``None`` until the loader resolves it)."""
    value_maps: SkipJsonSchema[dict[str, Any]] = Field(default_factory=dict, exclude=True)
    """The value maps read by the loader, by name (:class:`ferry.expr.valuemap.ValueMap`)."""
    _warnings: list[Issue] = PrivateAttr(default_factory=list)

    @property
    def warnings(self) -> list[Issue]:
        """Every key of both metadata documents Ferry does not act on, and ``otherResponse`` on
        a connection that does not read it: warnings (``severity="warning"``), never errors."""
        metas = (self.source_meta, self.target_meta)
        return [w for meta in metas if meta is not None for w in meta.warnings] + list(self._warnings)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)
