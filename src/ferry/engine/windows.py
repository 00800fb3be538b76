"""Window planning: which half-open ``[start, end)`` time ranges a collect run queries.

``LAST_SYNC_TIME`` and ``CURRENT_TIME`` in a scheme are a window's start and end, never the
wall clock. The range runs from the saved cursor (or the scheme's ``window.start``, or one
``step`` before the end on a first run) minus ``lookback``, up to now minus ``lag``. It is cut
into windows of at most ``step`` and at most the tighter of the scheme's ``max_span`` and the
connector's ``max_window``. The cursor moves to a window's end only once every page of that
window is committed, so a crash re-reads at most one window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["Window", "plan_windows"]


@dataclass(frozen=True)
class Window:
    """A half-open time range ``[start, end)``."""

    start: datetime
    end: datetime

    def __str__(self) -> str:
        return f"[{self.start.isoformat(sep=' ')}, {self.end.isoformat(sep=' ')})"


def plan_windows(
    *,
    now: datetime,
    cursor: datetime | None,
    start: datetime | None,
    step: timedelta,
    lookback: timedelta = timedelta(0),
    lag: timedelta = timedelta(0),
    max_span: timedelta | None = None,
    connector_max: timedelta | None = None,
) -> list[Window]:
    """Return the windows to collect, oldest first (empty when there is nothing new)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    end = now - lag
    begin = cursor if cursor is not None else start if start is not None else end - step
    begin = begin - lookback
    width = min(d for d in (step, max_span, connector_max) if d is not None)
    if width <= timedelta(0):
        raise ValueError("window width must be positive")
    windows: list[Window] = []
    at = begin
    while at < end:
        stop = min(at + width, end)
        windows.append(Window(at, stop))
        at = stop
    return windows
