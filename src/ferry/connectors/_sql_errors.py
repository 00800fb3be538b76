"""Classifying database errors by what the caller should do.

Every DB-API error is sorted into one of three kinds:

* ``config``: bad credentials, unknown database, SQL syntax, unknown table or column, missing
  privilege -- retrying cannot help; the statement or the connection must be fixed.
* ``retriable``: connection refused or lost, server gone, timeouts, deadlocks, lock waits,
  too many connections, a locked SQLite file -- back off and retry.
* ``data``: the row itself is bad (value too long, out of range, NULL into NOT NULL, duplicate
  key, foreign key, invalid date) -- fail that record, keep the others.

:func:`describe` renders the driver's message with its code (``MySQL 1406: Data too long ...``,
``PostgreSQL 23502: null value ...``, ``SQLite SQLITE_CONSTRAINT_NOTNULL: ...``).
"""

from __future__ import annotations

from typing import Any, Literal

from ferry._redact import redact
from ferry.errors import ConfigError, RetriableError

__all__ = ["Kind", "classify", "describe", "translate", "unwrap"]

Kind = Literal["config", "retriable", "data"]

_MYSQL_CONFIG = frozenset(
    {
        1044,  # access denied for user to database
        1045,  # access denied for user (bad password)
        1049,  # unknown database
        1698,  # access denied (auth plugin)
        2005,  # unknown MySQL server host
        1051, 1052, 1054, 1060, 1064, 1066, 1102, 1103, 1109, 1110, 1136, 1142, 1143,  # statement
        1146, 1149, 1166, 1210, 1305, 1327, 1582, 1583, 1584, 1630,  # statement
    }
)  # fmt: skip
_MYSQL_RETRIABLE = frozenset(
    {
        1021,  # disk full
        1037, 1038, 1041,  # out of memory
        1040,  # too many connections
        1053,  # server shutdown in progress
        1077, 1078, 1079, 1080,  # normal shutdown / forcing close
        1152, 1153, 1154, 1155, 1156, 1157, 1158, 1159, 1160, 1161,  # aborted / packet / net errors
        1180, 1181,  # error during commit / rollback
        1205,  # lock wait timeout
        1213,  # deadlock
        1317,  # query interrupted
        1927,  # MariaDB: connection was killed
        1969,  # MariaDB: statement timeout
        3024,  # MySQL: max execution time exceeded
        4031,  # MySQL 8: disconnected by the server
        2002, 2003, 2006, 2013, 2014, 2026, 2027, 2045, 2048, 2055,  # client: connect / gone / lost
    }
)  # fmt: skip

_PG_CONFIG_STATES = frozenset({"28000", "28P01", "3D000", "42501", "0A000", "3F000"})
_PG_RETRIABLE_STATES = frozenset({"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300"})
_PG_CONNECT_CONFIG_TEXT = (
    "password authentication failed",
    "does not exist",  # database or role
    "no pg_hba.conf entry",
    "authentication failed",
    "could not translate host name",
    "invalid dsn",
)

_SQLITE_RETRIABLE = frozenset(
    {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_INTERRUPT"}
)
_SQLITE_CONFIG = frozenset(
    {"SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_AUTH", "SQLITE_PERM", "SQLITE_NOTADB", "SQLITE_CORRUPT"}
)


def unwrap(exc: BaseException) -> BaseException:
    """The DB-API exception behind a SQLAlchemy wrapper (or ``exc`` itself)."""
    orig = getattr(exc, "orig", None)
    return orig if isinstance(orig, BaseException) else exc


def _family(err: BaseException) -> str:
    module = type(err).__module__
    if module.startswith("pymysql") or module.startswith("MySQLdb"):
        return "mysql"
    if module.startswith("psycopg"):
        return "postgresql"
    if module.startswith("sqlite3"):
        return "sqlite"
    return "other"


def _mysql_code(err: BaseException) -> int | None:
    args = getattr(err, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _by_class(err: BaseException) -> Kind:
    """Fallback by PEP 249 class name when the code is unknown."""
    names = {cls.__name__ for cls in type(err).__mro__}
    if names & {"OperationalError", "InterfaceError", "InternalError", "TimeoutError"}:
        return "retriable"
    if names & {"ProgrammingError", "NotSupportedError", "ArgumentError", "NoSuchModuleError"}:
        return "config"
    return "data"


def classify(exc: BaseException) -> Kind:
    """Sort a database (or SQLAlchemy) exception into ``config``, ``retriable`` or ``data``."""
    err = unwrap(exc)
    family = _family(err)
    if family == "mysql":
        code = _mysql_code(err)
        if code in _MYSQL_CONFIG:
            return "config"
        if code in _MYSQL_RETRIABLE:
            return "retriable"
        if code == 0 or code is None:  # client side: "(0, '')" after the socket closed
            return _by_class(err)
        return "data" if code < 2000 or code >= 3000 else "retriable"
    if family == "postgresql":
        state = getattr(err, "sqlstate", None)
        if state is None:
            text = str(err).lower()
            if any(marker in text for marker in _PG_CONNECT_CONFIG_TEXT):
                return "config"
            return _by_class(err)
        if state in _PG_CONFIG_STATES or state.startswith("42"):
            return "config"
        if state in _PG_RETRIABLE_STATES or state[:2] in ("08", "53", "58", "XX"):
            return "retriable"
        return "data" if state[:2] in ("22", "23", "P0") else _by_class(err)
    if family == "sqlite":
        name = getattr(err, "sqlite_errorname", None) or ""
        if name.startswith("SQLITE_CONSTRAINT") or name in ("SQLITE_MISMATCH", "SQLITE_TOOBIG"):
            return "data"
        base = "_".join(name.split("_")[:2])  # SQLITE_BUSY_SNAPSHOT -> SQLITE_BUSY
        if base in _SQLITE_RETRIABLE:
            return "retriable"
        if base in _SQLITE_CONFIG or name in ("SQLITE_ERROR", "SQLITE_RANGE"):
            return "config"
        text = str(err)
        if "Error binding parameter" in text or ("type" in text and "is not supported" in text):
            return "data"
        return _by_class(err)
    if type(exc).__name__ == "StatementError" and "A value is required for bind parameter" in str(exc):
        return "data"
    return _by_class(err)


def describe(exc: BaseException) -> str:
    """The driver's message prefixed with its code, e.g. ``MySQL 1062: Duplicate entry '7' ...``."""
    err = unwrap(exc)
    family = _family(err)
    if family == "mysql":
        code = _mysql_code(err)
        args: tuple[Any, ...] = tuple(getattr(err, "args", ()))
        message = str(args[1]) if len(args) > 1 else str(err)
        return f"MySQL {code}: {message}" if code else f"MySQL: {message or type(err).__name__}"
    if family == "postgresql":
        state = getattr(err, "sqlstate", None)
        message = str(err).strip()
        diag = getattr(err, "diag", None)
        detail = getattr(diag, "message_detail", None) if diag is not None else None
        if detail and detail not in message:
            message += f" ({detail})"
        return f"PostgreSQL {state}: {message}" if state else f"PostgreSQL: {message}"
    if family == "sqlite":
        name = getattr(err, "sqlite_errorname", None)
        return f"SQLite {name}: {err}" if name else f"SQLite: {err}"
    if err is exc and type(exc).__name__ == "StatementError":
        # SQLAlchemy's own message; drop the "[SQL: ...] [parameters: ...]" trailer.
        return str(exc).split("\n", 1)[0]
    return f"{type(err).__name__}: {err}"


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
