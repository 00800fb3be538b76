"""Checks before the first run: does every connection of a scheme work, for real?

``ferry check`` prints them, ``ferry serve`` refuses to start on any failure, and
``ferry run`` checks a SQL target before it collects (:func:`target_problems`), so a missing
database or table is found in a second instead of after every window was read.

Per scheme:

- **source**: the current window's first page is fetched (a vendor logs in and signs as it
  always does; a database connects and runs the SELECT); nothing is stored.
- **target**: a SQL database connects, and the tables and columns its statements write
  (``main_sql``/``extend_sql_N``, an ``UPDATE``'s key columns too) must exist; a vendor that
  logs in (K3Cloud, KIS) logs in; a ledger target needs nothing. Nothing is written.

Each result names the connection, what happened, and the fix as a hint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ferry.connectors.base import Login, SourceConnector, TargetConnector
from ferry.connectors.specs import LedgerConnection, SqlConnection
from ferry.engine.collector import Collector
from ferry.engine.counts import RunCounts
from ferry.engine.preview import first_page
from ferry.engine.retry import RetryPolicy
from ferry.errors import ConfigError, FerryError, Issue
from ferry.scheme.model import Scheme
from ferry.store import Store
from ferry.transform.plan import compile_scheme

__all__ = ["CheckResult", "check_scheme", "check_schemes", "create_tables", "target_problems"]

SAMPLE = 5
"""Records asked for on the first page (the check proves the call works; it stores nothing)."""
FETCH_RETRY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=2.0)
UNREACHABLE_HINT = "is it running and reachable from here? (the URL, host and port of the connection)"


@dataclass(frozen=True)
class CheckResult:
    """One connection of one scheme, checked."""

    scheme_id: str
    side: str
    """``source`` or ``target``."""
    connection: str
    """The connection's label (``sql connection 'bi' (mysql+pymysql://u:***@h/bi)``)."""
    ok: bool
    result: str
    hint: str | None = None


def _split(exc: FerryError, label: str) -> tuple[str, str | None]:
    """``(message, hint)`` of an error, its connection label (shown apart) dropped."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    hints = [line.removeprefix("hint:").strip() for line in lines if line.startswith("hint:")]
    text = " ".join(line for line in lines if not line.startswith("hint:"))
    for prefix in (f"{label}: ", f"{label.split(' (', 1)[0]}: "):
        text = text.replace(prefix, "")
    return text, "; ".join(hints) or None


def _failed(scheme: Scheme, side: str, label: str, exc: FerryError) -> CheckResult:
    message, hint = _split(exc, label)
    if hint is None and not isinstance(exc, ConfigError):
        hint = UNREACHABLE_HINT
    return CheckResult(scheme.id, side, label, False, message, hint)


def check_source(
    scheme: Scheme,
    store: Store,
    *,
    transport: httpx.BaseTransport | None = None,
    now: datetime | None = None,
    source: SourceConnector | None = None,
) -> CheckResult:
    """Fetch the first page of the scheme's current window (nothing is stored)."""
    from ferry.connectors.registry import build_source

    plan = compile_scheme(scheme).source
    label = plan.connection.label()
    owned = source is None
    try:
        connector = source or build_source(plan.connection, transport=transport)
    except FerryError as exc:
        return _failed(scheme, "source", label, exc)
    try:
        collector = Collector(scheme, connector, store, RunCounts())
        at = (now or datetime.now(UTC)).astimezone(scheme.tz).replace(microsecond=0)
        window, _, page = first_page(collector, at, SAMPLE, retry=FETCH_RETRY)
    except FerryError as exc:
        return _failed(scheme, "source", label, exc)
    finally:
        if owned:
            connector.close()
    found = f"{len(page.records)} record{'s' if len(page.records) != 1 else ''}"
    return CheckResult(scheme.id, "source", label, True, f"{plan.api}: first page of {window}: {found}")


def target_problems(scheme: Scheme, target: TargetConnector) -> list[Issue]:
    """What a SQL target lacks for ``scheme``'s statements (``[]`` for other targets).

    Raises:
        ConfigError: The database refuses the connection (see ``SqlConnector.check``).
        RetriableError: The database cannot be reached now.
    """
    from ferry.connectors.sql import SqlConnector

    if not isinstance(target, SqlConnector):
        return []
    return target.check(compile_scheme(scheme).target.meta)


def _target_results(scheme: Scheme, target: TargetConnector, label: str) -> list[CheckResult]:
    connection = compile_scheme(scheme).target.connection
    if isinstance(connection, LedgerConnection):
        return [
            CheckResult(scheme.id, "target", label, True, "records stay in Ferry's ledger: nothing to reach")
        ]
    issues = target_problems(scheme, target)
    if issues:
        return [
            CheckResult(scheme.id, "target", label, False, f"{i.path}: {i.message}", i.hint) for i in issues
        ]
    if isinstance(connection, SqlConnection):
        tables = sorted(set(_tables_of(scheme)))
        what = f"tables and columns present: {', '.join(tables)}" if tables else "no table named"
        return [CheckResult(scheme.id, "target", label, True, f"connected; {what}")]
    if isinstance(target, Login):
        return [CheckResult(scheme.id, "target", label, True, target.login())]
    return [CheckResult(scheme.id, "target", label, True, "not checked: its only calls write")]


