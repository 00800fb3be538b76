"""The per-record evaluation context shared by every compiled value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from ferry.expr.lookup import LookupProvider

__all__ = ["DEFAULT_TZ", "EvalContext"]

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(slots=True)
class EvalContext:
    """What one evaluation may read.

    Attributes:
        row: the ledger record content (already beat-flattened when the scheme says so).
        variables: run variables — ``LAST_SYNC_TIME``/``CURRENT_TIME`` (tz-aware datetimes),
            ``PAGINATION_*`` (ints), optionally explicit ``*_AGO_*`` values.
        scope: while mapping array children, ``{"items": <current element>}``; a path whose first
            segment is a scope key resolves against that element instead of the row, and a bare
            name found in the current element (innermost first) is read from it before the row.
        lookups: provider for ``_findCollection``/``_mongoQuery``; ``None`` makes lookups fail the record.
        tz: time zone for naive times and for ``datetime``/``date`` output.
        now: clock for ``NOW()``/``CURDATE()``; defaults to ``CURRENT_TIME``, then the wall clock.
        missed: where a row placeholder that found nothing (its path is absent from the record,
            as opposed to present and null) notes the scheme path of its value, when the value
            was compiled with one; ``None`` (the default) notes nothing. Delivery counts these
            per target field (:mod:`ferry.engine.misses`).
    """

    row: Mapping[str, Any]
    variables: Mapping[str, Any] = field(default_factory=dict)
    scope: Mapping[str, Any] | None = None
    lookups: LookupProvider | None = None
    tz: ZoneInfo = DEFAULT_TZ
    now: datetime | None = None
    missed: list[str] | None = None
