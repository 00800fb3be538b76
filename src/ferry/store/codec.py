"""JSON encoding of ledger content and stored texts, shared by the store and the engine.

Content is stored as JSON text exactly as :func:`dumps` writes it (the source's key order is
kept, so a record reads in the vendor's order). Its *hash* is taken over the canonical form
(keys sorted at every level), so two fetches of the same record hash alike whatever order the
vendor sent the keys in::

    >>> content_hash({"b": 1, "a": 2}) == content_hash({"a": 2, "b": 1})
    True

Numbers are kept exactly: an integer beyond 64 bits is written and read back as the same
integer (:mod:`ferry._json`), never as a float. Values JSON cannot hold are turned into text the way a reader expects: ``Decimal`` -> its
exact digits (``"12.50"``, never a float), ``datetime``/``date``/``time`` -> ISO 8601,
``timedelta`` -> ``"HH:MM:SS[.ffffff]"`` (MySQL ``TIME``), ``bytes`` -> UTF-8 text (Base64
when not UTF-8), ``set`` -> sorted list. Anything else raises ``TypeError`` naming the type.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson

from ferry import _json
from ferry._redact import redact

__all__ = [
    "TEXT_LIMIT",
    "content_hash",
    "dumps",
    "encode_content",
    "loads",
    "to_text",
    "truncate_text",
]

TEXT_LIMIT = 64 * 1024
"""Most bytes (UTF-8) kept of a stored response or error text."""

_BLAKE2B_128 = hashlib.blake2b(digest_size=16)
"""An empty BLAKE2b-128 hasher, copied for each record (never updated itself)."""
_OPTS = orjson.OPT_NON_STR_KEYS
_CANONICAL = orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS


def _default(value: Any) -> Any:
    """Turn a value orjson cannot serialize natively into a JSON-safe one."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _timedelta_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"cannot store a value of type {type(value).__name__} as JSON: {value!r:.80}")


def _timedelta_text(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.days * 86400 + value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{text}.{value.microseconds:06d}" if value.microseconds else text


def dumps(value: Any) -> str:
    """Serialize ``value`` to compact JSON text (key order kept).

    Raises:
        TypeError: ``value`` holds a type with no JSON form (the message names it).
    """
    return _json.dumps(value, default=_default).decode("utf-8")


def loads(text: str | bytes) -> Any:
    """Parse JSON text written by :func:`dumps` (integers of any size exact)."""
    return _json.loads(text)


def content_hash(content: Any) -> str:
    """Return the 32-hex-digit BLAKE2b-128 hash of ``content``'s canonical JSON (sorted keys)."""
    canonical = _json.dumps(content, default=_default, sort_keys=True)
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def encode_content(content: Any) -> tuple[str, str]:
    """Return ``(json_text, content_hash)`` for one record's content, as the ledger stores it.

    Raises:
        TypeError: ``content`` holds a lone surrogate, nesting deeper than 254 levels or a
            type with no JSON form (the message says which).
    """
    try:  # orjson straight away: this runs for every record of every page
        text = orjson.dumps(content, default=_default)  # str keys only: cheaper than _OPTS
        canonical = orjson.dumps(content, default=_default, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a key that is not a str, an integer beyond 64 bits, or no JSON form
        text, canonical = _encode_rare(content)
    digest = _BLAKE2B_128.copy()  # cheaper than a new hasher with its keyword arguments
    digest.update(canonical)
    return text.decode("utf-8"), digest.hexdigest()


def _encode_rare(content: Any) -> tuple[bytes, bytes]:
    """Stored text and canonical text of content :func:`encode_content`'s first try refused
    (raises ``TypeError`` again when it has no JSON form)."""
    try:
        return (
            orjson.dumps(content, default=_default, option=_OPTS),
            orjson.dumps(content, default=_default, option=_CANONICAL),
        )
    except TypeError:  # an integer beyond 64 bits, or no JSON form (raised again, as TypeError)
        return _json.dumps(content, default=_default), _json.dumps(content, default=_default, sort_keys=True)


def truncate_text(text: str, limit: int = TEXT_LIMIT) -> str:
    """Cut ``text`` so its UTF-8 form is at most ``limit`` bytes, marking the cut.

    A cut text ends with ``…[truncated, N bytes in total]`` and never splits a character.
    """
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    marker = f"…[truncated, {len(raw)} bytes in total]"
    keep = max(limit - len(marker.encode("utf-8")), 0)
    return raw[:keep].decode("utf-8", errors="ignore") + marker


def to_text(value: Any, limit: int = TEXT_LIMIT) -> str | None:
    """Store-ready text for a response or error: ``None`` stays ``None``, ``str`` is kept,
    anything else becomes JSON; secrets are masked (:func:`ferry._redact.redact`: a target
    that echoes a header or a password never gets it into the store), then the result is
    truncated to ``limit`` UTF-8 bytes."""
    if value is None:
        return None
    text = value if isinstance(value, str) else dumps(value)
    return truncate_text(redact(text), limit)
