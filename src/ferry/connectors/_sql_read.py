"""SQL source reads: one LIMIT/OFFSET page of a user's SELECT, rows as JSON-friendly dicts.

Paging appends ``LIMIT :n OFFSET :m`` to the SELECT as written, so its ``ORDER BY`` applies.
(Wrapping an ordered SELECT in a subquery is not safe: MariaDB ignores ``ORDER BY`` inside a
derived table that has no LIMIT.) Only when the SELECT already has its own top-level
``LIMIT``/``OFFSET``/``FETCH`` is it wrapped as ``SELECT * FROM (<sql>) AS ferry_page``.
A stable, total ``ORDER BY`` (ending in a unique key) is required for correct paging:
without it a database may return rows in a different order on each page.
"""

from __future__ import annotations

import base64
import math
import re
import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ferry.connectors.base import Rejected
from ferry.errors import ConfigError

__all__ = ["json_friendly", "paged_sql", "row_record"]

_STRIP = re.compile(
    r"""'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*"|`[^`]*`|--[^\n]*|\#[^\n]*|/\*.*?\*/""",
    re.DOTALL,
)
_PAGING_WORDS = re.compile(r"\b(LIMIT|OFFSET|FETCH)\b", re.IGNORECASE)
_READ_START = re.compile(r"^\s*(\(|SELECT\b|WITH\b|VALUES\b|TABLE\b)", re.IGNORECASE)


def _top_level(sql: str) -> str:
    """``sql`` with literals, comments and parenthesised parts blanked out."""
    flat = _STRIP.sub(" ", sql)
    out, depth = [], 0
    for char in flat:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(char)
    return "".join(out)


@lru_cache(maxsize=256)
def paged_sql(sql: str) -> str:
    """The SELECT with ``:_ferry_limit`` / ``:_ferry_offset`` paging applied (see module doc).

    Raises:
        ConfigError: The statement is not a query (SELECT, WITH, VALUES, TABLE).
    """
    body = sql.strip().rstrip(";").rstrip()
    if not _READ_START.match(_STRIP.sub(" ", body)):
        raise ConfigError(
            f"source SQL must be a SELECT (got {body[:80]!r})\n"
            "  hint: put the query in api or otherRequest.main_sql, e.g. SELECT ... ORDER BY id"
        )
    if _PAGING_WORDS.search(_top_level(body)):
        return f"SELECT * FROM ({body}) AS ferry_page LIMIT :_ferry_limit OFFSET :_ferry_offset"
    return f"{body}\nLIMIT :_ferry_limit OFFSET :_ferry_offset"


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}"


def row_record(keys: Sequence[str], row: Sequence[Any], position: int) -> dict[str, Any]:
    """One result row as a record (:func:`json_friendly` values), or a :class:`Rejected` in its
    place when a column holds a number JSON and the ledger cannot keep (``NaN``, ``Infinity``:
    PostgreSQL floats allow them) -- a dead letter with the reason, never a silent ``null``."""
    record = dict(zip(keys, map(json_friendly, row), strict=True))
    bad = [key for key, value in record.items() if type(value) is float and not math.isfinite(value)]
    if bad:
        columns = ", ".join(f"{key}={record[key]!r}" for key in bad)
        reason = f"column {columns} is not a finite number (JSON and the ledger cannot keep it)"
        return Rejected(repr(record).encode("utf-8", "backslashreplace"), reason, position)
    return record


def json_friendly(value: Any) -> Any:
    """A database value as JSON: Decimal -> exact text, datetime -> ``YYYY-MM-DD HH:MM:SS``,
    date/time -> ISO text, TIME intervals -> ``HH:MM:SS``, bytes -> UTF-8 text (or
    ``base64:...``), UUID -> text; str/int/float/bool/None and JSON columns pass through."""
    if value is None or isinstance(value, str | int | float | bool | dict | list):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)
