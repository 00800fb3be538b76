"""The package's public surface is exactly what the engine and CLI are told to use."""

from __future__ import annotations

import ferry.store
from ferry.store import codec


def test_exported_members() -> None:
    assert sorted(ferry.store.__all__) == [
        "HandedRow",
        "Handover",
        "Hold",
        "ID_LENGTH",
        "LedgerRow",
        "RECORD_STATUSES",
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
    assert ferry.store.ID_LENGTH == 191, "ids and numbers fit a MySQL utf8mb4 index"
    for name in set(ferry.store.__all__) - {"ID_LENGTH", "RECORD_STATUSES"}:
        assert getattr(ferry.store, name).__module__.startswith("ferry.store")


def test_codec_exports() -> None:
    assert set(codec.__all__) >= {"content_hash", "dumps", "loads", "encode_content", "to_text"}
