"""Which records a generic HTTP target's 2xx answer acknowledges (``write_ack`` of the connection).

Without ``write_ack``, the HTTP status is the API's acknowledgement: a 2xx answer delivers every
record of the call. With it, the answer must also hold a success code at ``code_path`` and,
with ``id_path``, the id the API promises for each record; a record the answer does not
acknowledge is ``ok=False`` with a message quoting the answer, and climbs the retry ladder::

    shop_api:
      type: http
      base_url: https://api.example.com/v1
      write_ack: {code_path: code, ok_codes: [0], id_path: data.id}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ferry.connectors._dotted import MISSING, get_path
from ferry.connectors.base import Delivery, Outcome
from ferry.connectors.specs import WriteAck

__all__ = ["acknowledged"]

_EMPTY = (None, "", 0, "0")


def acknowledged(
    ack: WriteAck | None, delivery: Delivery, answer: Any, where: str, quote: Callable[[str], str]
) -> list[Outcome]:
    """One outcome per record of ``delivery`` from a 2xx ``answer`` (parsed JSON, or text).

    ``where`` names the connection and call; ``quote`` renders the answer's text (redacted, cut).
    """
    ids = delivery.record_ids
    refused = _code_refusal(ack, answer) if ack is not None else None
    if refused is not None:
        error = f"{where}: {refused}: {_quoted(answer, quote)}"
        return [Outcome(rid, ok=False, response=answer, error=error) for rid in ids]
    if ack is None or not ack.id_path:
        return [Outcome(rid, ok=True, response=answer) for rid in ids]
    return _by_id(
        ack.id_path, delivery, answer, f"{where}: the answer does not acknowledge the record", quote
    )


def _by_id(
    path: str, delivery: Delivery, answer: Any, prefix: str, quote: Callable[[str], str]
) -> list[Outcome]:
    """Each record is acknowledged by a non-empty id at ``path`` (its own item for a list body)."""
    ids = delivery.record_ids
    listed = isinstance(delivery.body, list)
    found = _ids(answer, path, len(ids) if listed else None)
    outcomes = []
    for index, rid in enumerate(ids):
        if _is_id(_item(found, index) if listed else found):
            outcomes.append(Outcome(rid, ok=True, response=answer))
            continue
        item = f" for item {index}" if listed else ""
        error = f"{prefix}: no id at {path!r}{item}: {_quoted(answer, quote)}"
        outcomes.append(Outcome(rid, ok=False, response=answer, error=error))
    return outcomes


def _code_refusal(ack: WriteAck, answer: Any) -> str | None:
    """Why the business code at ``code_path`` refuses the write, or ``None``."""
    if not ack.code_path:
        return None
    code = get_path(answer, ack.code_path)
    if code is not MISSING and str(code) in {str(c) for c in ack.ok_codes}:
        return None
    shown = "no code" if code is MISSING else f"code {code!r}"
    return (
        f"the answer has {shown} at {ack.code_path!r}, not one of {', '.join(str(c) for c in ack.ok_codes)}"
    )


def _ids(answer: Any, path: str, count: int | None) -> Any:
    """The value at ``path``; with ``*``, the list of values under each item (``MISSING`` when
    the list is absent). ``count``: records of a list body, whose ids must form a list that long."""
    head, star, tail = path.partition("*")
    if star:
        items = get_path(answer, head.rstrip("."))
        values = [get_path(i, tail.lstrip(".")) for i in items] if isinstance(items, list) else MISSING
    else:
        values = get_path(answer, path)
    if count is not None:
        return values if isinstance(values, list) and len(values) == count else MISSING
    if star:  # one record: a list of exactly one item
        return values[0] if isinstance(values, list) and len(values) == 1 else MISSING
    return values


def _item(values: Any, index: int) -> Any:
    return values[index] if isinstance(values, list) and index < len(values) else MISSING


def _is_id(value: Any) -> bool:
    if value is MISSING or isinstance(value, bool | list | dict):
        return False
    return value not in _EMPTY


def _quoted(answer: Any, quote: Callable[[str], str]) -> str:
    text = answer if isinstance(answer, str) else orjson.dumps(answer, default=str).decode()
    return quote(text)
