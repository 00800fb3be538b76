"""A time-indexed record set with the adversarial behaviours of real incremental APIs.

Records carry a modification time; a query asks for ``[start, end)`` (or ``[start, end]`` for
vendors whose bounds are inclusive) ordered by ``(modified, id)`` and pages through it by offset.
With faults enabled the set misbehaves the way vendor APIs do in production:

- **drift**: after a page is served, some of its records are modified "now", so they move
  behind the current offset (a naive pager skips the record that slides into their place);
- **late arrivals**: some records are hidden until ``late_after_calls`` calls have been made,
  then appear with their original (past) modification time;
- **duplicates**: a page repeats the previous page's last record;
- **a renamed field** (schema drift): after ``rename_after_calls`` calls every record is served
  with a key renamed (``Faults.rename_field="outerId:outerID"``), nested keys included.

The dataset also stores what targets write (``put``), so a simulator that is a target can be
queried for its end state.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime, timedelta
from typing import Any

from ferry.sandbox._faults import FaultDice

__all__ = ["Dataset"]

Row = dict[str, Any]


def _renamed(value: Any, old: str, new: str) -> Any:
    """A copy of ``value`` with every key ``old`` renamed ``new``, at any depth (``Faults.rename_field``)."""
    if isinstance(value, dict):
        return {(new if key == old else key): _renamed(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, old, new) for item in value]
    return value


class Dataset:
    """Records keyed by id, each with a modification time kept beside the record.

    Args:
        records: ``(id, modified, record)`` triples; ``record`` is the vendor-shaped dict.
        dice: The simulator's fault dice (drift, late arrivals, duplicates).
        touch: Called as ``touch(record, new_modified)`` when drift modifies a record, so the
            vendor's own time field in the record changes too.
        clock: Returns "now" (naive, vendor local time) for drift.
    """

    def __init__(
        self,
        records: Iterable[tuple[str, datetime, Row]],
        *,
        dice: FaultDice,
        touch: Callable[[Row, datetime], None] | None = None,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.dice = dice
        self.touch = touch
        self.clock = clock
        self._lock = threading.RLock()
        self._rows: dict[str, Row] = {}
        self._modified: dict[str, datetime] = {}
        self._hidden_until: dict[str, int] = {}
        self.calls = 0
        self._version = 0
        """Bumped by every change to a record or its time: a cached selection is stale."""
        self._selections: OrderedDict[Hashable, list[str]] = OrderedDict()
        self.drifted: list[str] = []
        """Ids modified by drift, in order (tests read this)."""
        self.duplicated: list[str] = []
        """Ids served twice by the duplicate fault."""
        late_rate = dice.faults.late_rate
        for rid, modified, row in records:
            self._rows[rid] = row
            self._modified[rid] = modified
            if dice.chance(late_rate):
                self._hidden_until[rid] = dice.faults.late_after_calls
        self.late = sorted(self._hidden_until)
        """Ids that arrive late."""

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, rid: object) -> bool:
        return rid in self._rows

    def get(self, rid: str) -> Row | None:
        """The record with id ``rid`` (late ones included), or ``None``."""
        return self._rows.get(rid)

    def modified(self, rid: str) -> datetime:
        """The modification time of record ``rid``."""
        return self._modified[rid]

    def visible(self, rid: str) -> bool:
        """Whether record ``rid`` exists and a query sees it now (a late one not yet)."""
        with self._lock:
            hidden = self._hidden_until.get(rid)
            return rid in self._rows and (hidden is None or self.calls >= hidden)

    def all(self) -> list[Row]:
        """Every record, visible or not, ordered by (modified, id)."""
        with self._lock:
            return [self._rows[rid] for rid in self._order(self._rows)]

    def put(self, rid: str, row: Row, modified: datetime | None = None) -> None:
        """Insert or replace a record (what a target write does)."""
        with self._lock:
            self._rows[rid] = row
            self._modified[rid] = modified or self.clock()
            self._hidden_until.pop(rid, None)
            self._version += 1

    def remove(self, rid: str) -> None:
        """Delete record ``rid``: no later query sees it (a record deleted at the vendor)."""
        with self._lock:
            self._rows.pop(rid, None)
            self._modified.pop(rid, None)
            self._hidden_until.pop(rid, None)
            self._version += 1

    def tick(self) -> None:
        """Count one API call (late records become visible after enough calls)."""
        with self._lock:
            self.calls += 1

    def select(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        where: Callable[[Row], bool] | None = None,
        where_key: Hashable | None = None,
        end_inclusive: bool = False,
    ) -> list[str]:
        """Ids of visible records with ``start <= modified < end`` (or ``<= end``), in order.

        A vendor's pager asks the same question once per page, so the answer is kept until a
        record changes, appears or goes: ``where_key`` names what ``where`` tests (a query
        with a ``where`` and no key is answered afresh). The list is shared: never mutate it.
        """
        with self._lock:
            still_hidden = sum(1 for until in self._hidden_until.values() if self.calls < until)
            cacheable = where is None or where_key is not None
            key = (start, end, end_inclusive, where_key, self._version, still_hidden)
            if cacheable and key in self._selections:
                self._selections.move_to_end(key)
                return self._selections[key]
            chosen = self._order(self._scan(start, end, where, end_inclusive))
            if cacheable:
                self._selections[key] = chosen
                while len(self._selections) > 8:
                    self._selections.popitem(last=False)
            return chosen

    def _scan(
        self,
        start: datetime | None,
        end: datetime | None,
        where: Callable[[Row], bool] | None,
        end_inclusive: bool,
    ) -> list[str]:
        chosen = []
        for rid, modified in self._modified.items():
            hidden = self._hidden_until.get(rid)
            if hidden is not None and self.calls < hidden:
                continue
            if start is not None and modified < start:
                continue
            if end is not None and (modified > end if end_inclusive else modified >= end):
                continue
            if where is not None and not where(self._rows[rid]):
                continue
            chosen.append(rid)
        return chosen

    def page(self, ids: list[str], offset: int, size: int) -> list[Row]:
        """One page of ``ids`` (from :meth:`select`), then apply drift and duplicates.

        The returned dicts are the stored records; callers serialise them, never mutate them.
        """
        with self._lock:
            chosen = ids[offset : offset + size]
            rows = [self._rows[rid] for rid in chosen]
            faults = self.dice.faults
            if offset > 0 and offset <= len(ids) and self.dice.chance(faults.duplicate_rate):
                previous = ids[offset - 1]
                rows.insert(0, self._rows[previous])
                self.duplicated.append(previous)
            more_follow = offset + size < len(ids)
            if more_follow and faults.drift_rate > 0:
                now = self.clock()
                for rid in self.dice.sample(chosen, faults.drift_rate):
                    self._drift(rid, now)
            return self._rename_fault(rows)

    def _rename_fault(self, rows: list[Row]) -> list[Row]:
        """``rows``, renamed once ``Faults.rename_field`` applies (after ``rename_after_calls``)."""
        faults = self.dice.faults
        if not faults.rename_field or self.calls <= faults.rename_after_calls:
            return rows
        old, new = faults.rename_field.split(":", 1)
        return [_renamed(row, old, new) for row in rows]

    def _drift(self, rid: str, now: datetime) -> None:
        new = max(now, self._modified[rid] + timedelta(seconds=1))
        self._modified[rid] = new
        self._version += 1
        if self.touch is not None:
            self.touch(self._rows[rid], new)
        self.drifted.append(rid)

    def _order(self, ids: Iterable[str]) -> list[str]:
        return sorted(ids, key=lambda rid: (self._modified[rid], rid))