def _tables_of(scheme: Scheme) -> list[str]:
    from ferry.scheme._sql_checks import written_tables

    plan = compile_scheme(scheme).target
    conn = plan.connection
    if not isinstance(conn, SqlConnection):
        return []
    dialect = conn.url.get_secret_value().split(":", 1)[0].split("+", 1)[0]
    return [use.name for use in written_tables(plan.meta, dialect)]


def check_target(
    scheme: Scheme, *, transport: httpx.BaseTransport | None = None, target: TargetConnector | None = None
) -> list[CheckResult]:
    """Connect to (or log in at) the scheme's target and look up what it writes; writes nothing."""
    from ferry.connectors.registry import build_target

    connection = compile_scheme(scheme).target.connection
    label = connection.label()
    owned = target is None
    try:
        connector = target or build_target(connection, transport=transport)
    except FerryError as exc:
        return [_failed(scheme, "target", label, exc)]
    try:
        return _target_results(scheme, connector, label)
    except FerryError as exc:
        return [_failed(scheme, "target", label, exc)]
    finally:
        if owned:
            connector.close()


def check_scheme(
    scheme: Scheme,
    store: Store,
    *,
    transport: httpx.BaseTransport | None = None,
    now: datetime | None = None,
) -> list[CheckResult]:
    """The source and target checks of ``scheme`` (see the module docstring)."""
    source = check_source(scheme, store, transport=transport, now=now)
    return [source, *check_target(scheme, transport=transport)]


def check_schemes(
    schemes: Sequence[Scheme],
    store: Store,
    *,
    transport: httpx.BaseTransport | None = None,
    now: datetime | None = None,
) -> list[CheckResult]:
    """:func:`check_scheme` for each scheme, in order."""
    return [r for s in schemes for r in check_scheme(s, store, transport=transport, now=now)]


def _script_url(scheme: Scheme, conn: SqlConnection) -> str:
    """The URL the scheme's ``schema.sql`` runs in: the connection's database, or the one
    qualifier its statements name (``ty_mes`` of ``ty_mes.mt_so_head``) when there is one
    (on SQLite: the file attached under that name)."""
    from sqlalchemy.engine import make_url

    url = make_url(conn.url.get_secret_value())
    qualifiers = {name.rsplit(".", 1)[0] for name in _tables_of(scheme) if "." in name}
    if len(qualifiers) == 1:
        (schema,) = qualifiers
        if url.get_backend_name() != "sqlite":
            url = url.set(database=schema)
        elif schema in conn.sqlite_attach:
            return f"sqlite:///{conn.sqlite_attach[schema]}"
    return url.render_as_string(hide_password=False)


def create_tables(
    scheme: Scheme, *, rows: Mapping[str, tuple[Sequence[str], Sequence[Any]]] | None = None
) -> str:
    """Create the target database and run the ``schema.sql`` beside the scheme file in it.

    ``rows`` (``{table: (columns, rows)}``) are then added to those of its tables the script
    created, where missing (``ferry check --sandbox-rows``). Returns what was done, for the
    operator; a scheme whose target is not SQL, or has no ``schema.sql``, is left alone.

    Raises:
        ConfigError: The database cannot be created or the script fails (naming both).
    """
    import sqlalchemy as sa

    from ferry.connectors._sql_create import apply_schema, create_database

    conn = compile_scheme(scheme).target.connection
    if not isinstance(conn, SqlConnection):
        return "not a SQL target: nothing to create"
    script = Path(scheme.base_dir or ".") / "schema.sql"
    if not script.is_file():
        return f"no {script.name} beside the scheme file: nothing created"
    url = _script_url(scheme, conn)
    own = conn.url.get_secret_value()
    try:
        # the connection's own database too, when the script's tables live in another one
        # (``ty_mes.mt_so_head`` with a URL naming ``mes``): the target connects to it
        own_created = own != url and create_database(own)
        created, count, added = apply_schema(url, script.read_text(encoding="utf-8"), rows or {})
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise ConfigError(
            f"{conn.label()}: cannot run {script}: {type(exc).__name__}: {reason}\n"
            "  hint: the URL's user needs the right to create databases and tables; "
            "or create them yourself from that file"
        ) from None
    done = _created(sa.engine.make_url(url).database, created, f"{script.name}", count, added)
    return f"created database {sa.engine.make_url(own).database}; {done}" if own_created else done


def _created(database: str | None, created: bool, script: str, count: int, added: dict[str, int]) -> str:
    """``created database bi; ran schema.sql in bi (1 statement); added 200 rows to t``."""
    done = [f"created database {database}"] if created else []
    done.append(f"ran {script} in {database} ({count} statement{'s' if count != 1 else ''})")
    done += [f"added {n} rows to {t}" for t, n in added.items() if n]
    return "; ".join(done)
