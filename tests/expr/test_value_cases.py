"""Runs every data-driven case in ``tests/expr/cases/*.yaml`` through ``compile_value``.

Case format (one YAML list per file)::

    - id: single-placeholder-keeps-list          # unique within its file
      given:                                      # all optional
        row: {items: [{qty: 1}, {qty: 2}]}
        variables: {LAST_SYNC_TIME: 2024-05-01T10:00:00+08:00}   # YAML timestamps are tz-aware
        scope: {items: {qty: 7}}
        lookups: {scheme-a: [{id: 1, number: N1, content: {FNumber: A}}]}
        default_lookup_scheme: scheme-a
        now: 2024-05-02T09:30:00+08:00
        tz: Asia/Shanghai                         # default
        path: request[0].value                    # scheme path given to compile_value
      expression: "{{items.qty}}"                 # the scheme value (any YAML type)
      parser: {name: ArrayToString, params: ","}  # optional, applied to the result
      expected: [1, 2]                            # compared with its type (1 != 1.0 != True)
      # or: error: "unknown formatter"           # substring of str(error)
      #     error_type: ExpressionError           # optional: ExpressionError | RecordError | ConfigError
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from ferry import errors
from ferry.expr import EvalContext, InMemoryLookups, compile_value, get_parser

CASES_DIR = Path(__file__).parent / "cases"


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        if path.name.startswith("function"):
            continue  # _function cases have their own format and runners (tests/expr/function/)
        cases = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for case in cases:
            params.append(pytest.param(case, id=f"{path.stem}:{case['id']}"))
    return params


CASES = _load_cases()


def _same(actual: Any, expected: Any) -> bool:
    """Equal *and* of the same type, recursively (bool/int/float/str never coerce)."""
    if isinstance(expected, Mapping):
        return (
            isinstance(actual, Mapping)
            and set(actual) == set(expected)
            and all(_same(actual[k], expected[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, datetime | date):
        return bool(actual == expected)
    return type(actual) is type(expected) and actual == expected


def _run(case: Mapping[str, Any]) -> Any:
    given = case.get("given") or {}
    default_scheme = given.get("default_lookup_scheme")
    compiled = compile_value(
        case.get("expression"), path=given.get("path", ""), default_lookup_scheme=default_scheme
    )
    lookup_rows = given.get("lookups")
    lookups = None
    if lookup_rows is not None:
        lookups = InMemoryLookups(lambda scheme: lookup_rows.get(scheme, []), default_scheme)
    ctx = EvalContext(
        row=given.get("row") or {},
        variables=given.get("variables") or {},
        scope=given.get("scope"),
        lookups=lookups,
        now=given.get("now"),
        tz=ZoneInfo(given.get("tz", "Asia/Shanghai")),
    )
    result = compiled.evaluate(ctx)
    parser = case.get("parser")
    if parser is not None:
        result = get_parser(parser["name"], parser)(result)
    return result


def test_case_ids_are_unique_and_cases_are_well_formed() -> None:
    seen: set[str] = set()
    for param in CASES:
        case = param.values[0]
        assert param.id not in seen, f"duplicate case id {param.id}"
        seen.add(param.id)
        assert ("expected" in case) != ("error" in case), f"{param.id}: give exactly one of expected/error"
        assert "expression" in case, f"{param.id}: missing expression"


@pytest.mark.parametrize("case", CASES)
def test_value_case(case: Mapping[str, Any]) -> None:
    if "error" in case:
        error_type = getattr(errors, case.get("error_type", "FerryError"))
        with pytest.raises(error_type) as info:
            _run(case)
        assert case["error"] in str(info.value)
        return
    result = _run(case)
    assert _same(result, case["expected"]), f"got {result!r} ({type(result).__name__})"
