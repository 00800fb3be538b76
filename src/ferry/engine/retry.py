"""Calling a connector with the engine's retry policy.

Retriable errors back off exponentially with full jitter; throttling waits the vendor's
``retry_after`` when given; an expired session is retried at once (the connector logs in
again on the next call). Configuration errors are never retried. After ``attempts`` tries
the last error is raised for the caller to turn into a failed run or failed records.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ferry.errors import AuthExpiredError, RetriableError, ThrottledError

__all__ = ["RetryPolicy", "call_with_retry"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """In-run retries of one connector call."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the ``attempt``-th retry (1-based)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[int, Exception], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it succeeds, a non-retriable error occurs, or attempts run out."""
    attempt = 0
    while True:
        try:
            return fn()
        except RetriableError as exc:
            attempt += 1
            if attempt >= policy.attempts:
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            if isinstance(exc, ThrottledError) and exc.retry_after is not None:
                sleep(min(exc.retry_after, policy.max_delay))
            elif not isinstance(exc, AuthExpiredError):
                sleep(policy.delay(attempt))
