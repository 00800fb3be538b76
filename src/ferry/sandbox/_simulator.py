"""The simulator base: one vendor system as a plain ``httpx.Request -> httpx.Response`` object.

Subclasses implement :meth:`Simulator.dispatch` (the vendor's endpoints) and the vendor's own
answers to throttling (:meth:`Simulator.throttled`). The base class does everything that is the
same for every vendor, in this order, for each call:

1. log the call (:attr:`Simulator.calls`);
2. sleep ``faults.latency``;
3. roll the transport faults: an HTTP 5xx answer or a timeout (``httpx.ReadTimeout`` raised
   in-process; the HTTP server turns it into a dropped connection);
4. dispatch to the vendor code, which checks signatures and tokens (using :class:`TokenBook`)
   and rate budgets (using :meth:`Simulator.over_budget`).

Simulators are thread-safe enough for the threaded HTTP server: shared state changes under
``self.lock``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from typing import Any

import httpx
import orjson

from ferry.sandbox._faults import FaultDice, Faults

__all__ = ["CHINA", "Call", "RateBudget", "Simulator", "TokenBook", "json_response"]

MALFORMED: tuple[bytes, ...] = (
    b"<html><head><title>502</title></head><body>nginx upstream error</body></html>",
    b'{"code": 0, "data": {"list": [{"id": 1,',
    b"{}",
    b"null",
)
"""Bodies of the ``malformed_rate`` fault (all sent as HTTP 200 JSON)."""

CHINA = timezone(timedelta(hours=8))
"""Every vendor here speaks Beijing time (GMT+8) in its naive date-time strings."""


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON response (UTF-8, non-ASCII kept as is, like the vendors)."""
    return httpx.Response(
        status,
        content=orjson.dumps(body, default=str),
        headers={"Content-Type": "application/json;charset=utf-8", **(headers or {})},
    )


@dataclass
class Call:
    """One call the simulator answered (or failed on purpose)."""

    at: float
    method: str
    path: str
    api: str
    """The vendor operation (``method`` parameter, service name or path)."""
    credential: str = ""
    """Which app key / account made the call (never a secret)."""
    status: int = 0
    code: Any = None
    """The vendor's own result code when it sent one."""
    fault: str | None = None
    """``"5xx"``, ``"timeout"``, ``"throttled"``, ``"expired"`` ... when a fault answered."""


class RateBudget:
    """Sliding-window call counters per credential: ``per_second`` and ``per_minute``."""

    def __init__(self, per_second: int | None, per_minute: int | None, clock: Callable[[], float]) -> None:
        self.per_second = per_second or None
        self.per_minute = per_minute or None
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, credential: str) -> str | None:
        """Count one call; ``"second"`` or ``"minute"`` if it exceeds that budget (not counted)."""
        if self.per_second is None and self.per_minute is None:
            return None
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault(credential, deque())
            while seen and seen[0] <= now - 60:
                seen.popleft()
            if self.per_second is not None and sum(1 for t in seen if t > now - 1) >= self.per_second:
                return "second"
            if self.per_minute is not None and len(seen) >= self.per_minute:
                return "minute"
            seen.append(now)
            return None


@dataclass
class _Token:
    subject: str
    issued: float
    calls: int = 0
    revoked: bool = False
    data: dict[str, Any] = field(default_factory=dict)


class TokenBook:
    """Tokens or sessions a simulator issued, with expiry by lifetime or by call count."""

    def __init__(self, lifetime: float, expiry_calls: int | None, clock: Callable[[], float]) -> None:
        self.lifetime = lifetime
        self.expiry_calls = expiry_calls
        self.clock = clock
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self, token: str, subject: str, **data: Any) -> str:
        """Record a new token for ``subject`` (an app key or user) and return it."""
        with self._lock:
            self._tokens[token] = _Token(subject, self.clock(), data=data)
            self.issued += 1
        return token

    def check(self, token: str | None) -> str:
        """``"ok"``, ``"expired"`` or ``"unknown"``; an ``"ok"`` check counts one call."""
        if not token:
            return "unknown"
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None:
                return "unknown"
            if entry.revoked or self.clock() - entry.issued > self.lifetime:
                return "expired"
            if self.expiry_calls is not None and entry.calls >= self.expiry_calls:
                entry.revoked = True
                return "expired"
            entry.calls += 1
            return "ok"

    def data(self, token: str) -> dict[str, Any]:
        """What :meth:`issue` stored with ``token``."""
        return self._tokens[token].data

    def subject(self, token: str) -> str:
        """The subject ``token`` was issued to."""
        return self._tokens[token].subject

    def expire_all(self) -> None:
        """Expire every token now (tests)."""
        with self._lock:
            for entry in self._tokens.values():
                entry.revoked = True


