"""The SQL connectors' view of database errors: :mod:`ferry.dberrors`'s one table, in three kinds.

* ``config``: the table's ``configuration`` (bad credentials, unknown database, SQL syntax,
  unknown table or column, missing privilege) -- the statement or the connection must be fixed.
* ``retriable``: its ``retry`` and ``reconnect`` (connection refused or lost, server gone,
  timeouts, deadlocks, lock waits, a locked SQLite file) -- back off and retry.
* ``data``: its ``data`` (value too long, NULL into NOT NULL, duplicate key ...) -- fail that
  record, keep the others.

:func:`describe` renders the driver's message with its code (``MySQL 1406: Data too long ...``,
``PostgreSQL 23502: null value ...``, ``SQLite SQLITE_CONSTRAINT_NOTNULL: ...``).
"""

from __future__ import annotations

from typing import Literal

from ferry import dberrors
from ferry._redact import redact
from ferry.dberrors import describe, unwrap
from ferry.errors import ConfigError, RetriableError

__all__ = ["Kind", "classify", "describe", "translate", "unwrap"]

Kind = Literal["config", "retriable", "data"]

_KINDS: dict[dberrors.Meaning, Kind] = {
    "retry": "retriable",
    "reconnect": "retriable",
    "configuration": "config",
    "data": "data",
}


def classify(exc: BaseException) -> Kind:
    """Sort a database (or SQLAlchemy) exception into ``config``, ``retriable`` or ``data``."""
    return _KINDS[dberrors.classify(exc).meaning]


def translate(exc: BaseException, *, label: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Raise the Ferry error for a config or retriable database error; return a data error's text.

    Args:
        exc: The caught database or SQLAlchemy exception.
        label: The connection's safe label (``sql connection 'erp' (mysql+pymysql://u:***@h/db)``).
        secrets: Strings to mask in the message (the password), defensively.

    Raises:
        ConfigError: For ``config`` errors, naming the connection and quoting the server.
        RetriableError: For ``retriable`` errors.
    """
    message = redact(describe(exc), secrets)
    kind = classify(exc)
    if kind == "config":
        raise ConfigError(f"{label}: {message}") from exc
    if kind == "retriable":
        raise RetriableError(f"{label}: {message}") from exc
    return message
