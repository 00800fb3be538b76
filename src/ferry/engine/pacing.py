"""Pacing connector calls within the vendor's rate budget (``Limits.rate_per_second/minute``).

Vendors count calls in sliding windows (JuShuiTan: 5 per second and 100 per minute per app),
so the pacer does too: before a call it waits until the call would not be the ``n+1``-th within
any one second (or minute). A throttling answer feeds back: :meth:`Pacer.penalize` holds every
call on the same credentials for the time the vendor asked for.

A call is counted from when it *ended* (:meth:`Pacer.run`), not from when it was let through.
The vendor counts a call when the request reaches it, some time after Ferry let it go: how long
after varies (signing, connection set-up, the network, a busy host). Counted from its start, a
call that left late and the calls that left on time after it could land within one vendor
second although their starts were more than a second apart -- the throttling a clean run met.
The vendor has received a call before Ferry has its answer, so counting from the answer never
lets ``n+1`` calls reach the vendor within a window, whatever the delays. A call still in
flight counts from its start.

With a store (the engine always passes its own), the budget is a :class:`SharedPacer`: calls
are reserved in the store, so every process and run using the same credentials -- a scheduler,
a manual ``ferry run``, two schemes on one app key -- paces together. The key is the
connection's :meth:`budget_key` (vendor, endpoint and app identity), so two connections with
the same credentials share one budget whatever they are called.

Where the shared budget lives is a :class:`RateBackend`: the store by default
(:class:`StoreRateBackend`), or Redis when the run's :class:`RateSharing` names one. The
commands read it from ``FERRY_RATE_REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/0``; keys under
``FERRY_RATE_REDIS_PREFIX``, default ``ferry:rate:``) where the process starts
(:meth:`RateSharing.from_env`) and pass it to the run; see :mod:`ferry.engine._rate_redis`.
``redis`` is imported only when a run is given a Redis URL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from ferry.connectors.base import Limits
from ferry.errors import FerryError, ThrottledError

__all__ = [
    "REDIS_PREFIX_ENV",
    "REDIS_URL_ENV",
    "Pacer",
    "RateBackend",
    "RateSharing",
    "SharedPacer",
    "StoreRateBackend",
    "budget_key",
    "pacer_for",
]

REDIS_URL_ENV = "FERRY_RATE_REDIS_URL"
"""When set, shared budgets live in this Redis instead of the store."""
REDIS_PREFIX_ENV = "FERRY_RATE_REDIS_PREFIX"
"""Prefix of the Redis keys (default ``ferry:rate:``), for deployments sharing one Redis."""


@dataclass(frozen=True)
class RateSharing:
    """Where a run shares the budgets that limit anything: Redis when ``redis_url`` is set,
    else the store."""

    redis_url: str | None = None
    redis_prefix: str | None = None
    """Prefix of the Redis keys (default ``ferry:rate:``)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RateSharing:
        """The sharing that ``FERRY_RATE_REDIS_URL`` and ``FERRY_RATE_REDIS_PREFIX`` ask for
        (read by the commands where the process starts, never inside a run)."""
        env = os.environ if environ is None else environ
        return cls(env.get(REDIS_URL_ENV) or None, env.get(REDIS_PREFIX_ENV) or None)


_MARGIN = 1.02
"""Windows are stretched by 2% so clock granularity never lands a call on the boundary."""

T = TypeVar("T")

log = logging.getLogger("ferry.engine.pacing")


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
        """Block until one more call fits the budget, then count it from now. Returns the
        seconds waited. :meth:`run` is what callers use: it counts the call from its end."""
        return self._take()[0]

    def run(self, fn: Callable[[], T]) -> T:
        """Wait for the budget, call ``fn`` and count the call from when it ended (see the
        module docstring). A :class:`~ferry.errors.ThrottledError` from ``fn`` holds the
        budget for the vendor's ``retry_after`` (:meth:`penalize`) and is re-raised."""
        stamp = self._take()[1]
        return _counted(fn, self.penalize, None if stamp is None else lambda: self._finish(stamp))

    def _take(self) -> tuple[float, float | None]:
        """``(seconds waited, the call's stamp in history or None when nothing is counted)``."""
        if not self.rules and not self.not_before:
            return 0.0, None
        waited = 0.0
        while True:
            with self._lock:
                delay = self._delay(self.clock())
                if delay <= 0:
                    stamp = self.clock()
                    self.history.append(stamp)
                    self.waited += waited
                    return waited, stamp
            self.sleep(delay)
            waited += delay

    def _finish(self, stamp: float) -> None:
        """Count the call stamped ``stamp`` from now (the end of the call)."""
        with self._lock:
            with contextlib.suppress(ValueError):  # already dropped: older than the longest window
                self.history.remove(stamp)
            self.history.append(self.clock())  # the latest stamp: history stays in order

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


@runtime_checkable
class RateBackend(Protocol):
    """Where a shared budget is counted. Both methods must be atomic across processes."""

    def reserve(self, key: str, rules: Sequence[tuple[int, float]], now: float) -> float:
        """Record one call on ``key`` if it fits every ``(limit, seconds)`` rule and no penalty
        holds the key; else record nothing and return the seconds to wait. ``now`` is epoch
        seconds."""
        ...

    def penalize(self, key: str, until: float, now: float) -> None:
        """Hold every call on ``key`` until ``until`` (epoch seconds; ``now`` is the caller's
        clock). Never shortens a hold already in place."""
        ...

    def finish(self, key: str, started: float, ended: float) -> None:
        """The call :meth:`reserve` recorded at ``started`` ended at ``ended``: count it from
        ``ended`` on (recorded anew if it was dropped meanwhile)."""
        ...


