"""What a database error means for the caller: ONE table, read by the store and the SQL connectors.

Every DB-API error (MySQL/MariaDB, PostgreSQL, SQLite, bare or wrapped by SQLAlchemy) has one
of four meanings:

* ``retry``: the statement lost a race or hit a passing limit (deadlock, lock wait,
  serialization failure, a busy SQLite file, disk full, a statement timeout). The transaction
  was rolled back; run it again after a pause.
* ``reconnect``: the connection or the server is gone (refused, lost, shut down, killed). The
  pool drops the connection; a new one is opened for the next attempt.
* ``configuration``: the URL, the credentials, the statement or the schema is wrong; retrying
  cannot help. :attr:`Classified.missing_schema` marks a table or column that does not exist
  (for the store: the migrations were not run).
* ``data``: the row itself is bad (value too long, out of range, NULL into NOT NULL, duplicate
  key, foreign key, invalid date): fail that record, keep the others.

The callers translate a meaning into Ferry's hierarchy, each in one place: the store
(``retry``/``reconnect`` -> :class:`~ferry.errors.RetriableError`, anything else ->
:class:`~ferry.errors.FatalError`, with the migrate hint for a missing schema) and the SQL
connectors (``retry``/``reconnect`` -> ``RetriableError``, ``configuration`` ->
``ConfigError``, ``data`` -> the record's dead letter).

    >>> classify(pymysql.err.OperationalError(1213, "Deadlock found")).meaning
    'retry'

:data:`CODES` is the table (docs/architecture.md §7 shows it); a code it does not list falls
back on its family's rule (:func:`classify`), then on the PEP 249 class of the exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CODES", "MEANINGS", "Classified", "Code", "Meaning", "classify", "describe", "unwrap"]

Meaning = Literal["retry", "reconnect", "configuration", "data"]
MEANINGS: tuple[Meaning, ...] = ("retry", "reconnect", "configuration", "data")


@dataclass(frozen=True)
class Code:
    """One row of the table: these ``codes`` of ``family`` mean ``meaning``.

    ``codes`` are MySQL error numbers; PostgreSQL SQLSTATEs (two characters stand for the whole
    class); SQLite result names (``SQLITE_BUSY`` covers ``SQLITE_BUSY_SNAPSHOT``) or, for
    errors SQLite reports only in words, fragments of the message (``no such table``).
    """

    family: Literal["mysql", "postgresql", "sqlite"]
    codes: tuple[int | str, ...]
    meaning: Meaning
    what: str
    missing_schema: bool = False


CODES: tuple[Code, ...] = (
    Code("mysql", (1205, 1213), "retry", "lock wait timeout, deadlock"),
    Code("mysql", (1021, 1037, 1038, 1041, 1180, 1181, 1317, 1969, 3024), "retry",
         "disk full, out of memory, commit or rollback failed, query interrupted or timed out"),
    Code("mysql", (1040, 1053, 1077, 1078, 1079, 1080, 1927, 4031), "reconnect",
         "too many connections, server shutting down, connection killed or closed by the server"),
    Code("mysql", (1152, 1153, 1154, 1155, 1156, 1157, 1158, 1159, 1160, 1161), "reconnect",
         "connection aborted, packet or network error"),
    Code("mysql", (2002, 2003, 2006, 2013, 2014, 2026, 2027, 2045, 2048, 2055), "reconnect",
         "client: cannot connect, server gone away, connection lost"),
    Code("mysql", (1054, 1146), "configuration", "unknown column, table does not exist", missing_schema=True),
    Code("mysql", (1044, 1045, 1049, 1698, 2005), "configuration",
         "access denied, unknown database, unknown host"),
    Code("mysql", (1051, 1052, 1060, 1064, 1066, 1102, 1103, 1109, 1110, 1136, 1142, 1143, 1149,
                   1166, 1210, 1305, 1327, 1582, 1583, 1584, 1630), "configuration",
         "the statement is wrong (syntax, names, privileges)"),
    Code("postgresql", ("40001", "40P01", "55P03", "57014"), "retry",
         "serialization failure, deadlock, lock not available, statement timeout"),
    Code("postgresql", ("53", "58", "XX"), "retry", "insufficient resources, system error, internal error"),
    Code("postgresql", ("08", "53300", "57P01", "57P02", "57P03"), "reconnect",
         "connection exception, too many connections, server shutting down or starting"),
    Code("postgresql", ("42P01", "42703"), "configuration", "undefined table or column", missing_schema=True),
    Code("postgresql", ("42", "28000", "28P01", "3D000", "0A000", "3F000"), "configuration",
         "syntax or access rule, bad password, unknown database or schema, unsupported feature"),
    Code("postgresql", ("22", "23", "P0"), "data",
         "data exception, integrity constraint, raised by a function"),
    Code("sqlite", ("no such table", "no such column"), "configuration", "table or column does not exist",
         missing_schema=True),
    Code("sqlite", ("database is locked", "database table is locked", "database is busy"), "retry",
         "another connection holds the lock"),
    Code("sqlite", ("Error binding parameter",), "data", "a value SQLite cannot store"),
    Code("sqlite", ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_INTERRUPT"),
         "retry", "busy or locked file, I/O error, disk full, interrupted"),
    Code("sqlite", ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_AUTH", "SQLITE_PERM", "SQLITE_NOTADB",
                    "SQLITE_CORRUPT", "SQLITE_ERROR", "SQLITE_RANGE"), "configuration",
         "cannot open or write the file, not a database, SQL error"),
    Code("sqlite", ("SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_TOOBIG"), "data",
         "constraint failed (NOT NULL, UNIQUE, CHECK ...), type mismatch, value too big"),
)  # fmt: skip

_BY_CODE: dict[tuple[str, int | str], Code] = {(row.family, code): row for row in CODES for code in row.codes}
_SQLITE_TEXTS = tuple(
    (code, row)
    for row in CODES
    if row.family == "sqlite"
    for code in row.codes
    if isinstance(code, str) and not code.startswith("SQLITE_")
)
_PG_CONNECT_CONFIG_TEXT = (
    "password authentication failed",
    "does not exist",  # database or role
    "no pg_hba.conf entry",
    "authentication failed",
    "could not translate host name",
    "invalid dsn",
)
"""PostgreSQL connection failures that carry no SQLSTATE but need a fix, not a retry."""


@dataclass(frozen=True)
class Classified:
    """What one database error means (see the module doc).

    Attributes:
        meaning: ``retry``, ``reconnect``, ``configuration`` or ``data``.
        code: The code it was found by (``"MySQL 1213"``, ``"PostgreSQL 40P01"``,
            ``"SQLite SQLITE_BUSY"``), or ``None`` when only its class told.
        missing_schema: A table or column the statement names does not exist.
    """

    meaning: Meaning
    code: str | None = None
    missing_schema: bool = False

    @property
    def retriable(self) -> bool:
        """Whether running the statement again may succeed (``retry`` or ``reconnect``)."""
        return self.meaning in ("retry", "reconnect")


def unwrap(exc: BaseException) -> BaseException:
    """The DB-API exception behind a SQLAlchemy wrapper (or ``exc`` itself)."""
    orig = getattr(exc, "orig", None)
    return orig if isinstance(orig, BaseException) else exc


def classify(exc: BaseException) -> Classified:
    """What the database (or SQLAlchemy) exception ``exc`` means, by :data:`CODES`.

    A connection SQLAlchemy invalidated is ``reconnect``. MySQL numbers not in the table:
    client errors (2000-2999) ``reconnect``, server errors ``data``. PostgreSQL states not in
    the table and errors without a code or name fall back on their PEP 249 class.
    """
    if getattr(exc, "connection_invalidated", False):
        return Classified("reconnect")
    err = unwrap(exc)
    family = _family(err)
    if family == "mysql":
        return _mysql(err)
    if family == "postgresql":
        return _postgresql(err)
    found = _sqlite(err, str(err))
    if found is not None:
        return found
    if type(exc).__name__ == "StatementError" and "A value is required for bind parameter" in str(exc):
        return Classified("data")
    return Classified(_by_class(err))


def _family(err: BaseException) -> str:
    module = type(err).__module__
    if module.startswith(("pymysql", "MySQLdb", "mysql", "mariadb")):
        return "mysql"
    if module.startswith("psycopg") or isinstance(_sqlstate(err), str):
        return "postgresql"
    return "sqlite" if module.startswith("sqlite3") else "other"


def _sqlstate(err: BaseException) -> Any:
    return getattr(err, "sqlstate", None) or getattr(err, "pgcode", None)


def _mysql_code(err: BaseException) -> int | None:
    args = getattr(err, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _found(row: Code, code: str) -> Classified:
    return Classified(row.meaning, code, row.missing_schema)


def _mysql(err: BaseException) -> Classified:
    code = _mysql_code(err)
    if not code:  # client side without a number: "(0, '')" after the socket closed
        return Classified(_by_class(err))
    row = _BY_CODE.get(("mysql", code))
    if row is not None:
        return _found(row, f"MySQL {code}")
    return Classified("reconnect" if 2000 <= code < 3000 else "data", f"MySQL {code}")


def _postgresql(err: BaseException) -> Classified:
    state = _sqlstate(err)
    if not isinstance(state, str):
        text = str(err).lower()
        if any(marker in text for marker in _PG_CONNECT_CONFIG_TEXT):
            return Classified("configuration")
        return Classified(_by_class(err))
    row = _BY_CODE.get(("postgresql", state)) or _BY_CODE.get(("postgresql", state[:2]))
    return _found(row, f"PostgreSQL {state}") if row is not None else Classified(_by_class(err))


def _sqlite(err: BaseException, text: str) -> Classified | None:
    """By message fragment first (``no such table`` is a plain ``SQLITE_ERROR``), then by name;
    ``None`` when neither is known. The fragments are read for any error: a test double or an
    error SQLAlchemy re-raised may carry SQLite's words without its module."""
    name = getattr(err, "sqlite_errorname", None) or ""
    label = f"SQLite {name}" if name else None
    for fragment, said in _SQLITE_TEXTS:
        if fragment in text:
            return Classified(said.meaning, label, said.missing_schema)
    row = _BY_CODE.get(("sqlite", name)) or _BY_CODE.get(("sqlite", "_".join(name.split("_")[:2])))
    return _found(row, f"SQLite {name}") if row is not None else None


