"""Decoding a page so that one bad record never sinks the others.

A page body is decoded whole by :func:`ferry._json.loads` (orjson; exact integers). When that
fails, it is read again leniently: the envelope is split without recursion, the records array
is cut into its items, and each item is decoded on its own. An item that cannot be stored as it
is (``NaN``, ``Infinity``, ``1e400``, a lone surrogate, invalid UTF-8, nesting deeper than the
ledger keeps, broken JSON, a value that is not an object) takes its place in the records as a
:class:`~ferry.connectors.base.Rejected` carrying its raw bytes and the reason; the collector
stores it as a dead letter. Only a broken envelope (an HTML error page, a cut-off body) still
fails the page, as a :class:`~ferry.errors.RetriableError` of the connector.

Which array holds the records: the one at ``records_path`` when the connector knows it (the
http connector), else the first array met on the way down from the part that failed (every
vendor's records array is the outermost array of its answer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ferry._json import MAX_DEPTH, DecodeError, ascii_text, depth, dumps, exact_loads, loads
from ferry.connectors.base import Rejected

__all__ = ["decode_page", "reject_non_objects"]

_WS = re.compile(r"[ \t\n\r]*")
# Possessive quantifiers: no backtracking, so every scan is linear even in hostile text.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_SCALAR = re.compile(r'(?:[^"\[\]{},]++|"(?:[^"\\]++|\\.)*+")*+', re.DOTALL)
"""A scalar (or garbage) up to the next delimiter outside a string."""
_BRACKET = re.compile(r'(?:[^"\[\]{}]++|"(?:[^"\\]++|\\.)*+")*+([\[\]{}])', re.DOTALL)
"""Everything up to the next bracket outside a string, the bracket captured."""
_JSON_TYPES = {str: "a string", int: "a number", float: "a number", bool: "a boolean", list: "an array"}


def decode_page(content: bytes, records_path: str | None = None) -> Any:
    """The decoded page; records that cannot be stored as they are become ``Rejected``.

    Raises:
        DecodeError: The body is not JSON even leniently (outside its records).
    """
    try:
        return loads(content)
    except DecodeError as whole:
        failure = whole
    reader = _Lenient(content.decode("utf-8", "surrogateescape"), records_path)
    try:
        document = reader.document()
    except DecodeError:
        raise failure from None
    if not reader.found:  # nothing record by record: the page's own error stands
        raise failure
    return document


def reject_non_objects(records: list[Any]) -> list[Any]:
    """``records`` with every item that is not a JSON object replaced by a ``Rejected``."""
    return [
        record if isinstance(record, dict) else _not_an_object(ascii_text(record).encode(), record, i)
        for i, record in enumerate(records)
    ]


def _not_an_object(raw: bytes, value: Any, position: int) -> Rejected:
    kind = "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)
    return Rejected(raw, f"the record is {kind}, not a JSON object", position)


class _Lenient:
    """One lenient read of a page's text (decoded with ``surrogateescape``: invalid bytes kept)."""

    def __init__(self, text: str, records_path: str | None) -> None:
        self.text = text
        self.path = None if records_path is None else [p for p in records_path.split(".") if p]
        self.found = False
        """Whether a records array was read item by item."""

    def document(self) -> Any:
        start = _WS.match(self.text, 0).end()  # type: ignore[union-attr]
        end = self.end_of(start)
        if self.text[end:].strip():
            raise DecodeError(f"extra data after the JSON value at char {end}")
        return self.value(start, end, self.path)

    def value(self, start: int, end: int, path: list[str] | None) -> Any:
        """The value at ``text[start:end]``; ``path`` is what remains of ``records_path``."""
        opener = self.text[start : start + 1]
        container = opener in ("{", "[")
        if path == [] and opener == "[":
            return self.records(start)
        if path and container:
            return self.container(start, path)
        try:
            return self.strict(start, end)
        except DecodeError:
            if path is not None or not container:
                raise
        return self.records(start) if opener == "[" else self.container(start, None)

    def container(self, start: int, path: list[str] | None) -> Any:
        """An object or array read member by member; only ``path``'s member (or, without a
        path, any member) may hold the records, every other member must decode strictly."""
        is_object = self.text[start] == "{"
        out: Any = {} if is_object else []
        for index, (key, a, b) in enumerate(self.members(start)):
            name = key if is_object else str(index)
            if path is None:
                value = self.value(a, b, None)
            elif path and name == path[0]:
                value = self.value(a, b, path[1:])
            else:
                value = self.strict(a, b)
            if is_object:
                out[key] = value
            else:
                out.append(value)
        return out

    def records(self, start: int) -> list[Any]:
        self.found = True
        return [self.record(i, a, b) for i, (_, a, b) in enumerate(self.members(start))]

    def record(self, position: int, start: int, end: int) -> Any:
        """One record, or a ``Rejected`` saying why it cannot be stored as it is."""
        span = self.text[start:end]
        raw = span.encode("utf-8", "surrogateescape")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Rejected(raw, f"invalid UTF-8 at byte {exc.start} of the record", position)
        levels = depth(span) if span.count("[") + span.count("{") > MAX_DEPTH else 0
        if levels > MAX_DEPTH:
            return Rejected(
                raw, f"nested {levels} levels deep; the ledger keeps at most {MAX_DEPTH}", position
            )
        try:
            value = exact_loads(span)
        except DecodeError as exc:
            return Rejected(raw, str(exc), position)
        # Without a records_path the connector reads the rows itself (K3Cloud's are arrays).
        if not isinstance(value, dict) and self.path is not None:
            return _not_an_object(raw, value, position)
        try:
            dumps(value)
        except TypeError as exc:
            reason = str(exc)
            if "surrogate" in reason:
                reason = "a string holds a lone surrogate (\\ud800-\\udfff), which UTF-8 cannot hold"
            return Rejected(raw, reason, position)
        return value

    def strict(self, start: int, end: int) -> Any:
        return exact_loads(self.text[start:end])

    def members(self, start: int) -> Iterator[tuple[str | None, int, int]]:
        """``(key, value start, value end)`` of each member of the container at ``start``
        (``key`` is ``None`` in an array)."""
        text = self.text
        closer = "}" if text[start] == "{" else "]"
        pos = self._skip(start + 1)
        if text.startswith(closer, pos):
            return
        while True:
            key = None
            if closer == "}":
                match = _STRING.match(text, pos)
                if match is None:
                    raise DecodeError(f"expected a key in double quotes at char {pos}")
                key = json.loads(match.group())
                pos = self._skip(match.end())
                if not text.startswith(":", pos):
                    raise DecodeError(f"expected ':' at char {pos}")
                pos = self._skip(pos + 1)
            end = self.end_of(pos)
            yield key, pos, end
            pos = self._skip(end)
            if text.startswith(",", pos):
                pos = self._skip(pos + 1)
            elif text.startswith(closer, pos):
                return
            else:
                raise DecodeError(f"expected ',' or '{closer}' at char {pos}")

    def end_of(self, start: int) -> int:
        """Where the value starting at ``start`` ends (exclusive); trailing blanks excluded."""
        if self.text[start : start + 1] not in ("{", "["):  # a scalar: up to the next delimiter
            return self._trim(start, _SCALAR.match(self.text, start).end())  # type: ignore[union-attr]
        level, pos = 0, start
        while (match := _BRACKET.match(self.text, pos)) is not None:
            pos = match.end()
            if match.group(1) in "[{":
                level += 1
            else:
                level -= 1
                if level == 0:
                    return pos
        raise DecodeError(f"unterminated array or object starting at char {start}")

    def _skip(self, pos: int) -> int:
        return _WS.match(self.text, pos).end()  # type: ignore[union-attr]

    def _trim(self, start: int, end: int) -> int:
        while end > start and self.text[end - 1] in " \t\n\r":
            end -= 1
        return end
