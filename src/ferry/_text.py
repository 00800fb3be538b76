r"""Echoing user input in messages at a readable length.

A message quotes what was wrong (``unknown connection 'kuaimai2'``), but the value can be a
10 MB string from a hostile file or request. :func:`clip` keeps a short text as it is and cuts
a long one to its head, an ellipsis and its full length, so no message grows with its input::

    clip("A" * 10_485_760, 20)    # 'AAAAAAAAAAAAAAAAAAA… (10,485,760 characters)'
    shown("A" * 10_485_760, 20)   # "'AAAAAAAAAAAAAAAAAA…' (10,485,760 characters)"
    shown(["x"] * 10**6)          # "['x', 'x', 'x', 'x', 'x', 'x', ...]"
    printable("a\x00b.yaml")      # 'a\\x00b.yaml' (the NUL escaped)
"""

from __future__ import annotations

import re
import reprlib
from typing import Any

__all__ = ["CLIP", "clip", "printable", "shown"]

CLIP = 200
"""Characters of an echoed value kept in a message."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = CLIP
_REPR.maxother = CLIP
_REPR.maxlong = 40


def clip(text: str, limit: int = CLIP) -> str:
    """``text`` itself when at most ``limit`` characters, else its head, ``…`` and its length."""
    if len(text) <= limit:
        return text
    return f"{text[: max(limit - 1, 1)]}… ({len(text):,} characters)"


def printable(text: str, limit: int = CLIP) -> str:
    """``text`` with control characters escaped (``\\x00``, ``\\n``), cut by :func:`clip`:
    a file name or value from outside can then be printed on one terminal line."""
    return clip(_CONTROL.sub(lambda m: repr(m.group())[1:-1], text), limit)


def shown(value: Any, limit: int = CLIP) -> str:
    """``repr(value)`` cut to about ``limit`` characters, without building the repr of a huge
    container or a number with thousands of digits first."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        head = repr(value[: limit - 3])
        return f"{head[:-1]}…{head[0]} ({len(value):,} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"<integer of about {int(value.bit_length() * 0.30103):,} digits>"
    return clip(_REPR.repr(value), limit)
