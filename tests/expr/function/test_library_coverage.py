"""The function library is whole: every supported name is documented in docs/functions.md and is
called by at least one case that the parity test runs on the live MariaDB."""

from __future__ import annotations

import re
from pathlib import Path

from fn_cases import load_cases

from ferry.expr.function import SUPPORTED_FUNCTIONS

DOCS = Path(__file__).resolve().parents[3] / "docs" / "functions.md"
_CALL = re.compile(r"\b([A-Z][A-Z0-9_]*)\s*\(", re.IGNORECASE)
_KEYWORDS = re.compile(
    r"\b(CURRENT_DATE|CURRENT_TIME|CURRENT_TIMESTAMP|LOCALTIME|LOCALTIMESTAMP)\b", re.IGNORECASE
)
"""The clock functions MariaDB also takes without parentheses."""
_OPERATOR_FORMS = {"CAST", "CONVERT", "POSITION", "INTERVAL"}  # written without a plain NAME( in some cases
_REAL_CLOCK = {"SYSDATE"}  # MariaDB reads the real clock, Ferry the run's (docs/functions.md, Aggregates)


def _called(expression: str) -> set[str]:
    return {name.upper() for name in _CALL.findall(expression) + _KEYWORDS.findall(expression)}


def test_every_supported_function_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = {name.upper() for name in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)[(`/ \[]", text)}
    missing = sorted(set(SUPPORTED_FUNCTIONS) - documented)
    assert missing == [], f"supported but not in docs/functions.md: {missing}"


def test_every_supported_function_is_checked_against_mariadb() -> None:
    on_mariadb: set[str] = set()
    for case in load_cases():
        if case.get("mysql", True) is not False:
            on_mariadb |= _called(str(case["expression"]))
    unchecked = sorted(set(SUPPORTED_FUNCTIONS) - on_mariadb - _OPERATOR_FORMS - _REAL_CLOCK)
    assert unchecked == [], f"no parity case calls: {unchecked}"
    assert len(set(SUPPORTED_FUNCTIONS) & on_mariadb) >= 150
