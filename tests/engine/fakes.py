"""In-process fake connectors for engine tests (STYLE rule 5: fakes are part of the design)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ferry.connectors.base import Delivery, Limits, Outcome, Page, PageState


@dataclass
class FakeSource:
    """Serves ``records`` in pages; ``fail`` may raise for a given call number."""

    records: list[dict[str, Any]]
    limits: Limits = field(default_factory=lambda: Limits(default_page_size=2))
    name: str = "fake-source"
    fail: Callable[[int], None] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    repeat_first_page: bool = False

    def fetch(self, api: str, method: str, request: Mapping[str, Any], state: PageState) -> Page:
        self.calls.append({"request": dict(request), "state": state})
        if self.fail is not None:
            self.fail(len(self.calls))
        start = 0 if self.repeat_first_page else state.offset
        chunk = self.records[start : start + state.page_size]
        more = state.offset + state.page_size < len(self.records)
        nxt = PageState(state.index + 1, state.page_size, state.offset + len(chunk)) if more else None
        return Page(records=[dict(r) for r in chunk], next=nxt, total=len(self.records))

    def close(self) -> None:
        pass

    def vendor_time(self) -> datetime | None:
        return None  # no vendor clock: the cursor is never held back


@dataclass
class FakeTarget:
    """Accepts payloads; ``reject(payload)`` returns an error text to refuse one record."""

    limits: Limits = field(default_factory=Limits)
    name: str = "fake-target"
    reject: Callable[[Any], str | None] = lambda payload: None
    raise_on_write: Exception | None = None
    written: dict[str, Any] = field(default_factory=dict)
    writes: int = 0

    def write(self, delivery: Delivery) -> Sequence[Outcome]:
        self.writes += 1
        if self.raise_on_write is not None:
            raise self.raise_on_write
        out = []
        for rid, row in zip(delivery.record_ids, delivery.rows, strict=True):
            why = self.reject(row)
            if why:
                out.append(Outcome(rid, ok=False, error=why, response={"code": 400}))
            else:
                self.written[rid] = row
                out.append(Outcome(rid, ok=True, response={"code": 0}))
        return out

    def close(self) -> None:
        pass
