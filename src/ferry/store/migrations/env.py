"""Alembic environment for the Ferry store, driven programmatically by ``Store.migrate()``.

There is no ``alembic.ini``: :meth:`ferry.store.Store.migrate` builds the Alembic ``Config``,
puts an open connection (already inside a transaction, and on PostgreSQL/MySQL holding the
migration lock) in ``config.attributes["connection"]`` and calls ``command.upgrade``.
The version table is ``ferry_alembic_version`` so a database shared with another
Alembic-managed application keeps both histories apart.
"""

from __future__ import annotations

from alembic import context

VERSION_TABLE = "ferry_alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "ferry store migrations run through ferry.store.Store.migrate() (or `ferry store migrate`), "
        "which passes an open connection; they cannot be run from the alembic command line"
    )

context.configure(
    connection=connection,
    target_metadata=None,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
