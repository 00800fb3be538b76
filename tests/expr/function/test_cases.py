"""Every case in ``tests/expr/cases/function*.yaml`` through compile_function/evaluate."""

from __future__ import annotations

from typing import Any

import pytest
from fn_cases import case_now, load_cases, make_resolve, params, same

from ferry import errors
from ferry.expr.function import compile_function

CASES = load_cases()


def test_there_are_at_least_one_hundred_cases() -> None:
    assert len(CASES) >= 100


@pytest.mark.parametrize("case", params(CASES))
def test_case(case: dict[str, Any]) -> None:
    resolve = make_resolve(case)
    if "error" in case:
        error_type = getattr(errors, case.get("error_type", "RecordError"))
        with pytest.raises(error_type) as info:
            compile_function(case["expression"]).evaluate(resolve, case_now(case))
        assert case["error"] in str(info.value)
        return
    result = compile_function(case["expression"]).evaluate(resolve, case_now(case))
    assert same(result, case["expected"]), f"got {result!r}, expected {case['expected']}"
