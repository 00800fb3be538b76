"""JSON that keeps every number exact: the decoder and encoder the connectors and the store share.

orjson is the fast path, but it turns an integer beyond 64 bits into a float (two distinct ids
``18446744073709551616`` and ``18446744073709551617`` both become ``1.8446744073709552e+19``)
and refuses to encode one. Such integers are rare, so they are looked for cheaply (one pass
over the bytes, no parse) and only a document that has one is decoded again with Python's
``json``, whose integers are exact::

    >>> loads(b'{"id": 18446744073709551617}')
    {'id': 18446744073709551617}

Both paths refuse what JSON does not allow and the ledger could not keep: ``NaN`` and
``Infinity``, a number out of a float's range (``1e400``), invalid UTF-8 and nesting deeper
than orjson's 1024 levels. :func:`dumps` encodes what :func:`loads` decoded (integers of any
size included) and refuses lone surrogates and nesting deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["MAX_DEPTH", "DecodeError", "ascii_text", "dumps", "loads"]

MAX_DEPTH = 254
"""Deepest nesting :func:`dumps` encodes (orjson's own limit): a record nested deeper cannot
be stored as it is."""

_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19
_INTEGER = re.compile(rb"-?[0-9]{19,}")
_LOW, _HIGH = -(2**63), 2**64 - 1
"""The integers orjson decodes exactly."""


class DecodeError(ValueError):
    """The text is not JSON Ferry can keep exactly (the message says why and where)."""


def _needs_exact(data: bytes) -> bool:
    """Whether ``data`` may hold an integer orjson would turn into a float.

    One ``translate`` and one substring search (about a quarter of orjson's parse time) rule
    out nearly every page; a run of 19 or more digits is then checked for its range (a digit
    run inside a string only costs the exact decoder's time, never a wrong value).
    """
    if data.translate(_DIGITS).find(_LONG_RUN) < 0:  # find: faster than ``in`` on bytes
        return False
    return any(not _LOW <= int(m.group()) <= _HIGH for m in _INTEGER.finditer(data))


def _refuse_constant(name: str) -> Any:
    raise DecodeError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise DecodeError(f"number {text[:40]} is out of range for a 64-bit float")
    return value


def loads(data: bytes | str) -> Any:
    """Decode JSON ``data`` keeping integers of any size exact.

    Raises:
        DecodeError: ``data`` is not valid JSON, holds ``NaN``/``Infinity``, a number out of a
            float's range, invalid UTF-8, or nesting deeper than 1024 levels.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if not _needs_exact(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(str(exc)) from None
    return exact_loads(raw)


def exact_loads(raw: bytes | str) -> Any:
    """Python's decoder with exact integers and the refusals of :func:`loads` (the slow path)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except UnicodeDecodeError as exc:
        raise DecodeError(f"invalid UTF-8 at byte {exc.start}") from None
    except RecursionError:  # Python's decoder stops near its recursion limit (about 1000 levels)
        raise DecodeError("nesting too deep to decode") from None
    except DecodeError:
        raise
    except ValueError as exc:  # json.JSONDecodeError
        raise DecodeError(f"not valid JSON: {exc}") from None


_BRACKETS = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)


def depth(text: str) -> int:
    """The deepest nesting of brackets in JSON ``text`` (strings skipped); no recursion."""
    level = deepest = 0
    for match in _BRACKETS.finditer(text):
        char = match.group()[0]
        if char in "[{":
            level += 1
            deepest = max(deepest, level)
        elif char in "]}":
            level -= 1
    return deepest


def _python_dumps(value: Any, default: Callable[[Any], Any] | None, sort_keys: bool) -> bytes:
    try:
        text = json.dumps(
            value,
            ensure_ascii=False,
            separators=(",", ":"),
            default=default,
            allow_nan=False,
            sort_keys=sort_keys,
        )
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise TypeError("str is not valid UTF-8: surrogates not allowed") from None
    except RecursionError:
        raise TypeError("Recursion limit reached") from None
    except ValueError as exc:  # allow_nan=False
        raise TypeError(str(exc)) from None


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None, sort_keys: bool = False) -> bytes:
    """Encode ``value`` compactly as orjson does, falling back to Python's encoder only for an
    integer beyond 64 bits (written exactly).

    Raises:
        TypeError: ``value`` holds a lone surrogate, nesting deeper than :data:`MAX_DEPTH`, a
            ``NaN`` in the big-integer fallback, or a type ``default`` does not handle.
    """
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(value, default=default, option=option)
    except orjson.JSONEncodeError as exc:
        if "64-bit" not in str(exc):
            raise TypeError(str(exc)) from None
    return _python_dumps(value, default, sort_keys)


def ascii_text(value: Any) -> str:
    """``value`` as ASCII JSON text whatever it holds (lone surrogates escaped, ``NaN`` written
    as such, any depth, unknown types as their ``str``): how a dead letter shows a parsed
    record that cannot be stored. Iterative, so no nesting is too deep for it."""
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            out.append(item.text)
        elif isinstance(item, dict):
            out.append("{")
            _push_members(stack, [(json.dumps(str(key)) + ":", sub) for key, sub in item.items()], "}")
        elif isinstance(item, list | tuple):
            out.append("[")
            _push_members(stack, [("", sub) for sub in item], "]")
        elif item is None or isinstance(item, bool | int | float):
            out.append(json.dumps(item))
        else:
            out.append(json.dumps(str(item)))
    return "".join(out)


def _push_members(stack: list[Any], members: list[tuple[str, Any]], closer: str) -> None:
    """Push ``(prefix, value)`` members and ``closer`` last-first, so they pop in order."""
    stack.append(_Raw(closer))
    for i in range(len(members) - 1, -1, -1):
        prefix, sub = members[i]
        stack.append(sub)
        stack.append(_Raw(("," if i else "") + prefix))


class _Raw:
    """Literal text on :func:`ascii_text`'s stack."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text
