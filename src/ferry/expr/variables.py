"""Run variables: ``LAST_SYNC_TIME``, ``CURRENT_TIME``, ``PAGINATION_*`` and the ``<UNIT>_AGO_<N>`` family.

Which names are variables is decided at compile time (everything else is a row path):

* ``LAST_SYNC_TIME``, ``CURRENT_TIME`` — the window bounds, given as tz-aware datetimes in
  :attr:`EvalContext.variables` (epoch numbers and date strings are accepted too).
* ``PAGINATION_PAGE_SIZE``, ``PAGINATION_START_PAGE``, ``PAGINATION_START_ROW`` — ints.
* ``<UNIT>_AGO_<N>`` with UNIT in SECOND(S), MINUTE(S), HOUR(S), DAY(S), WEEK(S), MONTH(S):
  ``CURRENT_TIME`` minus N units (``DAYS_AGO_1``, ``MINUTE_AGO_30``, ``HOURS_AGO_6``). Months are
  calendar months, clamped to the month's last day. When ``CURRENT_TIME`` is not set the base is
  :attr:`EvalContext.now`, else the wall clock. A value given explicitly in ``variables`` wins.

Time variables without a formatter evaluate to epoch seconds (int), as in QEasy.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ferry.errors import RecordError
from ferry.expr.formatters import TimeParseError, to_datetime

if TYPE_CHECKING:
    from ferry.expr.value import EvalContext

__all__ = ["PLAIN_VARIABLES", "TIME_VARIABLES", "VariableSpec", "current_time", "parse_variable"]

TIME_VARIABLES = frozenset({"LAST_SYNC_TIME", "CURRENT_TIME"})
PLAIN_VARIABLES = frozenset({"PAGINATION_PAGE_SIZE", "PAGINATION_START_PAGE", "PAGINATION_START_ROW"})

_AGO_RE = re.compile(r"^(SECOND|MINUTE|HOUR|DAY|WEEK|MONTH)S?_AGO_(\d+)$")


@dataclass(frozen=True)
class VariableSpec:
    """A compiled variable reference."""

    name: str
    is_time: bool
    getter: Callable[[EvalContext], Any]
    """Returns the raw value: an aware datetime for time variables, else the stored value."""


def parse_variable(name: str) -> VariableSpec | None:
    """Return the spec for ``name`` if it is a variable, else ``None`` (it is a row path)."""
    if name in TIME_VARIABLES:
        return VariableSpec(name, True, _time_getter(name))
    if name in PLAIN_VARIABLES:
        return VariableSpec(name, False, _plain_getter(name))
    m = _AGO_RE.match(name)
    if m:
        return VariableSpec(name, True, _ago_getter(name, m.group(1), int(m.group(2))))
    return None


def _missing(name: str) -> RecordError:
    return RecordError(f"variable {name} is not set for this run (no value in the evaluation context)")


def _as_time(name: str, value: Any, ctx: EvalContext) -> datetime:
    try:
        return to_datetime(value, ctx.tz)
    except TimeParseError as exc:
        raise RecordError(f"variable {name} is not a time: {exc}") from exc


def _time_getter(name: str) -> Callable[[EvalContext], Any]:
    def get(ctx: EvalContext) -> Any:
        value = ctx.variables.get(name)
        if value is None:
            raise _missing(name)
        return _as_time(name, value, ctx)

    return get


def _plain_getter(name: str) -> Callable[[EvalContext], Any]:
    def get(ctx: EvalContext) -> Any:
        value = ctx.variables.get(name)
        if value is None:
            raise _missing(name)
        return value

    return get


def current_time(ctx: EvalContext) -> datetime:
    """``CURRENT_TIME`` if set, else ``ctx.now``, else the wall clock (aware, in ``ctx.tz``)."""
    value = ctx.variables.get("CURRENT_TIME")
    if value is not None:
        return _as_time("CURRENT_TIME", value, ctx)
    if ctx.now is not None:
        return ctx.now if ctx.now.tzinfo is not None else ctx.now.replace(tzinfo=ctx.tz)
    return datetime.now(ctx.tz)


def _minus_months(dt: datetime, months: int) -> datetime:
    total = dt.year * 12 + (dt.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)


_UNIT_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 604800}


def _ago_getter(name: str, unit: str, n: int) -> Callable[[EvalContext], Any]:
    if unit == "MONTH":

        def get_months(ctx: EvalContext) -> Any:
            explicit = ctx.variables.get(name)
            if explicit is not None:
                return _as_time(name, explicit, ctx)
            return _minus_months(current_time(ctx).astimezone(ctx.tz), n)

        return get_months

    delta = timedelta(seconds=_UNIT_SECONDS[unit] * n)

    def get(ctx: EvalContext) -> Any:
        explicit = ctx.variables.get(name)
        if explicit is not None:
            return _as_time(name, explicit, ctx)
        return current_time(ctx) - delta

    return get
