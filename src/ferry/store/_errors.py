"""Translating database errors into Ferry's hierarchy, once, at the store boundary.

- lock waits that timed out, deadlocks, serialization failures, dropped connections
  -> :class:`~ferry.errors.RetriableError` (the transaction was rolled back; retry the call);
- a schema that is missing or behind -> :class:`~ferry.errors.FatalError` with the hint to
  migrate;
- anything else -> :class:`~ferry.errors.FatalError`. The store's committed state is intact
  either way, because every store method is one transaction.

Messages quote the driver's own text (never the URL, so never a password).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa

from ferry.errors import FatalError, FerryError, RetriableError

__all__ = ["guarded", "translate"]

_MYSQL_RETRIABLE = {1040, 1205, 1213, 1927, 2002, 2003, 2006, 2013, 2055}
_MYSQL_NO_SCHEMA = {1054, 1146}
_PG_RETRIABLE = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03"}
_PG_NO_SCHEMA = {"42P01", "42703"}
_SQLITE_RETRIABLE = ("database is locked", "database table is locked", "database is busy")
_SQLITE_NO_SCHEMA = ("no such table", "no such column")
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
    code = _mysql_code(orig)
    sqlstate = getattr(orig, "sqlstate", None)
    lowered = detail.lower()
    if code in _MYSQL_NO_SCHEMA or sqlstate in _PG_NO_SCHEMA or any(t in lowered for t in _SQLITE_NO_SCHEMA):
        return FatalError(f"{message}\n  the store schema is missing or out of date; {MIGRATE_HINT}")
    if (
        code in _MYSQL_RETRIABLE
        or sqlstate in _PG_RETRIABLE
        or (isinstance(sqlstate, str) and sqlstate.startswith("08"))
        or any(t in lowered for t in _SQLITE_RETRIABLE)
    ):
        return RetriableError(message)
    return FatalError(message)


def _mysql_code(orig: Any) -> int | None:
    args = getattr(orig, "args", None)
    if args and isinstance(args[0], int):
        return args[0]
    return None


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
