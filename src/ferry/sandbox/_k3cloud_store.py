"""Where the K3Cloud simulator keeps its records: one :class:`~ferry.sandbox.Dataset` per form.

The Dataset gives the data faults (drift, late arrivals, duplicate rows across pages) to every
query; records are stored under ``str(pk)`` with ``FModifyDate`` as their modification time.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ferry.sandbox._dataset import Dataset
from ferry.sandbox._faults import FaultDice
from ferry.sandbox._k3cloud_forms import FORMS, FormMeta, seed_records
from ferry.sandbox._k3cloud_replies import EXCEPTION, K3Error

_KEY_FILTER = re.compile(r"^\s*(\w+)\s*(?:in\s*\(([^()]*)\)|=\s*'?(\d+)'?)\s*$", re.I)

__all__ = ["FormStore", "Store"]

Record = dict[str, Any]


class FormStore:
    """The records of one form."""

    def __init__(
        self, meta: FormMeta, records: list[Record], dice: FaultDice, clock: Callable[[], datetime]
    ) -> None:
        self.meta = meta
        for record in records:
            record[meta.pk] = record.pop("_pk")
        self.data = Dataset(
            ((str(r[meta.pk]), r["FModifyDate"], r) for r in records),
            dice=dice,
            touch=_touch,
            clock=clock,
        )
        self.deleted: set[str] = set()
        self._numbers = {str(r[meta.number]).lower(): r[meta.pk] for r in records if r.get(meta.number)}
        self._number_of = {pk: number for number, pk in self._numbers.items()}
        self.next_id = max((r[meta.pk] for r in records), default=100000) + 1
        self.saves: Counter[int] = Counter()
        """Successful saves per record id."""
        self.ignored: set[str] = set()
        """Model keys saves sent that the form does not have (the server ignores them)."""

    def get(self, pk: int) -> Record | None:
        """The record with internal id ``pk`` (``None`` if unknown or deleted)."""
        if str(pk) in self.deleted:
            return None
        return self.data.get(str(pk))

    def by_number(self, number: str) -> Record | None:
        """The record numbered ``number`` (case-insensitive, like the database)."""
        pk = self._numbers.get(str(number).strip().lower())
        return None if pk is None else self.get(pk)

    def put(self, record: Record) -> None:
        """Insert or replace ``record`` (its ``FModifyDate`` is its modification time)."""
        pk = record[self.meta.pk]
        old = self._number_of.pop(pk, None)
        if old is not None and self._numbers.get(old) == pk:
            del self._numbers[old]
        if record.get(self.meta.number):
            number = str(record[self.meta.number]).lower()
            self._numbers[number] = pk
            self._number_of[pk] = number
        self.deleted.discard(str(pk))
        self.data.put(str(pk), record, record["FModifyDate"])

    def delete(self, pk: int) -> None:
        """Remove record ``pk`` from every later answer."""
        self.deleted.add(str(pk))
        record = self.data.get(str(pk))
        if record is not None and record.get(self.meta.number):
            self._numbers.pop(str(record[self.meta.number]).lower(), None)
            self._number_of.pop(pk, None)

    def restore(self, saved: dict[str, Any]) -> int:
        """Put back saved records (they replace the seeded ones) and deletions; returns the next
        free ``FEntryID`` they leave."""
        top = 0
        for record in copy.deepcopy(saved["records"]):
            self.put(record)
            self.next_id = max(self.next_id, int(record[self.meta.pk]) + 1)
            top = max(top, _last_entry_id(record))
        for pk in saved.get("deleted", []):
            self.delete(int(pk))
        return top + 1

    def visible(self) -> list[Record]:
        """Records a query sees now (late arrivals hidden), in primary-key order."""
        ids = [rid for rid in self.data.select() if rid not in self.deleted]
        ids.sort(key=int)
        return [self.data.get(rid) or {} for rid in ids]

    def narrow(self, filter_string: str) -> list[Record] | None:
        """The visible records a filter of the form ``<pk> in (1,2,...)`` or ``<pk> = 1`` can
        match, in primary-key order; ``None`` for any other filter (the caller scans them all).

        Only the candidates are narrowed: the caller still evaluates the filter on each, so this
        changes how fast an answer comes, never what it is.
        """
        found = _KEY_FILTER.match(filter_string or "")
        if found is None or found.group(1).lower() != self.meta.pk.lower():
            return None
        values = (found.group(2) if found.group(2) is not None else found.group(3)).split(",")
        keys = sorted({int(v.strip().strip("'")) for v in values if v.strip().strip("'").isdigit()})
        records = [self.data.get(str(pk)) for pk in keys if str(pk) not in self.deleted]
        return [r for r in records if r is not None and self.data.visible(str(r[self.meta.pk]))]

    def all(self) -> list[Record]:
        """Every record (late ones included), in primary-key order."""
        rows = [r for r in self.data.all() if str(r[self.meta.pk]) not in self.deleted]
        return sorted(rows, key=lambda r: r[self.meta.pk])

    def next_number(self) -> str:
        """The next free automatic number (``CUST0041``, ``XSDD202400201`` ...)."""
        meta = self.meta
        used = [
            int(n[len(meta.number_prefix) :])
            for n in self._numbers
            if n.startswith(meta.number_prefix.lower()) and n[len(meta.number_prefix) :].isdigit()
        ]
        value = max(used, default=0) + 1
        return f"{meta.number_prefix}{value:0{meta.number_width}d}"


def _touch(record: Record, modified: datetime) -> None:
    record["FModifyDate"] = modified


class Store:
    """Every form's records, and base-data references between them."""

    def __init__(self, size: int, dice: FaultDice, clock: Callable[[], datetime]) -> None:
        self._entry_ids = itertools.count(200001)
        self.forms: dict[str, FormStore] = {
            key: FormStore(meta, seed_records(meta.form_id, size, self._entry_ids), dice, clock)
            for key, meta in FORMS.items()
        }
        self.allocations: dict[tuple[str, int], list[str]] = {}

    def snapshot(self) -> dict[str, Any]:
        """Every form's records (with the ids of deleted ones) and the allocations, as copies:
        what :meth:`restore` needs to show the same data again (``ferry demo``'s next run)."""
        return {
            "forms": {
                key: {"records": copy.deepcopy(form.data.all()), "deleted": sorted(form.deleted)}
                for key, form in self.forms.items()
            },
            "allocations": [[form_id, pk, list(orgs)] for (form_id, pk), orgs in self.allocations.items()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Put back what :meth:`snapshot` returned: saved records replace the seeded ones."""
        top = next(self._entry_ids)
        for key, saved in state.get("forms", {}).items():
            form = self.forms.get(key)
            if form is not None:
                top = max(top, form.restore(saved))
        self.allocations = {(str(f), int(pk)): list(orgs) for f, pk, orgs in state.get("allocations", [])}
        self._entry_ids = itertools.count(top)

    def form(self, form_id: Any) -> FormStore:
        """The store of ``form_id`` (case-insensitive).

        Raises:
            K3Error: MsgCode 4, the vendor's answer to an unknown FormId.
        """
        found = self.forms.get(str(form_id or "").strip().lower())
        if found is None:
            raise K3Error(EXCEPTION, f"标识为“{form_id}”的业务对象不存在，或者被删除")
        return found

    def next_entry_id(self) -> int:
        """A new ``FEntryID``."""
        return next(self._entry_ids)

    def resolve(self, form_id: str, ref: Any) -> Record | None:
        """The base-data record a save's reference names, or ``None``.

        ``{"FNumber": "100"}`` (any case of the key), ``{"FName": ...}``, ``{"Id"|"FID": 1}``,
        or a bare number text.
        """
        target = self.forms[form_id.lower()]
        if isinstance(ref, dict):
            lowered = {str(k).lower(): v for k, v in ref.items()}
            for key in ("fnumber", "number"):
                if lowered.get(key) not in (None, ""):
                    return target.by_number(str(lowered[key]))
            for key in ("id", "fid", target.meta.pk.lower()):
                if str(lowered.get(key) or "").strip().isdigit():
                    return target.get(int(str(lowered[key]).strip()))
            if lowered.get("fname") not in (None, ""):
                name = str(lowered["fname"]).strip().lower()
                return next((r for r in target.all() if str(r.get("FName", "")).lower() == name), None)
            return None
        if ref in (None, ""):
            return None
        return target.by_number(str(ref))

    def view(self, form_id: str, record: Record) -> Record:
        """``record`` for tests: a deep copy with references shown as the referenced FNumber."""
        meta = self.forms[form_id.lower()].meta
        shown = copy.deepcopy(record)
        for f in meta.fields:
            if f.kind == "ref":
                shown[f.key] = self.number_of(f.ref or "", shown.get(f.key))
        for entry in meta.entries:
            for row in shown.get(entry.key, []):
                for f in entry.fields:
                    if f.kind == "ref":
                        row[f.key] = self.number_of(f.ref or "", row.get(f.key))
        return shown

    def number_of(self, form_id: str, pk: Any) -> str | None:
        """The FNumber of base-data record ``pk`` of ``form_id`` (``None`` when unset)."""
        if not pk:
            return None
        target = self.forms[form_id.lower()]
        record = target.get(int(pk))
        return None if record is None else record.get(target.meta.number)


def _last_entry_id(record: Record) -> int:
    """The largest ``FEntryID`` of ``record``'s entry rows (0 without any)."""
    rows = [row for value in record.values() if isinstance(value, list) for row in value]
    return max(
        (int(row["FEntryID"]) for row in rows if isinstance(row, dict) and "FEntryID" in row), default=0
    )
