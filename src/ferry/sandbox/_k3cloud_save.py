"""``Save`` and ``BatchSave`` (docs/vendor-protocols.md §1.5).

Each Model (``DIndex`` = its index in the ``Model`` array; 0 for Save) is checked, then stored:

* the primary key (``FID``, or the form's own, e.g. ``FCUSTID``) 0 or absent creates; a
  non-zero key updates that record (MsgCode 10 for the row if it does not exist);
* fields are matched case-insensitively; fields the form does not have are ignored (as the
  server ignores them); status and audit-date fields cannot be set by a save;
* a base-data reference is ``{"FNumber": ..}`` (any case of the key), ``{"FName": ..}`` or
  ``{"Id": ..}``; with ``IsVerifyBaseDataField`` an unknown, unaudited or forbidden one fails
  the row (``FieldName`` = the field key, ``DIndex`` = the row), without it the field stays
  empty;
* entries: rows with a known ``FEntryID`` are updated, the others appended; with
  ``IsDeleteEntry`` (default true) the existing rows not sent are removed from each entry the
  Model sends, entries it does not send are kept;
* ``NeedUpDateFields`` (update only): only the listed fields (``Entry.Field`` or the entry
  key for entry fields) change;
* a new record without a number gets the next one of the form's coding rule (``CUST0041``,
  ``XSDD202400201``) **[GUESS: the document does not describe coding rules]**; a number used
  by another record fails the row;
* ``IsAutoSubmitAndAudit`` leaves the record audited (``C``); otherwise a new record is ``A``
  and an update keeps its status;
* ``distributionOrg`` in ``data`` (not in the document) allocates each saved record to that
  organisation, like a following ``Allocate`` call.

BatchSave with failing rows: the other rows are saved; ``Errors`` name the failing rows by
``DIndex``, ``SuccessEntitys`` the saved ones, and ``IsSuccess`` is false when any row failed
(the document's [GUESS] in §1.5). BatchSave also accepts a single Model object.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ferry.sandbox._k3cloud_filter import parse_datetime
from ferry.sandbox._k3cloud_forms import ORG_IDS, Entry, Field
from ferry.sandbox._k3cloud_query import render_value
from ferry.sandbox._k3cloud_replies import (
    DATA_NOT_FOUND,
    PARAMETER_ERROR,
    K3Error,
    RowError,
    response_status,
)
from ferry.sandbox._k3cloud_store import FormStore, Store

__all__ = ["SaveOptions", "allocate_to", "flag", "save_models"]

Record = dict[str, Any]
LOCKED = frozenset({"fdocumentstatus", "fforbidstatus", "fapprovedate", "fcreatedate", "fmodifydate"})


def flag(data: dict[str, Any], name: str, default: bool) -> bool:
    """A boolean option of ``data`` (lower-cased keys), sent as a JSON boolean, number or text."""
    value = data.get(name.lower())
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _names(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name.lower())
    if isinstance(value, str):
        value = value.split(",")
    return [str(v).strip() for v in value or [] if str(v).strip()]


@dataclass
class SaveOptions:
    """The ``data`` options of a save (defaults as documented)."""

    need_update: list[str] = field(default_factory=list)
    need_return: list[str] = field(default_factory=list)
    delete_entry: bool = True
    verify_base_data: bool = False
    validate: bool = True
    auto_audit: bool = False
    distribution_org: Any = None
    draft: bool = False
    """``Draft``: no validation, a new record is left in status Z (暂存)."""

    @classmethod
    def from_data(cls, data: dict[str, Any], *, draft: bool = False) -> SaveOptions:
        """Read the options of ``data`` (lower-cased keys)."""
        if draft:
            return cls(need_return=_names(data, "NeedReturnFields"), validate=False, draft=True)
        return cls(
            need_update=[n.lower() for n in _names(data, "NeedUpDateFields")],
            need_return=_names(data, "NeedReturnFields"),
            delete_entry=flag(data, "IsDeleteEntry", True),
            verify_base_data=flag(data, "IsVerifyBaseDataField", False),
            validate=flag(data, "ValidateFlag", True),
            auto_audit=flag(data, "IsAutoSubmitAndAudit", False),
            distribution_org=data.get("distributionorg") or None,
        )


class _Row:
    """Saving one Model: collects its errors."""

    def __init__(self, store: Store, form: FormStore, opts: SaveOptions, index: int) -> None:
        self.store, self.form, self.opts, self.index = store, form, opts, index
        self.errors: list[RowError] = []

    def fail(self, message: str, field_name: str | None, code: int = 11) -> None:
        self.errors.append(RowError(message, field_name, self.index, code))

    def convert(self, f: Field, value: Any) -> Any:
        if f.kind == "ref":
            return self.reference(f, value)
        if f.kind == "datetime":
            if value in (None, ""):
                return None
            parsed = parse_datetime(str(value))
            if parsed is None:
                self.fail(f"字段“{f.title}”的值“{value}”不是有效的日期", f.key, PARAMETER_ERROR)
            return parsed
        if f.kind == "decimal":
            try:
                return float(str(value).strip()) if value not in (None, "") else 0.0
            except ValueError:
                self.fail(f"字段“{f.title}”的值“{value}”不是有效的数字", f.key, PARAMETER_ERROR)
                return 0.0
        if isinstance(value, dict):
            lowered = {str(k).lower(): v for k, v in value.items()}
            value = lowered.get("fnumber", lowered.get("fname", ""))
        return "" if value is None else str(value)

    def reference(self, f: Field, value: Any) -> int:
        if f.ref is None or value in (None, "") or (isinstance(value, dict) and not any(value.values())):
            return 0
        found = self.store.resolve(f.ref, value)
        if not self.opts.verify_base_data:
            return 0 if found is None else int(found[self.store.forms[f.ref.lower()].meta.pk])
        shown = value
        if isinstance(value, dict):
            shown = next((v for k, v in value.items() if str(k).lower() in ("fnumber", "number")), value)
        if found is None:
            self.fail(f"字段“{f.title}”的值“{shown}”对应的基础资料不存在", f.key)
            return 0
        if found.get("FDocumentStatus") != "C" or found.get("FForbidStatus") == "B":
            self.fail(f"字段“{f.title}”的值“{shown}”对应的基础资料未审核或已禁用", f.key)
        return int(found[self.store.forms[f.ref.lower()].meta.pk])

    def merge_entry(self, entry: Entry, record: Record, rows: Any, allowed: set[str] | None) -> None:
        if not isinstance(rows, list):
            self.fail(f"单据体“{entry.key}”必须是数组", entry.key, PARAMETER_ERROR)
            return
        existing = {r["FEntryID"]: r for r in record.get(entry.key, [])}
        result = [] if self.opts.delete_entry else list(existing.values())
        for row in rows:
            if not isinstance(row, dict):
                self.fail(f"单据体“{entry.key}”的行必须是对象", entry.key, PARAMETER_ERROR)
                continue
            lowered = {str(k).lower(): v for k, v in row.items()}
            eid = str(lowered.get("fentryid") or "0").strip()
            target = existing.get(int(eid)) if eid.isdigit() and int(eid) else None
            if target is None:
                target = {
                    "FEntryID": self.store.next_entry_id(),
                    **{f.key: _default(f) for f in entry.fields},
                }
                result.append(target)
            elif self.opts.delete_entry:
                result.append(target)
            for key, value in row.items():
                f = entry.field(str(key))
                if f is None:
                    continue
                if (
                    allowed is not None
                    and f"{entry.key}.{f.key}".lower() not in allowed
                    and f.key.lower() not in allowed
                ):
                    continue
                target[f.key] = self.convert(f, value)
        record[entry.key] = result


def _default(f: Field) -> Any:
    return {"ref": 0, "decimal": 0.0, "datetime": None}.get(f.kind, "")


def _pk(model: Record, form: FormStore) -> Any:
    for key, value in model.items():
        if str(key).lower() in (form.meta.pk.lower(), "fid"):
            return value
    return None


def _new_record(form: FormStore, now: datetime) -> Record:
    meta = form.meta
    record: Record = {f.key: _default(f) for f in meta.fields}
    record.update({e.key: [] for e in meta.entries})
    record.update(FDocumentStatus="A", FCreateDate=now, FApproveDate=None)
    if meta.base_data:
        record.update(FForbidStatus="A", FCreateOrgId=ORG_IDS["100"], FUseOrgId=0)
    else:
        record.update(FDate=datetime(now.year, now.month, now.day), FCloseStatus="A", FCancelStatus="A")
        if meta.field("FSaleOrgId"):
            record["FSaleOrgId"] = ORG_IDS["100"]
    return record


def _save_one(
    store: Store, form: FormStore, model: Any, opts: SaveOptions, index: int, now: datetime
) -> tuple[Record | None, list[RowError]]:
    """Check and store one Model: ``(record, [])`` or ``(None, its errors)``."""
    row = _Row(store, form, opts, index)
    meta = form.meta
    if not isinstance(model, dict):
        row.fail("Model 必须是对象", None, PARAMETER_ERROR)
        return None, row.errors
    raw_pk = str(_pk(model, form) or "0").strip()
    if not raw_pk.isdigit():
        row.fail(f"字段“{meta.pk}”的值“{raw_pk}”不是有效的内码", meta.pk, PARAMETER_ERROR)
        return None, row.errors
    creating = int(raw_pk) == 0
    if creating:
        record = _new_record(form, now)
    else:
        existing = form.get(int(raw_pk))
        if existing is None:
            row.fail(f"内码为“{raw_pk}”的数据不存在，或者已被删除", meta.pk, DATA_NOT_FOUND)
            return None, row.errors
        record = copy.deepcopy(existing)
    allowed = set(opts.need_update) if opts.need_update and not creating else None
    for key, value in model.items():
        low = str(key).lower()
        if low in (meta.pk.lower(), "fid") or low in LOCKED:
            continue
        f = meta.field(low)
        entry = meta.entry(low)
        if f is not None and (allowed is None or low in allowed):
            record[f.key] = row.convert(f, value)
        elif entry is not None:
            row.merge_entry(entry, record, value, allowed)
        elif f is None:
            form.ignored.add(str(key))
    if creating and meta.base_data and not record.get("FUseOrgId"):
        record["FUseOrgId"] = record.get("FCreateOrgId") or ORG_IDS["100"]
    _check(row, form, record, creating)
    if row.errors:
        return None, row.errors
    if creating:
        record[meta.pk] = form.next_id
        form.next_id += 1
    record["FModifyDate"] = now
    if opts.draft and creating:
        record["FDocumentStatus"] = "Z"
    if opts.auto_audit:
        record.update(FDocumentStatus="C", FApproveDate=now)
    form.put(record)
    form.saves[record[meta.pk]] += 1
    return record, []


def _check(row: _Row, form: FormStore, record: Record, creating: bool) -> None:
    meta = form.meta
    if row.opts.validate:
        for key in meta.required:
            f = meta.field(key)
            if f is not None and record.get(f.key) in (None, "", 0):
                row.fail(f"字段“{f.title}”是必填项", f.key)
    number = str(record.get(meta.number) or "").strip()
    number_field = meta.field(meta.number)
    title = number_field.title if number_field else meta.number
    if not number:
        if creating and meta.number_prefix:
            record[meta.number] = form.next_number()
        else:
            row.fail(f"字段“{title}”是必填项", meta.number)
        return
    other = form.by_number(number)
    if other is not None and other[meta.pk] != record.get(meta.pk):
        row.fail(f"{title}“{number}”已被其他数据使用，不允许重复", meta.number)


def _returned(store: Store, form: FormStore, record: Record, names: list[str]) -> Record:
    meta = form.meta
    out: Record = {}

    def show(f: Field, value: Any) -> Any:
        if f.kind == "ref" and f.ref:
            return {"FNumber": store.number_of(f.ref, value)}
        return render_value(value)

    for name in names:
        head, _, sub = name.partition(".")
        entry = meta.entry(head) if sub else None
        if entry is not None:
            rows = record.get(entry.key, [])
            target = out.setdefault(entry.key, [{} for _ in rows])
            ef = entry.field(sub)
            for j, row in enumerate(rows):
                if sub.lower() == "fentryid":
                    target[j]["FEntryID"] = row["FEntryID"]
                elif ef is not None:
                    target[j][ef.key] = show(ef, row.get(ef.key))
        elif name.lower() == meta.pk.lower():
            out[meta.pk] = record[meta.pk]
        elif (f := meta.field(name)) is not None:
            out[f.key] = show(f, record.get(f.key))
    return out


def allocate_to(store: Store, form: FormStore, pk: int, org: Any) -> str | None:
    """Record ``pk`` as allocated to ``org`` (id or number); the org's number, or ``None`` if unknown."""
    orgs = store.forms["org_organizations"]
    text = str(org).strip()
    found = (orgs.get(int(text)) if text.isdigit() else None) or orgs.by_number(text)
    if found is None:
        return None
    number = str(found["FNumber"])
    allocated = store.allocations.setdefault((form.meta.form_id, pk), [])
    if number not in allocated:
        allocated.append(number)
    return number


