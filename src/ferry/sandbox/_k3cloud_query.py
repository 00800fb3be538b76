"""``ExecuteBillQuery``, ``BillQuery`` and ``View`` over the store (docs/vendor-protocols.md §1.4, §1.5).

``FieldKeys`` paths: a header field (``FBillNo``), an entry field (``FQty``; the row set becomes
one row per entry row, header values repeated, a bill without entry rows giving one row of
nulls), an entry's id (``FSaleOrderEntry_FEntryID``) and a base-data property after a dot
(``FCustId.FNumber``, ``FCustId.FGroup.FName``); a bare reference gives the internal id.
Values: dates ``yyyy-MM-ddTHH:mm:ss``, amounts as JSON numbers, texts as strings.

Rows come in ``OrderString`` order, else by primary key then entry row (§1.4 [GUESS]); the page
is ``rows[StartRow : min(StartRow + Limit, TopRowCount or ∞)]`` with ``Limit`` 0 or above 10000
meaning 10000 (§1.4 [CONFLICT] resolved to the larger cap).

Errors (codes observed on a real server, adamzhang1987/kingdee-k3cloud-mcp
``docs/session-auth-experiments.md`` R3; the document gives the shape): unknown FormId MsgCode 4
``标识为“X”的业务对象不存在，或者被删除``; unknown field MsgCode 9 ``元数据中标识为X的字段不存在``; a
FilterString that does not parse or convert MsgCode 4 ``GetRealExpress error: ...``; empty
``FieldKeys`` MsgCode 8; missing ``FormId`` MsgCode 5.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from ferry.sandbox._k3cloud_filter import FilterError, compile_filter
from ferry.sandbox._k3cloud_forms import Entry, Field, FormMeta
from ferry.sandbox._k3cloud_replies import (
    DATA_NOT_FOUND,
    EXCEPTION,
    FIELD_NOT_FOUND,
    FORM_ID_EMPTY,
    PARAMETER_ERROR,
    K3Error,
)
from ferry.sandbox._k3cloud_store import FormStore, Store

__all__ = ["MAX_LIMIT", "execute_query", "render_value", "view_bill"]

MAX_LIMIT = 10000

Record = dict[str, Any]
Ctx = tuple[Record, dict[str, Record | None]]
"""A query row: the bill and, per entry used, one of its entry rows (or ``None``)."""
Getter = Callable[[Ctx], Any]


def render_value(value: Any) -> Any:
    """A stored value as the vendor writes it in JSON."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    return value


def _unknown(path: str) -> K3Error:
    return K3Error(FIELD_NOT_FOUND, f"元数据中标识为{path}的字段不存在")


class _Resolver:
    """Field paths -> getters, remembering which entries the query touches."""

    def __init__(self, store: Store, meta: FormMeta) -> None:
        self.store = store
        self.meta = meta
        self.used: set[str] = set()

    def __call__(self, path: str) -> Getter:
        parts = path.strip().split(".")
        head = parts[0]
        if head.lower().endswith("_fentryid"):
            entry = self.meta.entry(head[: -len("_FEntryID")])
            if entry is None or len(parts) > 1:
                raise _unknown(path)
            self.used.add(entry.key)
            key = entry.key
            return lambda ctx: (ctx[1].get(key) or {}).get("FEntryID")
        field = self.meta.field(head)
        if field is not None:
            fkey = field.key
            return self._follow(lambda ctx: ctx[0].get(fkey), field, parts[1:], path)
        found = self.meta.entry_field(head)
        if found is None:
            raise _unknown(path)
        entry, field = found
        self.used.add(entry.key)
        ekey, fkey = entry.key, field.key
        return self._follow(lambda ctx: (ctx[1].get(ekey) or {}).get(fkey), field, parts[1:], path)

    def _follow(self, getter: Getter, field: Field, rest: list[str], path: str) -> Getter:
        if not rest:
            return getter
        if field.kind != "ref" or field.ref is None:
            raise _unknown(path)
        target = self.store.forms[field.ref.lower()]
        sub = target.meta.field(rest[0])
        if sub is None:
            raise _unknown(path)
        skey = sub.key

        def get(ctx: Ctx) -> Any:
            pk = getter(ctx)
            record = target.get(int(pk)) if pk else None
            return None if record is None else record.get(skey)

        return self._follow(get, sub, rest[1:], path)


def _param(data: dict[str, Any], name: str) -> Any:
    return data.get(name.lower())


def _int(data: dict[str, Any], name: str) -> int:
    value = _param(data, name)
    if value is None or value == "":
        return 0
    try:
        return int(str(value).strip())
    except ValueError:
        raise K3Error(PARAMETER_ERROR, f"data 数据包中的参数 {name} 的值“{value}”不是有效的整数") from None


