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

__all__ = ["MAX_STATEMENT_CHARS", "row_renderer", "rows_renderer"]

MAX_STATEMENT_CHARS = 250_000
"""Longest ``VALUES`` list per statement, in characters: at most 1,000,000 bytes of UTF-8,
under every server's ``max_allowed_packet`` (PyMySQL's own executemany splits at 1,024,000)."""

_BACKSLASH_ESCAPES = str.maketrans(
    {"\0": "\\0", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z", '"': '\\"', "'": "\\'"}
)
_QUOTE_ONLY = str.maketrans({"'": "''"})
_NEEDS_BACKSLASH = re.compile(r"[\x00\\\n\r\x1a\"']").search
_NEEDS_QUOTE = re.compile("'").search
_SHAPES = 256
"""Most row templates cached per renderer (one per distinct tuple of value types)."""


def _escapes_nothing(text: str) -> bool:
    """Whether ``text`` holds no character the server's string-literal escapes rewrite but the
    single quote (counted apart). Substring tests: several times cheaper than one regex."""
    return not ("\\" in text or '"' in text or "\n" in text or "\r" in text or "\0" in text or "\x1a" in text)


def _numbers_plain(text: str) -> bool:
    """Whether the Decimals ``str`` wrote into ``text`` are finite and without exponent, i.e.
    exactly ``format(value, "f")`` (``str`` switches to ``1E+3`` / ``1E-7`` notation only with
    an ``E+``/``E-`` and writes ``NaN``, ``sNaN``, ``Infinity`` for the others)."""
    return not ("E+" in text or "E-" in text or "NaN" in text or "Infinity" in text)


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


def _plain_row(text: str) -> bool:
    """:func:`_escapes_nothing` and :func:`_numbers_plain` in one call."""
    return not (
        "\\" in text
        or '"' in text
        or "\n" in text
        or "\r" in text
        or "\0" in text
        or "\x1a" in text
        or "E+" in text
        or "E-" in text
        or "NaN" in text
        or "Infinity" in text
    )


def _any_row(text: str) -> bool:
    return True


_ACCEPT = {  # (NO_BACKSLASH_ESCAPES, the row has a Decimal) -> what a fast-path text is checked for
    (False, False): _escapes_nothing,
    (False, True): _plain_row,
    (True, False): _any_row,
    (True, True): _numbers_plain,
}

Shape = tuple[str, int, Callable[[str], bool]]
"""A row template for ``%``, the quotes it writes, and the check its rendered text must pass."""


def _shape(kinds: tuple[type, ...], quote_only: bool) -> Shape | None:
    """A ``%`` template for rows of these exact value types (strings unescaped, Decimals as
    ``str`` writes them), the number of quotes it writes and the check of its output; ``None``
    when a type needs the general path."""
    parts = []
    for kind in kinds:
        if kind is str:
            parts.append("'%s'")
        elif kind is int or kind is Decimal:
            parts.append("%s")
        elif kind is type(None):
            parts.append("%.0sNULL")  # takes the None and writes none of its text
        else:
            return None
    accept = _ACCEPT[quote_only, Decimal in kinds]
    return "(" + ",".join(parts) + ")", 2 * kinds.count(str), accept


def row_renderer(dbapi_connection: Any) -> Callable[[Sequence[Any]], str]:
    """Return a function rendering one parameter tuple as ``(v1,v2,...)`` for this connection
    (its ``NO_BACKSLASH_ESCAPES`` state is read now: call once per statement batch). It
    raises ``ValueError`` for a value SQL cannot hold (an infinite or NaN number).

    Rows of strings, ints, Decimals and NULLs take a fast path: one ``%`` format per row with
    a template cached per tuple of value types, kept only when the text shows that no value
    needed escaping (no quote beyond the template's own, no character the server escapes) and
    that every Decimal came out as ``format(value, "f")`` writes it (no exponent, no NaN or
    Infinity); any other row is rendered value by value."""
    return _Renderer(dbapi_connection).row


def rows_renderer(dbapi_connection: Any) -> Callable[[Sequence[Sequence[Any]]], list[str]]:
    """Return a function rendering many parameter tuples, each as :func:`row_renderer` does.

    The fast path's text is checked once for all the rows rendered by templates instead of
    row by row; when that check fails (a value needed escaping), those rows are rendered
    again one by one, so every row comes out exactly as :func:`row_renderer` writes it."""
    return _Renderer(dbapi_connection).rows


class _Renderer:
    """The literals of one connection's session (its ``NO_BACKSLASH_ESCAPES`` state)."""

    def __init__(self, dbapi_connection: Any) -> None:
        status = dbapi_connection.server_status
        self.quote_only = quote_only = bool(status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES)
        table, needs = (_QUOTE_ONLY, _NEEDS_QUOTE) if quote_only else (_BACKSLASH_ESCAPES, _NEEDS_BACKSLASH)
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

        self.literal = literal
        self.shapes: dict[tuple[type, ...], Shape | None] = {}

    def shape(self, kinds: tuple[type, ...]) -> Shape | None:
        """The template of rows of these value types (cached), or ``None``."""
        try:
            return self.shapes[kinds]
        except KeyError:
            shape = _shape(kinds, self.quote_only)
            if len(self.shapes) < _SHAPES:
                self.shapes[kinds] = shape
            return shape

    def row(self, values: Sequence[Any]) -> str:
        """One row: by its template when the text shows it is right, else value by value."""
        shape = self.shape(tuple(map(type, values)))
        if shape is not None:
            template, quotes, accept = shape
            rendered = template % (values if type(values) is tuple else tuple(values))
            if rendered.count("'") == quotes and accept(rendered):
                return rendered
        return "(" + ",".join(map(self.literal, values)) + ")"

    def rows(self, rows: Sequence[Sequence[Any]]) -> list[str]:
        """Every row as :meth:`row` renders it (and the first row :meth:`row` fails on fails
        first); the templates' text is checked once for all the rows they rendered."""
        texts: list[str | None] = []
        quotes = 0
        accepts: set[Callable[[str], bool]] = set()
        shapes = self.shapes
        for values in rows:
            kinds = tuple(map(type, values))
            try:
                shape = shapes[kinds]
            except KeyError:
                shape = self.shape(kinds)
            if shape is None:
                texts.append(None)  # rendered value by value below, in order
                continue
            texts.append(shape[0] % (values if type(values) is tuple else tuple(values)))
            quotes += shape[1]
            accepts.add(shape[2])
        if not _all_plain([text for text in texts if text is not None], quotes, accepts):
            return [self.row(values) for values in rows]
        return [self.row(values) if text is None else text for text, values in zip(texts, rows, strict=True)]


def _all_plain(texts: list[str], quotes: int, accepts: set[Callable[[str], bool]]) -> bool:
    """Whether rows rendered by templates writing ``quotes`` quotes in all pass every check
    of their templates (``accepts``): the checks of :meth:`_Renderer.row`, on all at once."""
    joined = ",".join(texts)
    return joined.count("'") == quotes and all(accept(joined) for accept in accepts)
