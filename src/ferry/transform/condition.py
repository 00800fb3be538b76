"""QEasy's ``condition`` filter: outer list OR, inner list AND, applied after the fetch.

A rule on a detail field (``items.name`` where ``items`` is an array of the record) tests
each detail line. With ``strictMode: true`` one failing line fails the rule (and, if no other
group passes, the whole record is dropped). Without it the failing lines are removed from the
record and the rule passes when at least one line remains.

Comparison rules: ``eq``/``neq`` compare as numbers when both sides are numeric, otherwise
as text; ``gt``/``egt``/``lt``/``elt``/``between`` compare as numbers, or as epoch seconds
when the rule value is written ``timestamp:<epoch>`` or the record value is a date-time text;
``like``/``notlike`` test "contains"; ``in``/``notin`` take a list or a comma-separated text;
``isnull`` is true for missing, ``None`` and ``""``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ferry.scheme.metadata import ConditionRule

__all__ = ["RecordFilter", "compile_condition"]

_MISSING = object()
_NUMBER_START = frozenset("0123456789+-.")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        text = value.strip()
        # Most compared texts are codes and names: reject them without an exception.
        if not text or text[0] not in _NUMBER_START:
            return None
        try:
            return Decimal(text)
        except InvalidOperation:
            return None
    return None


def _epoch(value: Any) -> Decimal | None:
    if isinstance(value, datetime):
        return Decimal(str(value.timestamp()))
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("timestamp:"):
            return _number(text[len("timestamp:") :])
        try:
            return Decimal(str(datetime.fromisoformat(text.replace("/", "-")).timestamp()))
        except ValueError:
            return _number(text)
    return _number(value)


def _ordered(actual: Any, expected: Any) -> tuple[Decimal, Decimal] | None:
    if isinstance(expected, str) and expected.strip().startswith("timestamp:"):
        a, b = _epoch(actual), _epoch(expected)
    else:
        a, b = _number(actual), _number(expected)
        if a is None or b is None:
            a, b = _epoch(actual), _epoch(expected)
    return None if a is None or b is None else (a, b)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _members(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [_text(v).strip() for v in value]
    return [part.strip() for part in _text(value).split(",")]


def _equal(actual: Any, expected: Any) -> bool:
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        return a == b
    return _text(actual) == _text(expected)


def _test(op: str, actual: Any, expected: Any) -> bool:
    if op == "isnull":
        return actual is None or actual == ""
    if op == "notnull":
        return not (actual is None or actual == "")
    if op == "eq":
        return _equal(actual, expected)
    if op == "neq":
        return not _equal(actual, expected)
    if op == "like":
        return _text(expected) in _text(actual)
    if op == "notlike":
        return _text(expected) not in _text(actual)
    if op == "in":
        return _text(actual).strip() in _members(expected)
    if op == "notin":
        return _text(actual).strip() not in _members(expected)
    if op == "between":
        low, _, high = _text(expected).partition(",")
        lo, hi = _ordered(actual, low), _ordered(actual, high)
        return lo is not None and hi is not None and lo[1] <= lo[0] <= hi[1]
    pair = _ordered(actual, expected)
    if pair is None:
        return False
    a, b = pair
    return {"gt": a > b, "egt": a >= b, "lt": a < b, "elt": a <= b}[op]


def _get(record: Mapping[str, Any], path: str) -> Any:
    if path in record:
        return record[path]
    node: Any = record
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return _MISSING
    return node


def _detail(record: Mapping[str, Any], heads: list[tuple[str, str]]) -> tuple[str, str, list[Any]] | None:
    """``("items", "name", <the lines>)`` when a rule field ``items.name`` addresses a field of
    the record's array ``items`` (``heads``: the field's ``(prefix, rest)`` splits)."""
    for head, tail in heads:
        lines = _get(record, head)
        if isinstance(lines, list):
            return head, tail, lines
    return None


Test = Callable[[Any], bool]


def _compile_test(op: str, expected: Any) -> Test:
    """``_test(op, actual, expected)`` as a function of ``actual``, with the rule's side
    (its number, text or member list) worked out once instead of per record."""
    if op in ("eq", "neq"):
        return _equality(_number(expected), _text(expected), op == "neq")
    if op in ("like", "notlike"):
        part = _text(expected)
        if op == "like":
            return lambda actual: part in _text(actual)
        return lambda actual: part not in _text(actual)
    if op in ("in", "notin"):
        members = frozenset(_members(expected))
        if op == "in":
            return lambda actual: _text(actual).strip() in members
        return lambda actual: _text(actual).strip() not in members
    return lambda actual: _test(op, actual, expected)


def _equality(number: Decimal | None, text: str, negate: bool) -> Test:
    """``eq`` (or ``neq`` when ``negate``) against a rule value of this number and text."""
    if number is None:  # a text rule value (a code, a name): compared as text, str taken as it is

        def equal_text(actual: Any) -> bool:
            return ((actual if type(actual) is str else _text(actual)) == text) is not negate

        return equal_text

    def equal(actual: Any) -> bool:
        a = _number(actual)
        if a is not None:
            return (a == number) is not negate
        return (_text(actual) == text) is not negate

    return equal


class _Rule:
    """One compiled rule: its test, and the record paths its field may address."""

    __slots__ = ("field", "heads", "strict", "test")

    def __init__(self, rule: ConditionRule) -> None:
        self.field = rule.field
        self.test = _compile_test(rule.logic, rule.value)
        self.strict = rule.strictMode
        parts = rule.field.split(".")
        self.heads = [(".".join(parts[:i]), ".".join(parts[i:])) for i in range(1, len(parts))]
        """``(array path, line field)`` candidates, shortest array path first."""


class RecordFilter:
    """A compiled ``condition``. Call it with a record; get the (possibly trimmed) record or ``None``."""

    def __init__(self, groups: list[list[ConditionRule]]) -> None:
        self.groups = groups
        self._compiled = [[_Rule(rule) for rule in group] for group in groups]

    def __call__(self, record: dict[str, Any]) -> dict[str, Any] | None:
        if not self._compiled:
            return record
        for group in self._compiled:
            kept = self._group(record, group)
            if kept is not None:
                return kept
        return None

    def _group(self, record: dict[str, Any], group: list[_Rule]) -> dict[str, Any] | None:
        current = record
        for rule in group:
            detail = _detail(current, rule.heads) if rule.heads else None
            if detail is None:
                value = _get(current, rule.field)
                if not rule.test(None if value is _MISSING else value):
                    return None
            else:
                kept = _kept_lines(current, rule, *detail)
                if kept is None:
                    return None
                current = kept
        return current


def _kept_lines(
    record: dict[str, Any], rule: _Rule, head: str, tail: str, lines: list[Any]
) -> dict[str, Any] | None:
    """``record`` with only the detail lines that pass ``rule``; ``None`` when none passes, or
    one fails a strict rule."""
    passing = [ln for ln in lines if rule.test(_line_value(ln, tail))]
    if (rule.strict and len(passing) != len(lines)) or not passing:
        return None
    return record if len(passing) == len(lines) else _replace(record, head, passing)


def _line_value(line: Any, tail: str) -> Any:
    if isinstance(line, Mapping):
        value = _get(line, tail)
        return None if value is _MISSING else value
    return None


def _replace(record: dict[str, Any], path: str, lines: list[Any]) -> dict[str, Any]:
    out = copy.copy(record)
    parts = path.split(".")
    node = out
    for part in parts[:-1]:
        node[part] = copy.copy(node[part])
        node = node[part]
    node[parts[-1]] = lines
    return out


def compile_condition(groups: list[list[ConditionRule]]) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """Compile a scheme's ``condition`` into a filter function."""
    return RecordFilter(groups)