class StoreRateBackend:
    """The budget counted in Ferry's store (``Store.reserve_call`` / ``penalize_calls``)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def reserve(self, key: str, rules: Sequence[tuple[int, float]], now: float) -> float:
        """See :meth:`RateBackend.reserve`."""
        return float(self.store.reserve_call(key, rules, now))

    def penalize(self, key: str, until: float, now: float) -> None:
        """See :meth:`RateBackend.penalize`."""
        self.store.penalize_calls(key, until)

    def finish(self, key: str, started: float, ended: float) -> None:
        """See :meth:`RateBackend.finish`."""
        self.store.finish_call(key, started, ended)


class SharedPacer:
    """The same sliding-window pacing, counted across processes in a :class:`RateBackend`
    (a store is wrapped in :class:`StoreRateBackend`)."""

    def __init__(
        self,
        budget: RateBackend | Any,
        key: str,
        per_second: float | None,
        per_minute: float | None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.backend: RateBackend = budget if isinstance(budget, RateBackend) else StoreRateBackend(budget)
        self.key = key
        self.rules = [
            (int(limit), seconds * _MARGIN)
            for limit, seconds in ((per_second, 1.0), (per_minute, 60.0))
            if limit and limit > 0
        ]
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0

    @property
    def active(self) -> bool:
        """Whether this pacer limits anything."""
        return bool(self.rules)

    def wait(self) -> float:
        """Block until the backend records one more call for this key, counted from now.
        Returns the seconds waited. :meth:`run` is what callers use."""
        return self._take()[0]

    def run(self, fn: Callable[[], T]) -> T:
        """As :meth:`Pacer.run`, counted in the backend for every process sharing the key.

        Counting the call from its end is bookkeeping: if the backend fails then, the call
        keeps its start time and the failure is logged, never raised -- raising would make
        the caller retry a call (maybe a write) that the vendor already took.
        """
        started = self._take()[1]
        return _counted(fn, self.penalize, lambda: self._finish(started))

    def _finish(self, started: float) -> None:
        try:
            self.backend.finish(self.key, started, self.clock())
        except FerryError as exc:
            log.warning("rate budget %s: could not count a call from its end: %s", self.key, exc)

    def _take(self) -> tuple[float, float]:
        """``(seconds waited, the time the call was recorded at)``."""
        waited = 0.0
        while True:
            now = self.clock()
            delay = self.backend.reserve(self.key, self.rules, now)
            if delay <= 0:
                self.waited += waited
                return waited, now
            step = min(delay, 5.0)  # re-check: another process may have been penalised meanwhile
            self.sleep(step)
            waited += step

    def penalize(self, seconds: float | None) -> None:
        """The vendor throttled us: hold every process's calls on this key."""
        now = self.clock()
        self.backend.penalize(self.key, now + (seconds if seconds else 1.0), now)


def _counted(
    fn: Callable[[], T], penalize: Callable[[float | None], None], finish: Callable[[], None] | None
) -> T:
    """Call ``fn`` for a pacer: a throttling answer holds the budget (``penalize`` with the
    vendor's ``retry_after``) and is re-raised; ``finish`` counts the call from its end, however
    it ended."""
    try:
        return fn()
    except ThrottledError as exc:
        penalize(exc.retry_after)
        raise
    finally:
        if finish is not None:
            finish()


def budget_key(connector: object) -> str:
    """Who the vendor counts calls for: the connection's ``budget_key()`` or, failing that,
    the connector's module and connection name."""
    spec = getattr(connector, "spec", None)
    if spec is not None and hasattr(spec, "budget_key"):
        return str(spec.budget_key())
    return f"{type(connector).__module__}:{getattr(connector, 'name', id(connector))}"


_PACERS: dict[tuple[str, str, float | None, float | None], Pacer] = {}
_PACERS_LOCK = threading.Lock()


def _shared_budget(sharing: RateSharing, store: Any) -> RateBackend:
    """Redis when ``sharing`` names one, else the store."""
    if not sharing.redis_url:
        return StoreRateBackend(store)
    from ferry.engine._rate_redis import DEFAULT_PREFIX, redis_backend

    return redis_backend(sharing.redis_url, sharing.redis_prefix or DEFAULT_PREFIX)


def pacer_for(
    connector: object, limits: Limits, store: Any = None, sharing: RateSharing | None = None
) -> Pacer | SharedPacer:
    """The pacer of ``connector``'s budget. When the budget limits anything it is shared: in
    Redis when ``sharing`` names one (whether or not a store is given), else through ``store``
    when given; otherwise one pacer per process (by connector module, name and budget).

    Raises:
        ConfigError: The Redis URL is invalid or Redis does not answer at first contact.
    """
    limited = bool(limits.rate_per_second or limits.rate_per_minute)
    sharing = sharing or RateSharing()
    if limited and (sharing.redis_url or store is not None):
        budget = _shared_budget(sharing, store)
        return SharedPacer(budget, budget_key(connector), limits.rate_per_second, limits.rate_per_minute)
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
