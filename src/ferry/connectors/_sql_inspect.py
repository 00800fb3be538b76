"""Looking up, in the database, the tables and columns a SQL target's statements write.

``ferry check`` and ``ferry run`` (before collecting) ask this, so a missing table or column
is found before any window is read instead of by every record's delivery.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ferry.errors import Issue
from ferry.scheme._sql_checks import TableUse

__all__ = ["missing_objects"]

CREATE_HINT = (
    "`ferry check --create-tables SCHEME` runs the schema.sql beside the scheme file "
    "(creating the database too)"
)


def _merged(uses: Sequence[TableUse]) -> dict[tuple[str | None, str], tuple[TableUse, list[str]]]:
    """One entry per table: its first use and every column any statement names."""
    merged: dict[tuple[str | None, str], tuple[TableUse, list[str]]] = {}
    for use in uses:
        key = (use.schema.lower() if use.schema else None, use.table.lower())
        _, cols = merged.setdefault(key, (use, []))
        cols += [c for c in use.columns if c.lower() not in {x.lower() for x in cols}]
    return merged


def missing_objects(conn: Connection, uses: Sequence[TableUse]) -> list[Issue]:
    """One issue per table of ``uses`` the database lacks, and per table lacking columns.

    Names compare case-insensitively (MySQL and SQLite fold them; PostgreSQL folds unquoted
    names). Each issue's path is the statement that names the object.
    """
    inspector = sa.inspect(conn)
    issues: list[Issue] = []
    for use, columns in _merged(uses).values():
        if not inspector.has_table(use.table, schema=use.schema):
            issues.append(
                Issue(
                    use.statement,
                    f"table {use.name} does not exist",
                    None,
                    f"create it ({CREATE_HINT}), or fix the table name in {use.statement}",
                )
            )
            continue
        present = [c["name"] for c in inspector.get_columns(use.table, schema=use.schema)]
        lowered = {name.lower() for name in present}
        missing = [c for c in columns if c.lower() not in lowered]
        if missing:
            some = "column" if len(missing) == 1 else "columns"
            issues.append(
                Issue(
                    use.statement,
                    f"table {use.name} has no {some} {', '.join(missing)} "
                    f"(its columns: {', '.join(present)})",
                    None,
                    f"fix the {some} in {use.statement}, or add {'it' if len(missing) == 1 else 'them'}: "
                    f"ALTER TABLE {use.name} ADD COLUMN {missing[0]} ...",
                )
            )
    return issues
