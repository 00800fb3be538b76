"""The scheduler's clock: the one place it reads the time and waits, so tests drive time.

A clock answers ``now()`` and blocks in ``wait(bell, until)`` until ``until`` or until the
``bell`` (a :class:`threading.Event`) rings. A clock may also ring the bell itself (the fake
clock does when time moves), so the bell is a doorbell, not a message: whoever waits clears
it, then re-checks its own state (stop asked? run finished? slot due?).

    clock = FakeClock(datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
    scheduler = Scheduler(schemes, store, clock=clock)
    clock.advance(timedelta(minutes=5))   # every waiter wakes and sees 12:05
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Time as the scheduler sees it."""

    def now(self) -> datetime:
        """The current instant, tz-aware."""
        ...

    def wait(self, bell: threading.Event, until: datetime) -> None:
        """Block until ``until`` (tz-aware) is reached or ``bell`` is set, whichever is first.

        May return early (a spurious ring): callers re-check their state and wait again.
        """
        ...


class SystemClock:
    """The wall clock. Waits are cut to ``max_wait`` so a clock jump (NTP, suspend) is noticed."""

    def __init__(self, max_wait: timedelta = timedelta(seconds=60)) -> None:
        self.max_wait = max_wait

    def now(self) -> datetime:
        """``datetime.now(UTC)``."""
        return datetime.now(UTC)

    def wait(self, bell: threading.Event, until: datetime) -> None:
        """``bell.wait`` for the time left until ``until`` (at most ``max_wait``)."""
        left = min(until - self.now(), self.max_wait).total_seconds()
        if left > 0:
            bell.wait(left)


class FakeClock:
    """A clock that moves only when told: :meth:`advance` / :meth:`set` wake every waiter.

    ``wait`` never sleeps on real time except for a safety poll (``poll`` seconds, 1 s by
    default), after which it returns as a spurious wake, so a test that forgets to move time
    hangs nowhere.
    """

    def __init__(self, start: datetime, *, poll: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a tz-aware start time")
        self._now = start
        self._poll = poll
        self._lock = threading.Lock()
        self._waiting: set[threading.Event] = set()

    def now(self) -> datetime:
        """The fake current instant."""
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        """Move to ``when`` (never backwards) and wake every waiter."""
        with self._lock:
            if when < self._now:
                raise ValueError(
                    f"a FakeClock never goes back ({when.isoformat()} < {self._now.isoformat()})"
                )
            self._now = when
            bells = list(self._waiting)
        for bell in bells:
            bell.set()

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``, wake every waiter, and return the new time."""
        with self._lock:
            when = self._now + delta
        self.set(when)
        return when

    def wait(self, bell: threading.Event, until: datetime) -> None:
        """Block until fake time reaches ``until`` or ``bell`` is set."""
        with self._lock:
            if self._now >= until or bell.is_set():
                return
            self._waiting.add(bell)
        try:
            bell.wait(self._poll)
        finally:
            with self._lock:
                self._waiting.discard(bell)
