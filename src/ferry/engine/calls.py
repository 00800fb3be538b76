"""Timing and logging every connector call into the store's ``api_calls`` table.

Each attempt is one row (a retried call leaves its failed attempts too), so the console's
API-asset view can show calls, error rates and latency per vendor API. A throttling answer
(:class:`~ferry.errors.ThrottledError`: the vendor said "slow down", Ferry waits and retries)
is stored with status ``throttled``, not ``error``: it is pacing, not a failing API. Rows are buffered and
written with the page or the deliver batch they belong to (:meth:`CallLog.take`, in the same
transaction), or on their own by :meth:`CallLog.flush` (a failed fetch, a reconcile read).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from ferry._redact import redact
from ferry.errors import ThrottledError
from ferry.store import Store

__all__ = ["CallLog"]

T = TypeVar("T")


class CallLog:
    """Buffers API-call records for one scheme and connection."""

    def __init__(self, store: Store, scheme_id: str, run_id: int | None, connection: str) -> None:
        self.store = store
        self.scheme_id = scheme_id
        self.run_id = run_id
        self.connection = connection
        self.pending: list[dict[str, Any]] = []

    def timed(self, api: str, fn: Callable[[], T], records: Callable[[T], int]) -> T:
        """Call ``fn``; record its duration, outcome (``ok``, ``error`` or ``throttled``) and
        record count; re-raise its error."""
        started = datetime.now(UTC)
        clock = time.perf_counter()
        entry: dict[str, Any] = {
            "run_id": self.run_id,
            "scheme_id": self.scheme_id,
            "connection": self.connection,
            "api": api,
            "started_at": started,
        }
        try:
            result = fn()
        except Exception as exc:
            entry.update(
                duration_ms=round((time.perf_counter() - clock) * 1000, 3),
                status="throttled" if isinstance(exc, ThrottledError) else "error",
                error_code=getattr(exc, "code", None) or type(exc).__name__,
                error_message=redact(str(exc))[:1000],
                records=0,
            )
            self.pending.append(entry)
            raise
        entry.update(
            duration_ms=round((time.perf_counter() - clock) * 1000, 3), status="ok", records=records(result)
        )
        self.pending.append(entry)
        return result

    def take(self) -> list[dict[str, Any]]:
        """The buffered rows, handed to the caller to store with its own transaction."""
        calls, self.pending = self.pending, []
        return calls

    def flush(self) -> None:
        """Write the buffered rows (one statement)."""
        calls = self.take()
        if calls:
            self.store.log_api_calls(calls)
