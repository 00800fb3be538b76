"""MySQL/MariaDB value literals for ``batchexecute`` on PyMySQL: multi-row statements as text.

PyMySQL quotes every parameter in Python through a chain of calls per value (``escape`` ->
``escape_item`` -> the type's encoder), which costs more than everything else a batch write
does on the client. On PyMySQL targets Ferry therefore renders the ``VALUES`` tuples itself:
one type lookup per value; strings escaped with one ``str.translate`` (the server's
string-literal escapes, or only doubled quotes when the session runs with
``NO_BACKSLASH_ESCAPES``); ints, floats, Decimals and NULL written as PyMySQL writes them; any
other type handed to the connection's own ``escape``. The statement text is the one PyMySQL
would have sent, and it is executed without parameters, so a ``%`` in a value is just text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from pymysql.constants import SERVER_STATUS

__all__ = ["MAX_STATEMENT_CHARS", "row_renderer"]

MAX_STATEMENT_CHARS = 250_000
"""Longest ``VALUES`` list per statement, in characters: at most 1,000,000 bytes of UTF-8,
under every server's ``max_allowed_packet`` (PyMySQL's own executemany splits at 1,024,000)."""

_BACKSLASH_ESCAPES = str.maketrans(
    {"\0": "\\0", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z", '"': '\\"', "'": "\\'"}
)
_QUOTE_ONLY = str.maketrans({"'": "''"})
_NEEDS_BACKSLASH = re.compile(r"[\x00\\\n\r\x1a\"']").search
_NEEDS_QUOTE = re.compile("'").search
# In a fast-path row (quotes checked apart): a character to escape, or a non-finite Decimal.
_UNUSUAL = re.compile(r'[\x00\\\n\r\x1a"]|NaN|Infinity').search
_UNUSUAL_QUOTE_ONLY = re.compile("NaN|Infinity").search
_SHAPES = 256
"""Most row templates cached per renderer (one per distinct tuple of value types)."""


def _float(value: float) -> str:
    text = repr(value)
    if text in ("inf", "-inf", "nan"):
        raise ValueError(f"float {text} cannot be written to MySQL (SQL has no infinity or NaN)")
    return text if "e" in text else text + "e0"  # a DOUBLE literal, as PyMySQL writes it


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(
            f"decimal {str(value).lower()} cannot be written to MySQL (SQL has no infinity or NaN)"
        )
    return format(value, "f")


def _shape(kinds: tuple[type, ...]) -> tuple[Callable[..., str], int] | None:
    """A ``str.format`` template for rows of these exact value types (strings unescaped) and
    the number of quotes it writes; ``None`` when a type needs the general path."""
    parts = []
    for index, kind in enumerate(kinds):
        if kind is str:
            parts.append(f"'{{{index}}}'")
        elif kind is int:
            parts.append(f"{{{index}}}")
        elif kind is Decimal:
            parts.append(f"{{{index}:f}}")
        elif kind is type(None):
            parts.append("NULL")
        else:
            return None
    return ("(" + ",".join(parts) + ")").format, 2 * kinds.count(str)


def row_renderer(dbapi_connection: Any) -> Callable[[Sequence[Any]], str]:
    """Return a function rendering one parameter tuple as ``(v1,v2,...)`` for this connection
    (its ``NO_BACKSLASH_ESCAPES`` state is read now: call once per statement batch). It
    raises ``ValueError`` for a value SQL cannot hold (an infinite or NaN number).

    Rows of strings, ints, Decimals and NULLs take a fast path: one ``str.format`` per row
    with a template cached per tuple of value types, kept only when the text shows that no
    value needed escaping (no quote beyond the template's own, no character the server
    escapes, no NaN/Infinity); any other row is rendered value by value."""
    quote_only = bool(dbapi_connection.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES)
    table, needs = (_QUOTE_ONLY, _NEEDS_QUOTE) if quote_only else (_BACKSLASH_ESCAPES, _NEEDS_BACKSLASH)
    unusual = _UNUSUAL_QUOTE_ONLY if quote_only else _UNUSUAL
    escape = dbapi_connection.escape

    def text(value: str) -> str:  # most values need no escape; searching is 3x cheaper than translating
        return "'" + (value if needs(value) is None else value.translate(table)) + "'"

    def null(_value: None) -> str:
        return "NULL"

    encoders: dict[type, Callable[[Any], str]] = {
        str: text,
        int: int.__repr__,
        float: _float,
        Decimal: _decimal,
        type(None): null,
    }
    get = encoders.get

    def literal(value: Any) -> str:
        encode = get(type(value))
        return encode(value) if encode is not None else escape(value)

    shapes: dict[tuple[type, ...], tuple[Callable[..., str], int] | None] = {}

    def render(values: Sequence[Any]) -> str:
        kinds = tuple(map(type, values))
        try:
            shape = shapes[kinds]
        except KeyError:
            shape = _shape(kinds)
            if len(shapes) < _SHAPES:
                shapes[kinds] = shape
        if shape is not None:
            rendered = shape[0](*values)
            if rendered.count("'") == shape[1] and unusual(rendered) is None:
                return rendered
        return "(" + ",".join(map(literal, values)) + ")"

    return render
