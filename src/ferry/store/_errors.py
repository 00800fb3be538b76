"""Translating database errors into Ferry's hierarchy, once, at the store boundary.

What an error means comes from the one table the SQL connectors read too
(:mod:`ferry.dberrors`); the store acts on it:

- ``retry`` and ``reconnect`` (lock waits that timed out, deadlocks, serialization failures,
  dropped connections, a busy or failing SQLite file) -> :class:`~ferry.errors.RetriableError`:
  the transaction was rolled back; retry the call;
- a schema that is missing or behind -> :class:`~ferry.errors.FatalError` with the hint to
  migrate;
- anything else (``configuration``, ``data``) -> :class:`~ferry.errors.FatalError`. The store's
  committed state is intact either way, because every store method is one transaction.

Messages quote the driver's own text (never the URL, so never a password).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import sqlalchemy as sa

from ferry import dberrors
from ferry.errors import FatalError, FerryError, RetriableError

__all__ = ["MIGRATE_HINT", "guarded", "translate"]

MIGRATE_HINT = "hint: run `ferry store migrate` (or open the store with migrate=True)"

P = ParamSpec("P")
R = TypeVar("R")


def translate(exc: sa.exc.SQLAlchemyError, action: str) -> FerryError:
    """Return the Ferry error to raise (``from exc``) for a failed store ``action``."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    detail = text.splitlines()[0] if text else type(exc).__name__
    message = f"store: {action} failed: {detail}"
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return RetriableError(f"{message} (connection lost)")
    found = dberrors.classify(exc)
    if found.missing_schema:
        return FatalError(f"{message}\n  the store schema is missing or out of date; {MIGRATE_HINT}")
    if found.retriable:
        return RetriableError(message)
    return FatalError(message)


def guarded(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a store method so database errors leave it as Ferry errors."""

    def wrap(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except sa.exc.SQLAlchemyError as exc:
                raise translate(exc, action) from exc

        return inner

    return wrap