class Simulator:
    """Base of the six vendor simulators.

    Args:
        size: Records in the seeded dataset (each vendor decides what a record is).
        faults: Fault injection settings; defaults to none.
        clock: Seconds since the epoch (``time.time``); tests pass a fake one.
    """

    name: str = ""
    """Short name, also the in-process host: ``http://<name>.sandbox``."""
    title: str = ""
    """Human name for ``ferry sandbox`` output."""
    default_rate_per_second: int | None = None
    default_rate_per_minute: int | None = None

    def __init__(
        self, *, size: int = 200, faults: Faults | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.size = size
        self.faults = faults or Faults()
        self.dice = FaultDice(self.faults)
        self.clock = clock
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        per_second = self.faults.rate_per_second
        per_minute = self.faults.rate_per_minute
        self.budget = RateBudget(
            self.default_rate_per_second if per_second is None else per_second,
            self.default_rate_per_minute if per_minute is None else per_minute,
            clock,
        )

    # -- the vendor's part ------------------------------------------------------------------

    def dispatch(self, request: httpx.Request, call: Call) -> httpx.Response:
        """Answer ``request``; fill in ``call.api``, ``call.credential`` and ``call.code``."""
        raise NotImplementedError

    def throttled(self, request: httpx.Request, call: Call, which: str) -> httpx.Response:
        """The vendor's answer when a rate budget (``"second"`` or ``"minute"``) is exceeded."""
        return json_response({"code": 429, "msg": f"too many requests per {which}"}, status=429)

    def server_error(self, request: httpx.Request, call: Call) -> httpx.Response:
        """The vendor's answer to an injected 5xx (a gateway error page by default)."""
        return httpx.Response(
            502,
            content=b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            headers={"Content-Type": "text/html"},
        )

    def is_write(self, request: httpx.Request) -> bool:
        """Whether ``request`` changes data (for ``commit_before_timeout``)."""
        return False

    # -- shared behaviour -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """In-process base URL (routed by :class:`ferry.sandbox.SandboxTransport`)."""
        return f"http://{self.name}.sandbox"

    def now(self) -> datetime:
        """The vendor's clock (``clock`` plus any ``clock_skew``) as a naive Beijing-time datetime."""
        return datetime.fromtimestamp(self.vendor_time(), CHINA).replace(tzinfo=None)

    def vendor_time(self) -> float:
        """The vendor's clock in seconds since the epoch: ``clock`` plus ``Faults.clock_skew``."""
        return self.clock() + self.faults.clock_skew

    def http_date(self) -> str:
        """The vendor's clock as an HTTP ``Date`` header value."""
        return formatdate(self.vendor_time(), usegmt=True)

    def over_budget(self, request: httpx.Request, call: Call) -> httpx.Response | None:
        """Count a call against ``call.credential``'s budget; the throttling answer if exceeded."""
        which = self.budget.take(call.credential)
        if which is None:
            return None
        call.fault = "throttled"
        return self.throttled(request, call, which)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request, applying the injected faults first."""
        call = Call(at=self.clock(), method=request.method, path=request.url.path, api=request.url.path)
        with self.lock:
            self.calls.append(call)
        if self.faults.latency:
            time.sleep(self.faults.latency)
        if (
            self.faults.lost_write_rate
            and self.is_write(request)
            and self.dice.chance(self.faults.lost_write_rate)
        ):
            call.fault = "timeout-after-commit"
            with self.lock:
                self.dispatch(request, call)
            raise httpx.ReadTimeout("sandbox: injected timeout after the write was applied", request=request)
        if self.dice.chance(self.faults.malformed_rate):
            call.fault = "malformed"
            call.status = 200
            body = MALFORMED[self.dice.rng.randrange(len(MALFORMED))]
            return httpx.Response(
                200, content=body, headers={"Content-Type": "application/json"}, request=request
            )
        if self.dice.chance(self.faults.error_rate):
            if self.dice.chance(self.faults.timeout_share):
                call.fault = "timeout"
                if self.is_write(request) and self.dice.chance(self.faults.commit_before_timeout):
                    call.fault = "timeout-after-commit"
                    with self.lock:
                        self.dispatch(request, call)
                raise httpx.ReadTimeout("sandbox: injected timeout", request=request)
            call.fault = "5xx"
            response = self.server_error(request, call)
        else:
            with self.lock:
                response = self.dispatch(request, call)
        call.status = response.status_code
        response.request = request
        response.headers["Date"] = self.http_date()
        return response

    def datasets(self) -> list[Any]:
        """Every :class:`~ferry.sandbox.Dataset` of this simulator: its own attributes, and one
        level down (K3Cloud keeps one per form inside its form store)."""
        from ferry.sandbox._dataset import Dataset

        found: list[Any] = []
        for value in vars(self).values():
            if isinstance(value, Dataset):
                found.append(value)
                continue
            for item in (getattr(value, "__dict__", None) or {}).values():
                for candidate in item.values() if isinstance(item, dict) else [item]:
                    data = getattr(candidate, "data", candidate)
                    if isinstance(data, Dataset):
                        found.append(data)
        return found

    def calm(self) -> None:
        """Stop injecting faults from now on: no more errors, drift or duplicates (records already
        late still arrive on schedule; the vendor's own rate budget stays). Chaos tests calm the
        vendor down after the storm so the source holds still and the end states can be compared."""
        with self.lock:
            self.faults = Faults(seed=self.faults.seed, clock_skew=self.faults.clock_skew)
            self.dice = FaultDice(self.faults)
            for data in self.datasets():
                data.dice = self.dice

    def calls_to(self, api: str) -> list[Call]:
        """The logged calls of one vendor operation."""
        return [c for c in self.calls if c.api == api]

    def describe(self) -> dict[str, Any]:
        """What ``ferry sandbox`` prints: the URL path prefix and demo credentials."""
        return {}
