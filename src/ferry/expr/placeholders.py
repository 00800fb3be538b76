"""Recognising ``{field}``, ``{{field}}`` and ``{{NAME|formatter}}`` placeholders in text.

Shared by templates, ``_function`` expressions and lookups so that all three agree on what
a placeholder is. A placeholder body is a dotted path of word characters (CJK allowed),
optionally followed by ``|formatter``. JSON braces (``{"a": 1}``) never match, because a
placeholder body cannot start with a quote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["PLACEHOLDER_RE", "Placeholder", "scan"]

_NAME = r"[^\W\d][\w]*(?:\.[\w]+)*"
PLACEHOLDER_RE = re.compile(
    r"\{\{\s*(?P<n2>" + _NAME + r")\s*(?:\|\s*(?P<f2>\w+)\s*)?\}\}"
    r"|\{\s*(?P<n1>" + _NAME + r")\s*(?:\|\s*(?P<f1>\w+)\s*)?\}"
)


@dataclass(frozen=True)
class Placeholder:
    """One placeholder occurrence: ``name`` (a variable or dotted row path) and formatter."""

    name: str
    formatter: str | None
    start: int
    """0-based offset of the opening brace in the scanned text."""
    end: int
    """0-based offset just past the closing brace."""
    raw: str


def scan(text: str) -> Iterator[Placeholder]:
    """Yield every placeholder in ``text`` in order of appearance."""
    for m in PLACEHOLDER_RE.finditer(text):
        name = m.group("n2") or m.group("n1")
        fmt = m.group("f2") or m.group("f1")
        yield Placeholder(name=name, formatter=fmt, start=m.start(), end=m.end(), raw=m.group(0))
