"""Idempotent K3Cloud saves: a Model that would create a record is first matched to the record
that may already exist, so a save retried after a lost answer updates it instead of creating a
second bill.

Before a ``Save``/``BatchSave``, every Model without its primary key (``FID``, or the form's own
key such as ``FCUSTID``) is looked up by its number -- ``FBillNo`` for bills, ``FNumber`` for
base data -- or by the field named in Ferry's ``MatchField`` option (e.g. ``FName`` for
customers numbered by K3Cloud itself). One ``ExecuteBillQuery`` per field covers the whole
delivery (``field in ('a','b',...)``); a Model whose value is found gets that record's key and
the save becomes an update. Models with a key, or with no value to match on, are sent as they are.

Scope: the record (bill head) level. Entry rows appended without ``FEntryID`` (seed 004's
receipt lines with ``IsDeleteEntry: false``) are not matched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["PRIMARY_KEYS", "match_existing"]

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
