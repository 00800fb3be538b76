"""Status operations: ``Submit``, ``Audit``, ``UnAudit``, ``Delete``, ``Forbid``/``Enable`` and ``Allocate``.

Targets come from ``data.Ids`` (comma-separated text or an array of internal ids) then
``data.Numbers`` (an array or comma-separated text); ``DIndex`` indexes that combined list.
The document status moves Z/A/D -> B (Submit) -> C (Audit) -> D (UnAudit) (docs/vendor-protocols.md §1.5);
an operation the status does not allow fails that target with MsgCode 11 (the document's
[GUESS] "11 or 12"), an unknown target with MsgCode 10. Other targets still succeed; the
answer is ``{"Result": {"ResponseStatus": ...}}`` with ``SuccessEntitys`` ``{Id, Number, DIndex}``.

``Allocate`` (named in §1.2, body not documented; shaped after the other operations):
``data.PkIds`` (ids) and ``data.TOrgIds`` (organisation ids or numbers); each allocation is
recorded (:attr:`Store.allocations`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ferry.sandbox._k3cloud_replies import (
    DATA_NOT_FOUND,
    FIELD_NOT_FOUND,
    NOT_ALLOWED,
    PARAMETER_ERROR,
    VALIDATION_FAILED,
    K3Error,
    RowError,
    response_status,
)
from ferry.sandbox._k3cloud_save import allocate_to
from ferry.sandbox._k3cloud_store import FormStore, Store

__all__ = ["OPERATIONS", "allocate", "operate"]

Record = dict[str, Any]

STATUS_NAMES = {"Z": "暂存", "A": "创建", "B": "审核中", "C": "已审核", "D": "重新审核"}

OPERATIONS: dict[str, tuple[str, frozenset[str], str | None]] = {
    "submit": ("提交", frozenset("ZAD"), "B"),
    "audit": ("审核", frozenset("B"), "C"),
    "unaudit": ("反审核", frozenset("C"), "D"),
    "delete": ("删除", frozenset("ZAD"), None),
    "forbid": ("禁用", frozenset("ZABCD"), None),
    "enable": ("反禁用", frozenset("ZABCD"), None),
}
"""Lower-cased operation -> (name, statuses it starts from, status it leaves)."""


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
    return [str(v).strip() for v in items if str(v).strip()]


def _targets(form: FormStore, data: dict[str, Any], ids_key: str = "ids") -> list[tuple[str, Record | None]]:
    found: list[tuple[str, Record | None]] = []
    for pk in _list(data.get(ids_key)):
        found.append((pk, form.get(int(pk)) if pk.isdigit() else None))
    for number in _list(data.get("numbers")):
        found.append((number, form.by_number(number)))
    return found


def operate(store: Store, form_id: Any, operation: str, data: dict[str, Any], now: datetime) -> Record:
    """Apply ``operation`` (a key of :data:`OPERATIONS`) to the targets of ``data``.

    Raises:
        K3Error: Unknown form or operation, or no target given.
    """
    form = store.form(form_id)
    if operation not in OPERATIONS:
        raise K3Error(NOT_ALLOWED, f"操作“{operation}”不存在")
    title, allowed, after = OPERATIONS[operation]
    targets = _targets(form, data)
    if not targets:
        raise K3Error(PARAMETER_ERROR, "data 数据包中的参数 Ids 和 Numbers 不能同时为空")
    meta = form.meta
    errors: list[RowError] = []
    successes: list[Record] = []
    for index, (label, record) in enumerate(targets):
        if record is None:
            errors.append(RowError(f"编码或内码为“{label}”的数据不存在", None, index, DATA_NOT_FOUND))
            continue
        status = str(record.get("FDocumentStatus") or "A")
        if status not in allowed:
            name = STATUS_NAMES.get(status, status)
            errors.append(
                RowError(
                    f"“{record.get(meta.number)}”的数据状态为“{name}”，不能{title}",
                    None,
                    index,
                    VALIDATION_FAILED,
                )
            )
            continue
        pk = record[meta.pk]
        successes.append({"Id": pk, "Number": record.get(meta.number), "DIndex": index})
        if operation == "delete":
            form.delete(pk)
            continue
        if operation in ("forbid", "enable"):
            record["FForbidStatus"] = "B" if operation == "forbid" else "A"
        else:
            record["FDocumentStatus"] = after
            if after == "C":
                record["FApproveDate"] = now
        record["FModifyDate"] = now
        form.put(record)
    return {"Result": {"ResponseStatus": response_status(errors=errors, successes=successes)}}


def allocate(store: Store, form_id: Any, data: dict[str, Any]) -> Record:
    """Allocate the ``PkIds`` records to every organisation of ``TOrgIds``.

    Raises:
        K3Error: Unknown form or organisation, or nothing to allocate.
    """
    form = store.form(form_id)
    orgs = _list(data.get("torgids"))
    targets = _targets(form, data, "pkids")
    if not orgs or not targets:
        raise K3Error(PARAMETER_ERROR, "data 数据包中的参数 PkIds 和 TOrgIds 不能为空")
    known = store.forms["org_organizations"]
    for org in orgs:
        if (known.get(int(org)) if org.isdigit() else None) is None and known.by_number(org) is None:
            raise K3Error(FIELD_NOT_FOUND, f"组织“{org}”不存在")
    errors: list[RowError] = []
    successes: list[Record] = []
    for index, (label, record) in enumerate(targets):
        if record is None:
            errors.append(RowError(f"内码为“{label}”的数据不存在", None, index, DATA_NOT_FOUND))
            continue
        pk = record[form.meta.pk]
        for org in orgs:
            allocate_to(store, form, pk, org)
        successes.append({"Id": pk, "Number": record.get(form.meta.number), "DIndex": index})
    return {"Result": {"ResponseStatus": response_status(errors=errors, successes=successes)}}