def save_models(
    store: Store, form_id: Any, data: dict[str, Any], now: datetime, *, batch: bool, draft: bool = False
) -> Record:
    """Save the ``Model`` (object, or array for BatchSave) of ``data``; the vendor's answer body.

    ``draft``: the ``Draft`` service (see :class:`SaveOptions`).

    Raises:
        K3Error: Unknown form, or no usable ``Model``.
    """
    form = store.form(form_id)
    models = data.get("model")
    if batch and isinstance(models, dict):
        models = [models]
    if not isinstance(models, list if batch else dict):
        raise K3Error(PARAMETER_ERROR, "data 数据包中的参数 Model 的值不正确")
    opts = SaveOptions.from_data(data, draft=draft)
    errors: list[RowError] = []
    successes: list[Record] = []
    returned: list[Record] = []
    for index, model in enumerate(models if batch else [models]):
        record, row_errors = _save_one(store, form, model, opts, index, now)
        if record is None:
            errors.extend(row_errors)
            continue
        pk, number = record[form.meta.pk], record.get(form.meta.number)
        if opts.distribution_org and form.meta.base_data:
            allocate_to(store, form, pk, opts.distribution_org)
        successes.append({"Id": pk, "Number": number, "DIndex": index})
        returned.append(_returned(store, form, record, opts.need_return))
    result: Record = {"ResponseStatus": response_status(errors=errors, successes=successes)}
    if not batch:
        result["Id"] = successes[0]["Id"] if successes else ""
        result["Number"] = successes[0]["Number"] if successes else ""
    result["NeedReturnData"] = returned
    return {"Result": result}
