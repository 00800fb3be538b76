"""Idempotent K3Cloud saves: a Model that would create a record is first matched to the record
that may already exist, so a save retried after a lost answer updates it instead of creating a
second bill.

Before a ``Save``/``BatchSave``, every Model without its primary key (``FID``, or the form's own
key such as ``FCUSTID``) is looked up by its number -- ``FBillNo`` for bills, ``FNumber`` for
base data -- or by the field named in Ferry's ``MatchField`` option (e.g. ``FName`` for
customers numbered by K3Cloud itself). One ``ExecuteBillQuery`` per field covers the whole
delivery (``field in ('a','b',...)``); a Model whose value is found gets that record's key and
the save becomes an update. Models with a key, or with no value to match on, are sent as they are.

Entry rows are matched too when Ferry's ``MatchEntry`` option names an entry and its key field
(``F_PBLH_Entity.F_PBLH_CollectionNo``): for Models that update a record, rows without
``FEntryID`` whose key is already on that record get its ``FEntryID``, so a retried append
(seed 004's receipt lines, ``IsDeleteEntry: false``) updates the line instead of adding it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["PRIMARY_KEYS", "match_entries", "match_existing"]

PRIMARY_KEYS: dict[str, str] = {
    "bd_customer": "FCUSTID",
    "bd_material": "FMATERIALID",
    "bd_supplier": "FSUPPLIERID",
    "bd_department": "FDEPTID",
    "bd_empinfo": "FID",
    "bd_stock": "FSTOCKID",
    "org_organizations": "FORGID",
}
"""Primary keys of base-data forms (bills use ``FID``)."""

NUMBER_FIELDS = ("FBillNo", "FNumber")
Query = Callable[[str, str, str, int], list[list[Any]]]
"""``query(form_id, field_keys, filter_string, limit)`` -> rows (ExecuteBillQuery)."""


def _key(form_id: str) -> str:
    return PRIMARY_KEYS.get(form_id.lower(), "FID")


def _value(model: Mapping[str, Any], name: str) -> Any:
    for key, value in model.items():
        if str(key).lower() == name.lower():
            return value
    return None


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def match_existing(form_id: str, models: list[Any], match_field: str | None, query: Query) -> int:
    """Give the Models that match an existing record its key (in place); return how many."""
    key = _key(form_id)
    todo: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for model in models:
        if not isinstance(model, dict):
            continue
        if _value(model, key) not in (None, "", 0, "0") or _value(model, "FID") not in (None, "", 0, "0"):
            continue
        fields = (match_field,) if match_field else NUMBER_FIELDS
        for field in fields:
            value = _value(model, field)
            if isinstance(value, dict):  # a reference written as {"FNumber": ...}
                value = value.get("FNumber")
            if value not in (None, ""):
                todo.setdefault(field, {}).setdefault(str(value), []).append(model)
                break
    matched = 0
    for field, wanted in todo.items():
        values = list(wanted)
        for start in range(0, len(values), 500):
            part = values[start : start + 500]
            where = f"{field} in ({','.join(_quote(v) for v in part)})"
            for row in query(form_id, f"{key},{field}", where, len(part) * 2):
                if len(row) < 2 or row[0] in (None, 0, ""):
                    continue
                for model in wanted.get(str(row[1]), []):
                    model[key] = row[0]
                    for name in [k for k in model if str(k) in NUMBER_FIELDS and model[k] in (None, "")]:
                        del model[name]  # an empty number would blank the existing record's
                    matched += 1
                wanted.pop(str(row[1]), None)
    return matched


def match_entries(form_id: str, models: list[Any], match_entry: str | None, query: Query) -> int:
    """Give entry rows that already exist on their record its ``FEntryID`` (in place); return how many."""
    if not match_entry or "." not in match_entry:
        return 0
    entry, field = (part.strip() for part in match_entry.split(".", 1))
    key = _key(form_id)
    wanted: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for model in models:
        if not isinstance(model, dict):
            continue
        pk = _value(model, key) or _value(model, "FID")
        rows = _value(model, entry)
        if pk in (None, "", 0, "0") or not isinstance(rows, list):
            continue
        for row in rows:
            if isinstance(row, dict) and _value(row, "FEntryID") in (None, "", 0, "0"):
                value = _value(row, field)
                if value not in (None, ""):
                    wanted.setdefault((str(pk), str(value)), []).append(row)
    matched = 0
    ids = sorted({pk for pk, _ in wanted})
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        where = (
            f"{key} in ({','.join(part)})"
            if all(p.isdigit() for p in part)
            else (f"{key} in ({','.join(_quote(p) for p in part)})")
        )
        for row in query(form_id, f"{key},{entry}_FEntryID,{field}", where, 10_000):
            if len(row) < 3 or row[1] in (None, 0, ""):
                continue
            for target in wanted.pop((str(row[0]), str(row[2])), []):
                target["FEntryID"] = row[1]
                matched += 1
    return matched
