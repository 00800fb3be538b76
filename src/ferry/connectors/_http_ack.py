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
    if ack is None:
        return [Outcome(rid, ok=True, response=answer) for rid in ids]
    if ack.code_path:
        code = get_path(answer, ack.code_path)
        if code is MISSING or str(code) not in {str(c) for c in ack.ok_codes}:
            shown = "no code" if code is MISSING else f"code {code!r}"
            error = (
                f"{where}: the answer has {shown} at {ack.code_path!r}, not one of "
                f"{', '.join(str(c) for c in ack.ok_codes)}: {_quoted(answer, quote)}"
            )
            return [Outcome(rid, ok=False, response=answer, error=error) for rid in ids]
    if not ack.id_path:
        return [Outcome(rid, ok=True, response=answer) for rid in ids]
    found = _ids(answer, ack.id_path, len(ids) if isinstance(delivery.body, list) else None)
    outcomes = []
    for index, rid in enumerate(ids):
        value = found if not isinstance(delivery.body, list) else _item(found, index)
        if _is_id(value):
            outcomes.append(Outcome(rid, ok=True, response=answer))
            continue
        error = (
            f"{where}: the answer does not acknowledge the record: no id at {ack.id_path!r}"
            f"{'' if not isinstance(delivery.body, list) else f' for item {index}'}: {_quoted(answer, quote)}"
        )
        outcomes.append(Outcome(rid, ok=False, response=answer, error=error))
    return outcomes


def _ids(answer: Any, path: str, count: int | None) -> Any:
    """The value at ``path``; with ``*``, the list of values under each item (``MISSING`` when
    the list is absent). ``count``: records of a list body, whose ids must form a list that long."""
    head, star, tail = path.partition("*")
    if not star:
        value = get_path(answer, path)
        return value if count is None or (isinstance(value, list) and len(value) == count) else MISSING
    items = get_path(answer, head.rstrip("."))
    if not isinstance(items, list) or (count is not None and len(items) != count):
        return MISSING
    values = [get_path(item, tail.lstrip(".")) for item in items]
    return values if count is not None else (values[0] if len(values) == 1 else MISSING)


def _item(values: Any, index: int) -> Any:
    return values[index] if isinstance(values, list) and index < len(values) else MISSING


def _is_id(value: Any) -> bool:
    if value is MISSING or isinstance(value, bool | list | dict):
        return False
    return value not in _EMPTY


def _quoted(answer: Any, quote: Callable[[str], str]) -> str:
    text = answer if isinstance(answer, str) else orjson.dumps(answer, default=str).decode()
    return quote(text)
