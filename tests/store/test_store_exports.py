"""The package's public surface is exactly what the engine and CLI are told to use."""

from __future__ import annotations

import ferry.store
from ferry.store import codec


def test_exported_members() -> None:
    assert sorted(ferry.store.__all__) == [
        "LedgerRow",
        "RecordResult",
        "Store",
        "UpsertResult",
        "open_store",
        "selects_everything",
    ]
    for name in ferry.store.__all__:
        assert getattr(ferry.store, name).__module__.startswith("ferry.store")


def test_codec_exports() -> None:
    assert set(codec.__all__) >= {"content_hash", "dumps", "loads", "encode_content", "to_text"}
