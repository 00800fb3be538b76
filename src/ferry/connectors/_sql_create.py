"""Creating a SQL target's database and tables from a script (``ferry check --create-tables``).

:func:`create_database` creates the database a URL names when it does not exist (MySQL/MariaDB
and PostgreSQL; a SQLite file is created by connecting); :func:`run_script` runs the
statements of a ``schema.sql`` one by one (``--`` comments and quoted ``;`` are understood).
:func:`add_rows` inserts the rows of a table that are not there yet (keyed by the first column); :func:`apply_schema` does all three.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

__all__ = ["add_rows", "apply_schema", "create_database", "run_script", "statements"]

_TOKEN = re.compile(
    r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|--[^\n]*|/\*.*?\*/|;|[^'\"`;/-]+|.", re.S
)


def statements(script: str) -> list[str]:
    """The statements of ``script``, comments dropped, split at ``;`` outside quotes."""
    out: list[str] = []
    current: list[str] = []
    for token in _TOKEN.findall(script):
        if token.startswith("--") or (token.startswith("/*") and token.endswith("*/")):
            continue
        if token == ";":
            out.append("".join(current).strip())
            current = []
        else:
            current.append(token)
    out.append("".join(current).strip())
    return [s for s in out if s]


_SERVERS: dict[str, tuple[Callable[[URL], URL], str, Callable[[str], str]]] = {
    # backend: (the server-level URL, "does it exist" with :n, CREATE DATABASE for a name)
    "mysql": (
        lambda url: url._replace(database=None),  # URL.set(database=None) keeps it
        "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :n",
        lambda name: "CREATE DATABASE `{}` CHARACTER SET utf8mb4".format(name.replace("`", "``")),
    ),
    "postgresql": (
        lambda url: url.set(database="postgres"),
        "SELECT 1 FROM pg_database WHERE datname = :n",
        lambda name: 'CREATE DATABASE "{}"'.format(name.replace('"', '""')),
    ),
}
_SERVERS["mariadb"] = _SERVERS["mysql"]


def create_database(url: str) -> bool:
    """Create the database ``url`` names unless it exists; whether it was created.

    MySQL/MariaDB databases get ``utf8mb4``. A SQLite file's folder is created (the file
    itself appears on the first connection).
    """
    parsed = make_url(url)
    name = parsed.database
    if not name:
        return False
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if name != ":memory:":
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        return False
    server_of = _SERVERS.get(backend)
    if server_of is None:
        return False
    server_url, exists, create = server_of
    server = sa.create_engine(server_url(parsed), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            found = conn.execute(sa.text(exists), {"n": name}).first()
            if found is None:
                conn.execute(sa.text(create(name)))
            return found is None
    finally:
        server.dispose()


def run_script(engine: Engine, script: str) -> int:
    """Run every statement of ``script`` in one transaction; how many ran."""
    parts = statements(script)
    with engine.begin() as conn:
        for statement in parts:
            conn.exec_driver_sql(statement)
    return len(parts)


def add_rows(
    engine: Engine,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    schema: str | None = None,
) -> int:
    """Insert the ``rows`` whose first column's value ``table`` does not hold yet; how many."""
    target = sa.table(table, *(sa.column(c) for c in columns), schema=schema)
    key = target.c[columns[0]]
    with engine.begin() as conn:
        present = {row[0] for row in conn.execute(sa.select(key))}
        new = [dict(zip(columns, row, strict=True)) for row in rows if row[0] not in present]
        if new:
            conn.execute(sa.insert(target), new)
    return len(new)


def apply_schema(
    url: str, script: str, rows: Mapping[str, tuple[Sequence[str], Sequence[Sequence[Any]]]]
) -> tuple[bool, int, dict[str, int]]:
    """Create the database ``url`` names, run ``script`` in it, add ``rows`` to those of its
    tables that exist then; ``(database created, statements run, rows added per table)``."""
    created = create_database(url)
    engine = sa.create_engine(url)
    try:
        count = run_script(engine, script)
        tables = set(sa.inspect(engine).get_table_names())
        added = {t: add_rows(engine, t, *given) for t, given in rows.items() if t in tables}
    finally:
        engine.dispose()
    return created, count, added
