"""Interim: the page hand-over until the store offers it (``Store.hand_over``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from ferry.store import Store, UpsertResult
from ferry.store._ledger_write import Claimed
from ferry.store._sql import utcnow
from ferry.store.codec import loads

__all__ = ["HandedBatch", "HandedRow", "hand_over"]


class HandedRow(NamedTuple):
    record_id: str
    content: dict[str, Any]
    attempts: int
    window_start: datetime | None
    window_end: datetime | None


@dataclass(frozen=True)
class HandedBatch:
    scheme_id: str
    window: tuple[datetime, datetime] | None
    run_id: int | None
    at: datetime
    claimed: list[Claimed]

    def __len__(self) -> int:
        return len(self.claimed)

    def record_ids(self) -> list[str]:
        return [row[0] for row in self.claimed]

    def rows(self) -> list[HandedRow]:
        start, end = self.window if self.window is not None else (None, None)
        return [HandedRow(rid, loads(text), 0, start, end) for rid, _, text, _, _ in self.claimed]

    def rowids(self) -> dict[str, int]:
        return {row[0]: row[4] for row in self.claimed if row[4] is not None}


def hand_over(
    store: Store,
    scheme_id: str,
    records: Sequence[tuple[str, str | None, dict[str, Any]]],
    *,
    window: tuple[datetime, datetime] | None = None,
    run_id: int | None = None,
    **options: Any,
) -> tuple[UpsertResult, HandedBatch]:
    result, claimed = store.claim_records(scheme_id, records, window=window, run_id=run_id, **options)
    return result, HandedBatch(scheme_id, window, run_id, utcnow(), claimed)