def _by_class(err: BaseException) -> Meaning:
    """The fallback, by PEP 249 class name, when no code tells."""
    names = {cls.__name__ for cls in type(err).__mro__}
    if names & {"OperationalError", "InterfaceError"}:
        return "reconnect"
    if names & {"InternalError", "TimeoutError"}:
        return "retry"
    if names & {"ProgrammingError", "NotSupportedError", "ArgumentError", "NoSuchModuleError"}:
        return "configuration"
    return "data"


def describe(exc: BaseException) -> str:
    """The driver's message prefixed with its code, e.g. ``MySQL 1062: Duplicate entry '7' ...``."""
    err = unwrap(exc)
    family = _family(err)
    if family == "mysql":
        return _describe_mysql(err)
    if family == "postgresql":
        return _describe_pg(err)
    if family == "sqlite":
        name = getattr(err, "sqlite_errorname", None)
        return f"SQLite {name}: {err}" if name else f"SQLite: {err}"
    if err is exc and type(exc).__name__ == "StatementError":
        # SQLAlchemy's own message; drop the "[SQL: ...] [parameters: ...]" trailer.
        return str(exc).split("\n", 1)[0]
    return f"{type(err).__name__}: {err}"


def _describe_mysql(err: BaseException) -> str:
    code = _mysql_code(err)
    args: tuple[Any, ...] = tuple(getattr(err, "args", ()))
    message = str(args[1]) if len(args) > 1 else str(err)
    return f"MySQL {code}: {message}" if code else f"MySQL: {message or type(err).__name__}"


def _describe_pg(err: BaseException) -> str:
    state = _sqlstate(err)
    message = str(err).strip()
    diag = getattr(err, "diag", None)
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    if detail and detail not in message:
        message += f" ({detail})"
    return f"PostgreSQL {state}: {message}" if state else f"PostgreSQL: {message}"
