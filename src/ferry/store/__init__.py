"""Ferry's durable state: the ledger, window cursors, schemes, runs and API calls.

SQLAlchemy Core on SQLite (default, ``$FERRY_HOME/ferry.db``), MySQL/MariaDB or PostgreSQL;
the schema is created only by the Alembic migrations shipped in ``ferry/store/migrations``.

    >>> store = open_store("sqlite:///ferry.db")            # migrates to the newest schema
    >>> store.upsert_records("orders", [("1001", "SO-1001", {"amount": "12.50"})])
    UpsertResult(new=1, changed=0, unchanged=0, redelivered=0)

Nothing outside this package touches its tables: :class:`Store` and the public modules
:mod:`~ferry.store.leases` (scheme leases, schedule slots), :mod:`~ferry.store.incidents`
(alert incidents and notices), :mod:`~ferry.store.alert_queries` (what the alert rules read),
:mod:`~ferry.store.reports` (aggregates for the metrics and the console),
:mod:`~ferry.store.users` (console logins), :mod:`~ferry.store.drift` (schema fingerprints and
drift events), :mod:`~ferry.store.quarantine` (records held by quality rules, and the audit of
what operators did with them), :mod:`~ferry.store.quality_report` (per run or day, where every
record of a scheme's runs went, and which rule held the quarantined ones) and :mod:`~ferry.store.codec` are its whole surface. A process that forks while it uses a SQLite store forks under
:func:`fork_guard` and calls :func:`after_fork_in_child` in the child.
"""

from ferry.store._checkpoint import after_fork_in_child, fork_guard
from ferry.store._handover import HandedRow, Handover
from ferry.store._models import (
    RECORD_STATUSES,
    Hold,
    LedgerRow,
    RecordResult,
    Replayed,
    UpsertResult,
    Waiting,
    selects_everything,
)
from ferry.store._schema import ID_LENGTH
from ferry.store._store import Store, open_store

__all__ = [
    "ID_LENGTH",
    "RECORD_STATUSES",
    "HandedRow",
    "Handover",
    "Hold",
    "LedgerRow",
    "RecordResult",
    "Replayed",
    "Store",
    "UpsertResult",
    "Waiting",
    "after_fork_in_child",
    "fork_guard",
    "open_store",
    "selects_everything",
]