def _text(data: dict[str, Any], name: str) -> str:
    value = _param(data, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise K3Error(PARAMETER_ERROR, f"data 数据包中的参数 {name} 必须是字符串")
    return value


def _expand(bills: list[Record], entries: list[Entry]) -> Iterator[Ctx]:
    keys = [e.key for e in entries]
    for bill in bills:
        if not entries:
            yield bill, {}
            continue
        lists: list[list[Record | None]] = [list(bill.get(k) or []) or [None] for k in keys]
        for combo in itertools.product(*lists):
            yield bill, dict(zip(keys, combo, strict=True))


def _sort(rows: list[Ctx], order: str, resolve: _Resolver) -> list[Ctx]:
    specs = []
    for part in order.split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise K3Error(EXCEPTION, f"GetRealExpress error: 排序条件“{part.strip()}”无效")
        specs.append((resolve(words[0]), len(words) == 2 and words[1].lower() == "desc"))
    for getter, desc in reversed(specs):
        rows.sort(key=_sort_key(getter), reverse=desc)  # stable: later keys break ties
    return rows


def _sort_key(getter: Getter) -> Callable[[Ctx], tuple[int, Any]]:
    """SQL Server order: NULL first ascending (last descending), text case-insensitive."""

    def key(ctx: Ctx) -> tuple[int, Any]:
        value = getter(ctx)
        if value is None:
            return 0, 0
        return 1, value.casefold() if isinstance(value, str) else value

    return key


def execute_query(store: Store, data: dict[str, Any], *, as_objects: bool = False) -> list[Any]:
    """One page of rows (arrays in ``FieldKeys`` order, or objects for ``BillQuery``).

    ``data`` is the query's ``data`` object with lower-cased keys.

    Raises:
        K3Error: A missing or unknown form, field or parameter, or a bad FilterString.
    """
    form_id = str(_param(data, "FormId") or "").strip()
    if not form_id:
        raise K3Error(FORM_ID_EMPTY, "data 数据包中的参数 FormId 的值不能为空")
    form = store.form(form_id)
    raw_keys = _param(data, "FieldKeys")
    keys = raw_keys if isinstance(raw_keys, list) else str(raw_keys or "").split(",")
    keys = [str(k).strip() for k in keys if str(k).strip()]
    if not keys:
        raise K3Error(PARAMETER_ERROR, "data 数据包中的参数 FieldKeys 的值不能为空")
    resolve = _Resolver(store, form.meta)
    columns = [resolve(k) for k in keys]
    try:
        condition = compile_filter(_text(data, "FilterString"), resolve)
    except FilterError as exc:
        raise K3Error(EXCEPTION, f"GetRealExpress error: {exc}") from None
    order = _text(data, "OrderString")
    start = max(_int(data, "StartRow"), 0)
    limit = _int(data, "Limit")
    top = _int(data, "TopRowCount")
    limit = MAX_LIMIT if limit <= 0 or limit > MAX_LIMIT else limit
    form.data.tick()
    entries = [e for e in form.meta.entries if e.key in resolve.used]
    try:
        candidates = form.narrow(_text(data, "FilterString"))
        base = form.visible() if candidates is None else candidates
        rows = [ctx for ctx in _expand(base, entries) if condition(ctx) is True]
    except FilterError as exc:
        raise K3Error(EXCEPTION, f"GetRealExpress error: {exc}") from None
    if order.strip():
        rows = _sort(rows, order, resolve)
    end = start + limit if top <= 0 else min(start + limit, top)
    return _page(form, rows, start, max(end - start, 0), columns, keys, as_objects)


def _page(
    form: FormStore,
    rows: list[Ctx],
    start: int,
    size: int,
    columns: list[Getter],
    keys: list[str],
    as_objects: bool,
) -> list[Any]:
    """Serialise the page, then let the Dataset apply drift and duplicate faults to it."""

    def render(ctx: Ctx) -> Any:
        values = [render_value(get(ctx)) for get in columns]
        return dict(zip(keys, values, strict=True)) if as_objects else values

    served = [render(ctx) for ctx in rows[start : start + size]]
    previous = render(rows[start - 1]) if 0 < start <= len(rows) else None
    ids = [str(ctx[0][form.meta.pk]) for ctx in rows]
    if size > 0 and len(form.data.page(ids, start, size)) > len(served) and previous is not None:
        served.insert(0, previous)
    return served


def view_bill(store: Store, form_id: Any, data: dict[str, Any]) -> Record:
    """The ``View`` result: one bill by ``Id`` or ``Number``, references as ``{Id, Number, Name}``.

    Raises:
        K3Error: Unknown form, or MsgCode 10 when no bill matches.
    """
    form = store.form(form_id)
    number, pk = _param(data, "Number"), str(_param(data, "Id") or "").strip()
    record = form.get(int(pk)) if pk.isdigit() else form.by_number(str(number)) if number else None
    if record is None:
        raise K3Error(DATA_NOT_FOUND, f"单据编码“{number or pk}”不存在")
    meta = form.meta

    def show(value: Any, field: Field) -> Any:
        if field.kind != "ref" or field.ref is None:
            return render_value(value)
        target = store.forms[field.ref.lower()]
        ref = target.get(int(value)) if value else None
        if ref is None:
            return None
        return {"Id": value, "Number": ref.get(target.meta.number), "Name": ref.get("FName")}

    result: Record = {"Id": record[meta.pk], "Number": record.get(meta.number)}
    result.update({f.key: show(record.get(f.key), f) for f in meta.fields})
    for entry in meta.entries:
        result[entry.key] = [
            {"FEntryID": row["FEntryID"], **{f.key: show(row.get(f.key), f) for f in entry.fields}}
            for row in record.get(entry.key, [])
        ]
    return result
