"""Ferry's durable state: the ledger, window cursors, schemes, runs and API calls.

SQLAlchemy Core on SQLite (default, ``$FERRY_HOME/ferry.db``), MySQL/MariaDB or PostgreSQL;
the schema is created only by the Alembic migrations shipped in ``ferry/store/migrations``.

    >>> store = open_store("sqlite:///ferry.db")            # migrates to the newest schema
    >>> store.upsert_records("orders", [("1001", "SO-1001", {"amount": "12.50"})])
    UpsertResult(new=1, changed=0, unchanged=0, redelivered=0)
"""

from ferry.store._models import LedgerRow, RecordResult, Replayed, UpsertResult, Waiting, selects_everything
from ferry.store._schema import ID_LENGTH
from ferry.store._store import Store, open_store

__all__ = [
    "ID_LENGTH",
    "LedgerRow",
    "RecordResult",
    "Replayed",
    "Store",
    "UpsertResult",
    "Waiting",
    "open_store",
    "selects_everything",
]
