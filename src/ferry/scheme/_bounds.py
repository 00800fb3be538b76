"""What a scheme or metadata document may be: its size, its nesting and its numbers.

``ferry validate`` reads whatever file a user points it at, and some are hostile or simply
wrong: a FIFO or a device, a 2 GB log, JSON nested 500 levels deep, an integer of 5,000
digits. Each is reported with the file and where in it (never an internal error, never a hang):

- only regular files are read, at most :data:`MAX_BYTES` (YAML: :data:`MAX_YAML_BYTES`,
  because its parser is slow); a FIFO is never opened;
- nesting deeper than :data:`MAX_DEPTH` is refused before the parsers and validators, which
  recurse, see it;
- integers must fit in 64 bits and numbers be finite (no ``NaN``, no ``1e400``);
- YAML aliases may not expand to more than :data:`MAX_VALUES` values (a "billion laughs").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import yaml

from ferry._text import clip

__all__ = [
    "DEPTH_HINT",
    "JSON5_MAX_CHARS",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "MAX_YAML_BYTES",
    "SIZE_HINT",
    "VALUE_HINT",
    "BoundedYamlLoader",
    "HugeInteger",
    "TooDeep",
    "first_bad_value",
    "json_int",
    "json_too_deep",
]

MAX_BYTES = 16 * 1024 * 1024
"""Largest scheme or metadata file read (JSON); a QEasy metadata file is a few kilobytes."""
MAX_YAML_BYTES = 1024 * 1024
"""Largest YAML file read: the YAML parser reads about 0.2 MB a second."""
JSON5_MAX_CHARS = 64 * 1024
"""JSON that neither strict JSON nor JSONC accepts is tried as JSON5 only up to this size:
the JSON5 parser reads about 100 KB a second."""
MAX_DEPTH = 100
"""Deepest nesting of objects and arrays (a metadata ``children`` level is two)."""
MAX_VALUES = 1_000_000
"""Most values one document may hold, YAML aliases counted each time they are used."""
INT_BOUND = 2**63
_PY_INT_DIGITS = 4300  # int() refuses longer digit strings (sys.get_int_max_str_digits)


class HugeInteger:
    """Stands in for an integer too long to convert, so the document check can name its path."""

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("+-"))


class TooDeep(Exception):
    """A document nests deeper than :data:`MAX_DEPTH`; ``mark`` is where (YAML)."""

    def __init__(self, mark: Any) -> None:
        super().__init__(f"nesting deeper than {MAX_DEPTH} levels")
        self.mark = mark


def json_int(text: str) -> int | HugeInteger:
    """``parse_int`` for :func:`json.loads`: an int, or a :class:`HugeInteger` past Python's limit."""
    if len(text) > _PY_INT_DIGITS:
        return HugeInteger(text)
    return int(text)


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|//[^\n]*|/\*.*?(?:\*/|\Z)|[\[\]{}]', re.DOTALL)


def json_too_deep(text: str, limit: int = MAX_DEPTH) -> int | None:
    """Offset of the first bracket nested deeper than ``limit`` in JSON/JSONC ``text``, or ``None``."""
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        char = text[match.start()]
        if char in "[{":
            depth += 1
            if depth > limit:
                return match.start()
        elif char in "]}":
            depth -= 1
    return None


class BoundedYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader that stops at :data:`MAX_DEPTH` and never fails on a value.

    An integer too long to convert becomes a :class:`HugeInteger`; a value its constructor
    rejects (``2024-02-30``) is a YAML error at the value's line and column.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, counting how deep collections nest."""
        if not self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        """Construct one value; a value error becomes a located YAML error."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid {node.tag.rsplit(':', 1)[-1]} value: {exc}", node.start_mark
            ) from exc


def _yaml_int(loader: yaml.SafeLoader, node: Any) -> int | HugeInteger:
    text = str(loader.construct_scalar(node)).replace("_", "")
    if len(text) > _PY_INT_DIGITS and text.lstrip("+-").isdigit():
        return HugeInteger(text)
    return int(yaml.SafeLoader.construct_yaml_int(loader, node))


BoundedYamlLoader.add_constructor("tag:yaml.org,2002:int", _yaml_int)


def _key_text(key: Any) -> str:
    if isinstance(key, int) and not isinstance(key, bool) and key.bit_length() > 64:
        return "<huge integer>"
    return clip(str(key), 40)


def _path(loc: tuple[Any, ...]) -> str:
    shown = loc if len(loc) <= 12 else loc[:12]
    out = ""
    for key in shown:
        text = _key_text(key)
        if isinstance(key, int) and not isinstance(key, bool):
            out += f"[{text}]"
        else:
            out += f".{text}" if out else text
    return out + ("…" if len(shown) < len(loc) else "")


def _problem(value: Any) -> str | None:
    if isinstance(value, HugeInteger):
        return f"integer of {value.digits:,} digits is too large"
    if isinstance(value, int) and not isinstance(value, bool) and not -INT_BOUND <= value < INT_BOUND:
        digits = (
            len(str(abs(value))) if value.bit_length() < 14_000 else int(value.bit_length() * 0.30103) + 1
        )
        return f"integer of {digits:,} digits is too large"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    return None


_SCALARS = (str, bool, type(None))
_CONTAINERS = (dict, list, tuple)
VALUE_HINT = "write integers of at most 18 digits and finite numbers; quote long numeric codes as strings"
DEPTH_HINT = f"a scheme or metadata document nests at most {MAX_DEPTH} levels of objects and arrays"
SIZE_HINT = f"a document holds at most {MAX_VALUES:,} values: do YAML aliases repeat each other?"


def _children(value: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, key  # keys are values too: YAML allows any scalar as a key
            yield key, item
    else:
        yield from enumerate(value)


def first_bad_value(data: Any) -> tuple[str, str, str] | None:
    """``(path, problem, hint)`` of a value a scheme must not hold, or ``None``.

    Integers must fit in 64 bits, numbers be finite, nesting (YAML aliases included, which
    may refer to themselves) stay within :data:`MAX_DEPTH` and the document hold at most
    :data:`MAX_VALUES` values, aliases counted each time they are used. Iterative and
    bounded: safe on any input.
    """
    if not isinstance(data, _CONTAINERS):
        problem = _problem(data)
        return None if problem is None else ("", problem, VALUE_HINT)
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    seen = 0
    while stack:
        value, loc = stack.pop()
        if len(loc) > MAX_DEPTH:
            return _path(loc), f"nesting deeper than {MAX_DEPTH} levels", DEPTH_HINT
        containers = []
        for key, item in _children(value):
            seen += 1
            if isinstance(item, _CONTAINERS):
                containers.append((item, (*loc, key)))
            elif not isinstance(item, _SCALARS) and (problem := _problem(item)) is not None:
                return _path((*loc, key)), problem, VALUE_HINT
        if seen > MAX_VALUES:
            return _path(loc), f"more than {MAX_VALUES:,} values", SIZE_HINT
        stack.extend(reversed(containers))
    return None
