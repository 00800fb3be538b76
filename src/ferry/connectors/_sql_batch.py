"""The ``batchexecute`` statement: parsing ``INSERT|REPLACE INTO t (cols) VALUES [tail]``,
turning record payloads into parameter tuples, and generating multi-row statements."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from operator import itemgetter
from typing import Any

import orjson

from ferry.errors import ConfigError

__all__ = [
    "InsertTemplate",
    "adapt_params",
    "adapt_sqlite_value",
    "adapt_value",
    "adapt_values",
    "parse_insert",
    "row_tuples",
]

_INSERT = re.compile(
    r"""^\s*
    (?P<verb>(?:INSERT|REPLACE)(?:\s+(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY))*\s+INTO)\s+
    (?P<table>(?:`[^`]*`|"[^"]*"|\[[^\]]*\]|[^\s(`"\[])+)\s*
    \((?P<cols>[^()]*)\)\s*
    VALUES?\b\s*(?P<rest>.*?)\s*;?\s*$""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
# A placeholder tuple the author left after VALUES, e.g. "(...)", "(?, ?)", "(%s,%s)", "(:a, :b)".
_PLACEHOLDER_TUPLE = re.compile(r"^\(\s*(?:(?:\.\.\.|…|\?|%s|:\w+)\s*,?\s*)*\)\s*", re.DOTALL)
_JSONISH = frozenset({dict, list, tuple})
_SQLITE_NATIVE = frozenset({str, int, float, bytes, type(None)})


@dataclass(frozen=True)
class InsertTemplate:
    """A parsed ``batchexecute`` ``main_sql``."""

    head: str
    """``INSERT INTO t (c1, c2)`` exactly as written (whitespace normalised)."""
    columns: tuple[str, ...]
    """Column names as written (quotes kept), in order."""
    tail: str
    """Text after the generated VALUES tuples, e.g. ``ON DUPLICATE KEY UPDATE c2=VALUES(c2)``."""

    def statement(self, placeholder: str, rows: int) -> str:
        """``head VALUES (p, p), (p, p) tail`` with ``rows`` tuples of ``placeholder``."""
        one = "(" + ", ".join([placeholder] * len(self.columns)) + ")"
        values = ", ".join([one] * rows)
        return f"{self.head} VALUES {values}{' ' + self.tail if self.tail else ''}"


def parse_insert(main_sql: str) -> InsertTemplate:
    """Parse a ``batchexecute`` ``main_sql``.

    Accepts ``INSERT [IGNORE] INTO t (c1, ...) VALUES`` or ``REPLACE INTO ...``, optionally
    followed by a placeholder tuple such as ``(...)`` (ignored: Ferry generates the tuples) and
    a tail such as ``ON DUPLICATE KEY UPDATE ...`` or ``ON CONFLICT (k) DO UPDATE SET ...``.

    Raises:
        ConfigError: Not of that form; the message quotes the statement and shows the form.
    """
    match = _INSERT.match(main_sql or "")
    form = (
        "INSERT|REPLACE INTO table (col1, col2, ...) VALUES [ON DUPLICATE KEY UPDATE ... | ON CONFLICT ...]"
    )
    if not match:
        raise ConfigError(
            f"otherRequest.main_sql: batchexecute needs {form} (got {_short(main_sql)})\n"
            "  hint: list the columns explicitly and end at VALUES; Ferry generates the value tuples"
        )
    columns = tuple(col.strip() for col in match.group("cols").split(","))
    if not all(columns):
        raise ConfigError(
            f"otherRequest.main_sql: empty column name in the column list (got {_short(main_sql)})"
        )
    rest = _PLACEHOLDER_TUPLE.sub("", match.group("rest"), count=1).strip()
    if rest.startswith("("):
        raise ConfigError(
            f"otherRequest.main_sql: batchexecute generates the VALUES tuples itself, but the statement "
            f"has literal values after VALUES (got {_short(main_sql)})\n  hint: end main_sql at VALUES"
        )
    head = f"{' '.join(match.group('verb').split())} {match.group('table')} ({', '.join(columns)})"
    return InsertTemplate(head=head, columns=columns, tail=rest)


def _short(text: Any) -> str:
    shown = repr(text)
    return shown if len(shown) <= 160 else shown[:157] + "..."


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def adapt_value(value: Any) -> Any:
    """A payload value as a driver parameter: dicts/lists become JSON text, the rest pass through."""
    if type(value) in _JSONISH:
        return orjson.dumps(value, default=_json_default).decode()
    return value


def adapt_sqlite_value(value: Any) -> Any:
    """:func:`adapt_value` plus what sqlite3 cannot bind: Decimal -> text, datetime/date/time ->
    ISO text (``YYYY-MM-DD HH:MM:SS``), bool -> 0/1."""
    kind = type(value)
    if kind in _SQLITE_NATIVE:
        return value
    if kind in _JSONISH:
        return orjson.dumps(value, default=_json_default).decode()
    if kind is bool:
        return int(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return value


def adapt_values(values: tuple[Any, ...], *, sqlite: bool = False) -> tuple[Any, ...]:
    """Adapt a parameter tuple, returning it unchanged (fast) when nothing needs it."""
    if sqlite:
        if _SQLITE_NATIVE.issuperset(map(type, values)):
            return values
        return tuple(adapt_sqlite_value(v) for v in values)
    if _JSONISH.isdisjoint(map(type, values)):
        return values
    return tuple(adapt_value(v) for v in values)


def adapt_params(params: Mapping[str, Any], *, sqlite: bool = False) -> dict[str, Any]:
    """Adapt a parameter mapping (see :func:`adapt_value` / :func:`adapt_sqlite_value`)."""
    adapt = adapt_sqlite_value if sqlite else adapt_value
    return {key: adapt(value) for key, value in params.items()}


def row_tuples(
    rows: Sequence[Any],
    template: InsertTemplate,
    fields: Sequence[str] | None = None,
    *,
    sqlite: bool = False,
) -> tuple[list[tuple[Any, ...] | None], dict[int, str]]:
    """Map each row (a dict keyed by the scheme's request fields, in order) onto the columns.

    The field list is ``fields`` or the first row's keys; field *i* feeds column *i*.

    Returns:
        One parameter tuple per row (``None`` for a row that cannot be mapped) and the
        per-row problems by index.

    Raises:
        ConfigError: The number of fields differs from the number of columns (names both).
    """
    problems: dict[int, str] = {}
    if not rows:
        return [], problems
    if fields is None:
        first = next((row for row in rows if isinstance(row, Mapping)), None)
        fields = list(first.keys()) if first is not None else []
    fields = list(fields)
    if len(fields) != len(template.columns):
        raise ConfigError(
            f"batchexecute: main_sql lists {len(template.columns)} columns {list(template.columns)} but the "
            f"request has {len(fields)} fields {fields}\n"
            "  hint: the request fields map to the columns by position; make both lists the same length"
        )
    getter: Callable[[Any], Any] = itemgetter(*fields)
    if len(fields) == 1:
        one = getter
        getter = lambda row: (one(row),)  # noqa: E731 - itemgetter of one key returns a scalar
    try:
        mapped: list[Any] = list(map(getter, rows))  # fast path: every row has every field
    except (KeyError, TypeError):
        mapped = []
        for index, row in enumerate(rows):
            try:
                mapped.append(getter(row))
            except (KeyError, TypeError):
                missing = [f for f in fields if not isinstance(row, Mapping) or f not in row]
                problems[index] = f"batchexecute: record payload lacks field(s) {missing} (expected {fields})"
                mapped.append(None)
    if sqlite:
        native = _SQLITE_NATIVE.issuperset
        out = [v if v is None or native(map(type, v)) else tuple(map(adapt_sqlite_value, v)) for v in mapped]
    else:
        plain = _JSONISH.isdisjoint
        out = [v if v is None or plain(map(type, v)) else tuple(map(adapt_value, v)) for v in mapped]
    return out, problems
