"""A time-indexed record set with the adversarial behaviours of real incremental APIs.

Records carry a modification time; a query asks for ``[start, end)`` (or ``[start, end]`` for
vendors whose bounds are inclusive) ordered by ``(modified, id)`` and pages through it by offset.
With faults enabled the set misbehaves the way vendor APIs do in production:

- **drift**: after a page is served, some of its records are modified "now", so they move
  behind the current offset (a naive pager skips the record that slides into their place);
- **late arrivals**: some records are hidden until ``late_after_calls`` calls have been made,
  then appear with their original (past) modification time;
- **duplicates**: a page repeats the previous page's last record;
- **bad records**: some records are served corrupted (a wrong type, a missing required field,
  an enum violation) as the simulator's :class:`~ferry.sandbox._quality.DefectTable` says;
- **volume drops**: a share (or all) of the records of a modification-time span is hidden from
  every query, from the ``volume_drop_after_calls``-th query on.
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
from ferry.sandbox._quality import Defect, DefectTable, choose_defect, unit

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
        defects: How this simulator's records go wrong when ``Faults.bad_record_rate`` (or
            ``bad_record_ids``) asks for bad records; ``None``: its records never do.
    """

    def __init__(
        self,
        records: Iterable[tuple[str, datetime, Row]],
        *,
        dice: FaultDice,
        touch: Callable[[Row, datetime], None] | None = None,
        clock: Callable[[], datetime] = datetime.now,
        defects: DefectTable | None = None,
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
        self._defects: dict[str, Defect] = {}
        self._volume_units: dict[tuple[int, str], float] = {}
        self._drop_cache: tuple[tuple[int, int] | None, set[str]] = (None, set())
        self.bad: dict[str, str] = {}
        """Ids of the records served corrupted -> their kind (``wrong_type`` ...); tests read this."""
        self.bad_fields: dict[str, str] = {}
        """Ids of the records served corrupted -> the path of the corrupted field."""
        late_rate = dice.faults.late_rate
        for rid, modified, row in records:
            self._rows[rid] = row
            self._modified[rid] = modified
            if dice.chance(late_rate):
                self._hidden_until[rid] = dice.faults.late_after_calls
            if defects is not None:
                self._spoil(rid, row, defects)
        self.late = sorted(self._hidden_until)
        """Ids that arrive late."""

    def _spoil(self, rid: str, row: Row, defects: DefectTable) -> None:
        """Make seeded record ``rid`` a bad one if the faults choose it (see :mod:`._quality`)."""
        faults = self.dice.faults
        chosen = rid in faults.bad_record_ids or (
            faults.bad_record_rate > 0 and unit(faults.seed, "bad", rid) < faults.bad_record_rate
        )
        picked = (
            choose_defect(defects, rid, row, seed=faults.seed, kinds=faults.bad_record_kinds)
            if chosen
            else None
        )
        if picked is not None:
            self.bad[rid], self._defects[rid] = picked
            self.bad_fields[rid] = picked[1].path

    def served(self, rid: str) -> Row:
        """Record ``rid`` as a query serves it: a corrupted copy for a bad record, else the stored
        record itself (never mutate it)."""
        defect = self._defects.get(rid)
        row = self._rows[rid]
        return row if defect is None else defect.apply(row)

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
        """Whether record ``rid`` exists and a query sees it now (a late or dropped one not)."""
        with self._lock:
            return rid in self._rows and not self._hidden(rid, self._dropping())

    def _hidden(self, rid: str, dropping: bool) -> bool:
        """Whether a query now misses record ``rid``: late, or dropped while ``dropping``."""
        until = self._hidden_until.get(rid)
        return (until is not None and self.calls < until) or (dropping and self._drops(rid))

    def _hidden_ids(self, dropping: bool) -> set[str]:
        """Every id a query now misses (see :meth:`_hidden`), for a scan."""
        hidden = {rid for rid, until in self._hidden_until.items() if self.calls < until}
        if dropping:
            hidden |= self._drop_set()
        return hidden

    # -- volume drops -------------------------------------------------------------------------

    def _dropping(self) -> bool:
        """Whether the volume fault hides records at the current query count."""
        faults = self.dice.faults
        if faults.volume_drop <= 0 and not faults.volume_zero:
            return False
        first = faults.volume_drop_after_calls
        last = None if faults.volume_drop_calls is None else first + faults.volume_drop_calls
        return self.calls > first and (last is None or self.calls <= last)

    def _drops(self, rid: str) -> bool:
        """Whether the volume fault hides record ``rid`` while it is active."""
        faults = self.dice.faults
        modified = self._modified[rid]
        if faults.volume_drop_since is not None and modified < faults.volume_drop_since:
            return False
        if faults.volume_drop_until is not None and modified >= faults.volume_drop_until:
            return False
        return faults.volume_zero or self._volume_unit(faults.seed, rid) < faults.volume_drop

    def _volume_unit(self, seed: int, rid: str) -> float:
        """:func:`unit` of ``rid`` for the volume fault, computed once (a scan asks for every id)."""
        key = (seed, rid)
        value = self._volume_units.get(key)
        if value is None:
            value = self._volume_units[key] = unit(seed, "volume", rid)
        return value

    def _drop_set(self) -> set[str]:
        """Every id :meth:`_drops` hides, kept until a record or the faults change."""
        key = (self._version, id(self.dice))
        if self._drop_cache[0] != key:
            self._drop_cache = (key, {rid for rid in self._modified if self._drops(rid)})
        return self._drop_cache[1]

    @property
    def dropped(self) -> list[str]:
        """Ids the volume fault hides from a query made now, in order (tests read this)."""
        with self._lock:
            if not self._dropping():
                return []
            return self._order(self._drop_set())

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
            self._forget_defect(rid)
            self._version += 1

    def _forget_defect(self, rid: str) -> None:
        """A written or deleted record is no longer the seeded bad one."""
        self._defects.pop(rid, None)
        self.bad.pop(rid, None)
        self.bad_fields.pop(rid, None)

    def remove(self, rid: str) -> None:
        """Delete record ``rid``: no later query sees it (a record deleted at the vendor)."""
        with self._lock:
            self._rows.pop(rid, None)
            self._modified.pop(rid, None)
            self._hidden_until.pop(rid, None)
            self._forget_defect(rid)
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
            dropping = self._dropping()
            key = (start, end, end_inclusive, where_key, self._version, still_hidden, dropping)
            if cacheable and key in self._selections:
                self._selections.move_to_end(key)
                return self._selections[key]
            chosen = self._order(self._scan(start, end, where, end_inclusive, dropping))
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
        dropping: bool,
    ) -> list[str]:
        chosen = []
        hidden = self._hidden_ids(dropping)
        for rid, modified in self._modified.items():
            if rid in hidden:
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

        The returned dicts are the stored records (:meth:`served`: a corrupted copy for a bad
        record); callers serialise them, never mutate them.
        """
        with self._lock:
            chosen = ids[offset : offset + size]
            rows = [self.served(rid) for rid in chosen]
            faults = self.dice.faults
            if offset > 0 and offset <= len(ids) and self.dice.chance(faults.duplicate_rate):
                previous = ids[offset - 1]
                rows.insert(0, self.served(previous))
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
