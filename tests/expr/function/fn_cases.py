"""Loading ``tests/expr/cases/function*.yaml`` and comparing typed results.

Case format (one YAML list per file)::

    - id: decimal-division-keeps-four-decimals      # unique across the function*.yaml files
      expression: "_function {{a}}/{{b}}"           # the full scheme value
      given: {a: 1, b: 3}                            # placeholder values: name -> value
                                                     #   formatter placeholders: "name|fmt" -> value
                                                     #   lookup spans: their text -> value
                                                     #   typed values: {decimal: "12.50"}, {datetime: ...}
      now: "2024-05-01 10:00:00"                     # optional +08:00 wall clock for NOW()/CURDATE()
      expected: {decimal: "0.3333"}                  # {int|decimal|float|str|date|datetime|time|null}
      # or: error: "division by zero"                # substring of str(error)
      #     error_type: ExpressionError              # default RecordError
      mysql: false                                   # only when the expression is not valid MySQL as-is
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from ferry.expr.function import LookupSpan
from ferry.expr.placeholders import Placeholder

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
SHANGHAI = ZoneInfo("Asia/Shanghai")
TYPED_KEYS = {"int", "decimal", "float", "str", "date", "datetime", "time", "null"}


def load_cases() -> list[dict[str, Any]]:
    """Every case of every ``function*.yaml``, with ``file`` added; ids are unique."""
    cases: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in sorted(CASES_DIR.glob("function*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            assert case["id"] not in seen, f"duplicate case id {case['id']}"
            assert ("expected" in case) != ("error" in case), f"{case['id']}: expected xor error"
            seen.add(case["id"])
            if "expected" in case:  # YAML reads the key of {null: true} as None
                case["expected"] = {("null" if k is None else k): v for k, v in case["expected"].items()}
            cases.append({**case, "file": path.stem})
    return cases


def params(cases: list[dict[str, Any]]) -> list[Any]:
    """pytest params named ``file:id``."""
    return [pytest.param(c, id=f"{c['file']}:{c['id']}") for c in cases]


def typed(spec: Any) -> Any:
    """A given value: plain YAML, or a one-key mapping ``{decimal|datetime|date: text}``."""
    if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in TYPED_KEYS:
        return _expected_value(spec)
    if isinstance(spec, list):
        return [typed(item) for item in spec]
    return spec


def _expected_value(spec: dict[str, Any]) -> Any:
    ((kind, text),) = spec.items()
    if kind == "null":
        return None
    if kind == "int":
        return int(text)
    if kind == "decimal":
        return Decimal(str(text))
    if kind == "float":
        return float(text)
    if kind == "str":
        return str(text)
    if kind == "date":
        return date.fromisoformat(str(text))
    if kind == "datetime":
        return datetime.fromisoformat(str(text))
    if kind == "time":  # [-]H:MM:SS[.ffffff], hours may pass 24
        body = str(text)
        sign = -1 if body.startswith("-") else 1
        hours, minutes, seconds = body.lstrip("-").split(":")
        whole = timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds))
        return sign * whole
    raise AssertionError(f"unknown expected type {kind}")


def same(actual: Any, expected_spec: dict[str, Any]) -> bool:
    """``actual`` equals the typed expectation *and* has its Python type.

    ``Decimal('2.50')`` matches ``{decimal: "2.50"}`` but not ``"2.5"``; ``1`` never matches
    a float or a Decimal; a datetime never matches a date.
    """
    expected = _expected_value(expected_spec)
    ((kind, _),) = expected_spec.items()
    if kind == "null":
        return actual is None
    wanted = {
        "int": int,
        "decimal": Decimal,
        "float": float,
        "str": str,
        "date": date,
        "datetime": datetime,
        "time": timedelta,
    }[kind]
    if type(actual) is not wanted:
        return False
    if kind == "decimal":
        return str(actual) == str(expected)
    return bool(actual == expected)


def make_resolve(case: dict[str, Any]) -> Any:
    """A resolve() that reads ``given`` (see module doc)."""
    given = {key: typed(value) for key, value in (case.get("given") or {}).items()}

    def resolve(item: Placeholder | LookupSpan) -> Any:
        if isinstance(item, LookupSpan):
            key = item.text
        else:
            key = f"{item.name}|{item.formatter}" if item.formatter else item.name
        if key not in given:
            raise AssertionError(f"case {case['id']}: no given value for {key!r}")
        return given[key]

    return resolve


def case_now(case: dict[str, Any]) -> datetime | None:
    """The case's clock as a tz-aware Asia/Shanghai datetime, or None."""
    text = case.get("now")
    return datetime.fromisoformat(str(text)).replace(tzinfo=SHANGHAI) if text else None
