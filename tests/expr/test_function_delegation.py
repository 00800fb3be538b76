"""``_function`` values are delegated to ``ferry.expr.function``; placeholders and lookups it finds
are resolved by the value layer. A fake function module pins the contract independently of the
real parser (which is built and tested separately)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ferry.errors import ExpressionError, RecordError
from ferry.expr import EvalContext, InMemoryLookups, compile_value
from ferry.expr import value as value_module
from ferry.expr.placeholders import Placeholder, scan

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class FakeSpan:
    text: str
    start: int


class FakeCompiled:
    """Collects placeholders outside lookups and lookup spans; evaluates to the resolved items."""

    def __init__(self, text: str) -> None:
        if "((" in text:
            raise ExpressionError("unbalanced parenthesis", text, text.index("((") + 1)
        self.placeholders: list[Any] = []
        spans = [
            FakeSpan(m.group(1), m.start(1))
            for m in re.finditer(r"(_findCollection .*?|_mongoQuery .*?) _endFind", text)
        ]
        for ph in scan(text):
            if not any(s.start <= ph.start < s.start + len(s.text) for s in spans):
                self.placeholders.append(ph)
        self.placeholders.extend(spans)

    def evaluate(self, resolve: Any, now: datetime) -> Any:
        return {"values": [resolve(p) for p in self.placeholders], "now": now}


@pytest.fixture
def fake_function(monkeypatch: pytest.MonkeyPatch) -> None:
    module = SimpleNamespace(compile_function=FakeCompiled)
    monkeypatch.setattr(value_module, "_function_module", lambda: module)


LOOKUPS = {"goods": [{"id": "1", "content": {"FNumber": "P-1", "FIsKFPeriod": True}}]}


@pytest.mark.usefixtures("fake_function")
def test_function_placeholders_resolve_typed_with_formatters() -> None:
    cv = compile_value("_function CONCAT({{qty}}, '{{created|date}}', {{LAST_SYNC_TIME}})", path="p")
    now = datetime(2024, 5, 2, 9, tzinfo=SHANGHAI)
    ctx = EvalContext(
        row={"qty": 3, "created": "2024-05-01 23:00:00"},
        variables={"LAST_SYNC_TIME": datetime(2024, 5, 1, 10, tzinfo=SHANGHAI)},
        now=now,
    )
    assert cv.kind == "function"
    assert cv.references == frozenset({"qty", "created"})
    assert cv.evaluate(ctx) == {"values": [3, "2024-05-01", 1714528800], "now": now}


@pytest.mark.usefixtures("fake_function")
def test_function_lookup_spans_use_the_value_layer_lookups() -> None:
    text = (
        "_function case _findCollection find FIsKFPeriod from goods where FNumber={{details.code}} _endFind "
        "when true then '{{details.valid}}' else '' end"
    )
    cv = compile_value(text)
    assert cv.lookup_schemes == frozenset({"goods"})
    assert cv.references == frozenset({"details.code", "details.valid"})
    ctx = EvalContext(
        row={},
        scope={"details": {"code": "P-1", "valid": "2025-01-01"}},
        lookups=InMemoryLookups(lambda s: LOOKUPS.get(s, [])),
        now=datetime(2024, 5, 2, tzinfo=SHANGHAI),
    )
    assert cv.evaluate(ctx)["values"] == ["2025-01-01", True]


@pytest.mark.usefixtures("fake_function")
def test_function_clock_prefers_now_then_current_time() -> None:
    cv = compile_value("_function NOW()")
    current = datetime(2024, 5, 2, 10, tzinfo=SHANGHAI)
    assert cv.evaluate(EvalContext(row={}, variables={"CURRENT_TIME": current}))["now"] == current
    explicit = datetime(2030, 1, 1, tzinfo=SHANGHAI)
    ctx = EvalContext(row={}, variables={"CURRENT_TIME": current}, now=explicit)
    assert cv.evaluate(ctx)["now"] == explicit


@pytest.mark.usefixtures("fake_function")
def test_function_parse_errors_are_located_at_the_value_path() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_value("_function ((1", path="request[5].value")
    assert str(info.value).startswith("request[5].value: unbalanced parenthesis (col 11)")


@pytest.mark.usefixtures("fake_function")
def test_bad_lookup_inside_function_is_located_in_the_whole_value() -> None:
    text = "_function IFNULL(_findCollection find F from goods where FNumber={{x|nope}} _endFind, 0)"
    with pytest.raises(ExpressionError) as info:
        compile_value(text, path="p")
    assert info.value.column == text.index("nope") + 1
    assert info.value.text == text


@pytest.mark.usefixtures("fake_function")
def test_record_errors_from_function_placeholders_carry_the_path() -> None:
    cv = compile_value("_function {{d|datetime}}", path="request[0].value")
    with pytest.raises(RecordError, match=r"^request\[0\]\.value: field d"):
        cv.evaluate(EvalContext(row={"d": "bad"}))


def test_function_prefix_needs_a_separator() -> None:
    assert compile_value("_functional").kind == "constant"


def test_placeholder_objects_are_hashable_for_resolution() -> None:
    ph = next(scan("{{a}}"))
    assert {ph: 1}[Placeholder("a", None, 0, 5, "{{a}}")] == 1
