"""Pacing connector calls within the vendor's rate budget (``Limits.rate_per_second/minute``).

Vendors count calls in sliding windows (JuShuiTan: 5 per second and 100 per minute per app),
so the pacer does too: before a call it waits until the call would not be the ``n+1``-th within
any one second (or minute). A throttling answer feeds back: :meth:`Pacer.penalize` holds every
call on the same credentials for the time the vendor asked for.

One pacer serves every connector of the same connection in this process (source and target
sides, every run), so two schemes sharing credentials share the budget. Sharing it across
processes is the store's job (issue 4).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from ferry.connectors.base import Limits

__all__ = ["Pacer", "pacer_for"]

_MARGIN = 1.02
"""Windows are stretched by 2% so clock granularity never lands a call on the boundary."""


class Pacer:
    """Sliding-window call pacing for one set of credentials."""

    def __init__(
        self,
        per_second: float | None,
        per_minute: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rules = [
            (int(limit), seconds * _MARGIN)
            for limit, seconds in ((per_second, 1.0), (per_minute, 60.0))
            if limit and limit > 0
        ]
        for limit, _ in self.rules:
            if limit < 1:
                raise ValueError("a rate budget must allow at least one call per window")
        self.clock = clock
        self.sleep = sleep
        self.history: deque[float] = deque()
        self.not_before = 0.0
        self.waited = 0.0
        """Seconds spent waiting so far (reported in run counts)."""
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """Whether this pacer limits anything."""
        return bool(self.rules)

    def wait(self) -> float:
        """Block until one more call fits the budget, then count it. Returns the seconds waited."""
        if not self.rules and not self.not_before:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                delay = self._delay(self.clock())
                if delay <= 0:
                    self.history.append(self.clock())
                    self.waited += waited
                    return waited
            self.sleep(delay)
            waited += delay

    def penalize(self, seconds: float | None) -> None:
        """The vendor throttled us: hold every call for ``seconds`` (1 s when it did not say)."""
        with self._lock:
            self.not_before = max(self.not_before, self.clock() + (seconds if seconds else 1.0))

    def _delay(self, now: float) -> float:
        delay = self.not_before - now
        longest = max((seconds for _, seconds in self.rules), default=0.0)
        while self.history and self.history[0] <= now - longest:
            self.history.popleft()
        for limit, seconds in self.rules:
            recent = [t for t in self.history if t > now - seconds]
            if len(recent) >= limit:
                delay = max(delay, recent[-limit] + seconds - now)
        return delay


_PACERS: dict[tuple[str, str, float | None, float | None], Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(connector: object, limits: Limits) -> Pacer:
    """The process-wide pacer of ``connector``'s connection (by connector module, name and budget)."""
    key = (
        type(connector).__module__,
        str(getattr(connector, "name", id(connector))),
        limits.rate_per_second,
        limits.rate_per_minute,
    )
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = Pacer(limits.rate_per_second, limits.rate_per_minute)
        return pacer
