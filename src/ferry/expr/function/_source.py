"""Cutting a ``_function`` value into SQL text and bound parameters.

The value is scanned once, before any SQL parsing:

1. ``_findCollection ... _endFind`` (and ``_mongoQuery ... _endFind``) spans are found first;
   each becomes one parameter.
2. String literals are found (MySQL rules: ``\\`` escapes, doubled quotes). A literal that
   contains placeholders becomes one string parameter built from its text pieces; a literal
   without placeholders stays a constant.
3. Every other placeholder (``{x}``, ``{{x}}``, ``{{X|fmt}}``, found by
   :func:`ferry.expr.placeholders.scan`) becomes one parameter.

The SQL parser never sees a value or even a literal's text: parameters become identifiers
``__p<N>`` and literals become ``'~<N>'`` markers. The same cut gives :attr:`Source.sql`,
the expression with ``%s`` per parameter for a DB-API driver (``%`` doubled).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ferry.errors import ExpressionError
from ferry.expr.placeholders import Placeholder, scan

__all__ = ["PREFIX", "LookupSpan", "Slot", "Source", "scan_source"]

PREFIX = "_function"
_LOOKUP_START = re.compile(r"_findCollection\b|_mongoQuery\b")
_LOOKUP_END = re.compile(r"\b_endFind\b")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_ESCAPES = {
    "0": "\0",
    "'": "'",
    '"': '"',
    "b": "\b",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "Z": "\x1a",
    "\\": "\\",
    "%": "\\%",  # MySQL keeps the backslash of \% and \_ (they are LIKE escapes)
    "_": "\\_",
}


@dataclass(frozen=True)
class LookupSpan:
    """A ``_findCollection ... _endFind`` (or ``_mongoQuery ... _endFind``) inside the expression.

    ``text`` is the lookup without ``_endFind`` (``'_findCollection find X from <id> where
    a={{b}}'``); ``start`` is its 0-based offset in the full value and ``end`` the offset just
    past ``_endFind``.
    """

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Slot:
    """One bound parameter: a bare placeholder, a lookup span or a literal with placeholders."""

    kind: str
    """``bare``, ``lookup`` or ``literal``."""
    start: int
    end: int
    raw: str
    items: tuple[Placeholder | LookupSpan, ...]
    pieces: tuple[str | int, ...] = ()
    """For ``literal``: decoded text pieces and indexes into ``items``, in order."""


@dataclass
class Source:
    """The scanned value: parameters, literal markers and the two rewritten texts."""

    text: str
    slots: list[Slot] = field(default_factory=list)
    markers: dict[str, tuple[str, Any]] = field(default_factory=dict)
    """``'~N'`` marker → ``("const", text)`` or ``("param", slot index)``."""
    parse_text: str = ""
    parse_map: list[int] = field(default_factory=list)
    """Offset in ``parse_text`` → offset in ``text``."""
    sql: str = ""

    @property
    def placeholders(self) -> tuple[Placeholder | LookupSpan, ...]:
        """Every placeholder and lookup span the caller must resolve, in order."""
        return tuple(item for slot in self.slots for item in slot.items)

    def column(self, parse_offset: int) -> int:
        """1-based column in the full value of a 0-based offset in ``parse_text``."""
        offset = min(max(parse_offset, 0), len(self.parse_map) - 1)
        return self.parse_map[offset] + 1


def _decode(raw: str, quote: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            out.append(_ESCAPES.get(raw[i + 1], raw[i + 1]))
            i += 2
        elif ch == quote and raw[i + 1 : i + 2] == quote:
            out.append(quote)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _literal_end(text: str, start: int) -> int:
    quote = text[start]
    j = start + 1
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            j += 2
        elif ch == quote:
            if text[j + 1 : j + 2] != quote:
                return j
            j += 2
        else:
            j += 1
    raise ExpressionError(
        "unterminated string literal in _function expression; close it with " + quote, text, start + 1
    )


def _lookup_spans(text: str, begin: int) -> dict[int, LookupSpan]:
    spans: dict[int, LookupSpan] = {}
    pos = begin
    while match := _LOOKUP_START.search(text, pos):
        end = _LOOKUP_END.search(text, match.end())
        if end is None:
            raise ExpressionError(
                f"{match.group()} inside _function must be closed with _endFind", text, match.start() + 1
            )
        body = text[match.start() : end.start()].rstrip()
        spans[match.start()] = LookupSpan(body, match.start(), end.end())
        pos = end.end()
    return spans


class _Writer:
    """Builds ``parse_text`` (with its offset map) and ``sql`` side by side."""

    def __init__(self, src: Source, begin: int) -> None:
        self.src = src
        self.parse: list[str] = ["SELECT "]
        self.map: list[int] = [begin] * 7
        self.sql: list[str] = []

    def copy(self, ch: str, at: int) -> None:
        self.parse.append(ch)
        self.map.append(at)
        self.sql.append("%%" if ch == "%" else ch)

    def replace(self, parse: str, sql: str, at: int) -> None:
        self.parse.append(parse)
        self.map.extend([at] * len(parse))
        self.sql.append(sql)

    def finish(self, end: int) -> None:
        self.src.parse_text = "".join(self.parse)
        self.src.parse_map = [*self.map, end]
        self.src.sql = "".join(self.sql).strip()


def _check_separated(text: str, ph: Placeholder, begin: int) -> None:
    before = text[ph.start - 1] if ph.start > begin else " "
    after = text[ph.end] if ph.end < len(text) else " "
    for ch, at in ((before, ph.start), (after, ph.end + 1)):
        if ch.isalnum() or ch in "_.'\"`{}":
            raise ExpressionError(
                f"placeholder {ph.raw} is glued to {ch!r}; in _function a placeholder is one value, "
                f"so write an operator next to it, or quote it ('{ph.raw}...') to build text",
                text,
                at,
            )


def scan_source(text: str) -> Source:
    """Scan a full ``_function`` value (see module doc).

    Raises:
        ExpressionError: no ``_function`` prefix, an unterminated literal, a lookup without
            ``_endFind``, a placeholder glued to other text.
    """
    if not text.startswith(PREFIX):
        raise ExpressionError("a _function value must start with '_function'", text, 1)
    begin = len(PREFIX)
    if not text[begin:].strip():
        raise ExpressionError("empty _function expression; write a MySQL expression after it", text, begin)
    src = Source(text)
    spans = _lookup_spans(text, begin)
    placeholders = {ph.start: ph for ph in scan(text) if ph.start >= begin}
    out = _Writer(src, begin)
    i = begin
    while i < len(text):
        ch = text[i]
        if i in spans:
            span = spans[i]
            slot = len(src.slots)
            src.slots.append(Slot("lookup", span.start, span.end, text[span.start : span.end], (span,)))
            out.replace(f" __p{slot} ", "%s", i)
            i = span.end
        elif ch in "'\"":
            end = _literal_end(text, i)
            _literal(src, out, placeholders, i, end)
            i = end + 1
        elif i in placeholders:
            ph = placeholders[i]
            _check_separated(text, ph, begin)
            slot = len(src.slots)
            src.slots.append(Slot("bare", ph.start, ph.end, ph.raw, (ph,)))
            out.replace(f" __p{slot} ", "%s", i)
            i = ph.end
        elif (number := _NUMBER.match(text, i)) and not (text[i - 1].isalnum() or text[i - 1] in "_.@$"):
            for offset, digit in enumerate(number.group()):
                out.copy(digit, i + offset)
            out.replace(" ", "", number.end())  # sqlglot reads "0.1e0+0.2e0" as one number
            i = number.end()
        else:
            out.copy(ch, i)
            i += 1
    out.finish(len(text))
    return src


def _literal(src: Source, out: _Writer, placeholders: dict[int, Placeholder], start: int, end: int) -> None:
    text, quote = src.text, src.text[start]
    inside = [ph for at, ph in placeholders.items() if start < at < end]
    marker = f"'~{len(src.markers)}'"
    if not inside:
        src.markers[marker[1:-1]] = ("const", _decode(text[start + 1 : end], quote))
        out.parse.append(marker)
        out.map.extend([start] * len(marker))
        out.sql.append(text[start : end + 1].replace("%", "%%"))
        return
    pieces: list[str | int] = []
    pos = start + 1
    for index, ph in enumerate(inside):
        if ph.start > pos:
            pieces.append(_decode(text[pos : ph.start], quote))
        pieces.append(index)
        pos = ph.end
    if pos < end:
        pieces.append(_decode(text[pos:end], quote))
    slot = len(src.slots)
    src.slots.append(Slot("literal", start, end + 1, text[start : end + 1], tuple(inside), tuple(pieces)))
    src.markers[marker[1:-1]] = ("param", slot)
    out.replace(marker, "%s", start)
