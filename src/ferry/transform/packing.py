"""``operation``: how mapped records are packed into target calls.

- ``none``: one record, one call (body = the payload).
- ``batchArraySave``: ``rows`` records per call; the body is the list of payloads (the
  connector wraps it in the vendor's envelope, e.g. K3Cloud ``{"Model": [...]}``).
- ``merge``: records with equal values of ``keys`` become one document: the first record's
  header fields plus the concatenation of every record's ``bodyName`` array.
- SQL statements (``execute``/``batchexecute``) take the whole batch in one delivery and
  chunk it by their own ``limit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from ferry.connectors.base import Delivery
from ferry.scheme.metadata import OperationSpec

__all__ = ["BATCH_APIS", "pack"]

BATCH_APIS = frozenset({"execute", "batchexecute"})


def pack(
    operation: OperationSpec | None,
    api: str,
    method: str,
    items: Sequence[tuple[str, dict[str, Any]]],
    options: dict[str, Any],
    *,
    whole_batch: bool = False,
    on_no_match: Literal["error", "ok"] = "error",
) -> list[Delivery]:
    """Pack ``(record_id, payload)`` pairs into deliveries, preserving record order.

    ``on_no_match`` (the scheme's ``settings.on_no_match``) is carried on every delivery.
    """
    if not items:
        return []
    op = operation or OperationSpec()
    deliveries = _pack(op, api, method, items, options, whole_batch)
    for delivery in deliveries:
        delivery.on_no_match = on_no_match
    return deliveries


def _pack(
    op: OperationSpec,
    api: str,
    method: str,
    items: Sequence[tuple[str, dict[str, Any]]],
    options: dict[str, Any],
    whole_batch: bool,
) -> list[Delivery]:
    if whole_batch:
        return [_delivery(api, method, items, options, [p for _, p in items])]
    if op.method == "batchArraySave":
        size = op.rows
        return [
            _delivery(api, method, chunk, options, [p for _, p in chunk])
            for chunk in (items[i : i + size] for i in range(0, len(items), size))
        ]
    if op.method == "merge":
        return _merge(op, api, method, items, options)
    return [_delivery(api, method, [item], options, item[1]) for item in items]


def _delivery(
    api: str, method: str, items: Sequence[tuple[str, dict[str, Any]]], options: dict[str, Any], body: Any
) -> Delivery:
    return Delivery(
        api=api,
        method=method,
        body=body,
        record_ids=[rid for rid, _ in items],
        options=options,
        rows=[p for _, p in items],
    )


def _merge(
    op: OperationSpec,
    api: str,
    method: str,
    items: Sequence[tuple[str, dict[str, Any]]],
    options: dict[str, Any],
) -> list[Delivery]:
    groups: dict[tuple[Any, ...], list[tuple[str, dict[str, Any]]]] = {}
    for rid, payload in items:
        key = tuple(str(payload.get(k)) for k in op.keys)
        groups.setdefault(key, []).append((rid, payload))
    out = []
    for members in groups.values():
        body = dict(members[0][1])
        if op.bodyName:
            lines: list[Any] = []
            for _, payload in members:
                part = payload.get(op.bodyName) or []
                lines.extend(part if isinstance(part, list) else [part])
            body[op.bodyName] = lines
        out.append(_delivery(api, method, members, options, body))
    return out
