"""The placeholder check on its own: each kind of value a target field holds, array children,
beat-flattened rows, condition fields and declared response fields, against given records."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.engine.sample import flattened
from ferry.scheme.loader import load_scheme
from ferry.scheme.model import Scheme
from ferry.transform.placeholder_check import declared_paths, has_path, missing_placeholders
from ferry.transform.plan import compile_scheme

RECORDS: list[dict[str, Any]] = [
    {
        "id": 1,
        "orderNo": "A1",
        "amount": 9.5,
        "status": "paid",
        "buyer": {"name": "张三", "city": None},
        "items": [{"outerId": "S1", "qty": 2}, {"outerId": "S2", "qty": 1}],
        "payments": [{"payNo": "P1", "money": 9.5}],
    }
]


def scheme(
    request: list[dict[str, Any]],
    *,
    condition: list[list[dict[str, Any]]] | None = None,
    response: list[dict[str, Any]] | None = None,
    beat_flat: list[str] | None = None,
) -> Scheme:
    source: dict[str, Any] = {"api": "/orders", "effect": "QUERY", "id": "id", "beatFlat": beat_flat or []}
    if condition:
        source["condition"] = condition
    if response:
        source["response"] = response
    return load_scheme(
        {
            "id": "orders",
            "name": "orders",
            "source": {"connection": {"type": "sql", "url": "sqlite://"}, "metadata": source},
            "target": {
                "connection": {"type": "ledger"},
                "metadata": {"api": "save", "effect": "EXECUTE", "request": request},
            },
            "settings": {"lookup_scheme": "products"},
        }
    )


def warnings(s: Scheme, records: list[dict[str, Any]] = RECORDS) -> dict[str, tuple[str, str | None]]:
    found = missing_placeholders(
        compile_scheme(s), rows=flattened(s, records), records=records, declared=declared_paths(s.source_meta)
    )
    return {issue.path: (issue.message, issue.hint) for issue in found}


@pytest.mark.parametrize(
    ("value", "written", "hint"),
    [
        pytest.param("{{items.outerID}}", "{{items.outerID}}", "did you mean items.outerId?", id="case-only"),
        pytest.param("{orderno}", "{orderno}", "did you mean orderNo?", id="bare-case-only"),
        pytest.param(
            "_function CONCAT({orderNoo}, '-')", "{orderNoo}", "did you mean orderNo?", id="function"
        ),
        pytest.param(
            "_findCollection find code from products where sku={{items.outerIdd}}",
            "{{items.outerIdd}}",
            "did you mean items.outerId?",
            id="lookup-where",
        ),
        pytest.param(
            "{{buyer.nmae|date}}", "{{buyer.nmae|date}}", "did you mean buyer.name?", id="formatter"
        ),
    ],
)
def test_a_missing_placeholder_warns_with_its_path_and_the_nearest_path(value, written, hint):
    s = scheme([{"field": "no", "value": "{orderNo}"}, {"field": "x", "value": value}])

    found = warnings(s)

    assert list(found) == ["target.request[1].value"]
    message, got_hint = found["target.request[1].value"]
    assert message.startswith(f"placeholder {written} is in no sampled record")
    assert got_hint == hint


def test_placeholders_the_records_have_do_not_warn_even_when_their_value_is_null():
    s = scheme(
        [
            {"field": "no", "value": "{{orderNo}}-{id}"},
            {"field": "city", "value": "{buyer.city}"},  # present, null
            {"field": "total", "value": "_function ROUND({amount} * 2, 1)"},
            {"field": "qty", "value": "_function SUM({{items.qty}})"},  # projected over the array
            {"field": "first", "value": "{{items.0.outerId}}"},
            {"field": "since", "value": "{{LAST_SYNC_TIME|datetime}}"},  # a variable
        ]
    )

    assert warnings(s) == {}


def test_beat_flattened_rows_are_read_as_the_mapping_reads_them():
    s = scheme(
        [
            {"field": "sku", "value": "{{items.outerId}}"},
            {"field": "sku2", "value": "{items_outerId}"},  # the underscore-joined name
            {"field": "bad", "value": "{items_outerID}"},
        ],
        beat_flat=["items"],
    )

    found = warnings(s)

    assert list(found) == ["target.request[2].value"]
    assert found["target.request[2].value"][1] == "did you mean items.outerId?"


def test_array_children_may_name_their_elements_fields_bare():
    s = scheme(
        [
            {
                "field": "lines",
                "type": "array",
                "value": "payments",
                "children": [
                    {"field": "no", "value": "{payNo}"},
                    {"field": "money", "value": "{{payments.money}}"},
                    {"field": "typo", "value": "{paynoo}"},
                ],
            }
        ]
    )

    found = warnings(s)

    assert list(found) == ["target.request[0].children[2].value"]
    assert found["target.request[0].children[2].value"][1] == "did you mean payNo?"


def test_a_condition_field_no_record_has_warns_at_the_rule():
    s = scheme(
        [{"field": "no", "value": "{orderNo}"}],
        condition=[
            [
                {"field": "status", "logic": "eq", "value": "paid"},
                {"field": "Status", "logic": "neq", "value": "x"},
            ]
        ],
    )

    found = warnings(s)

    assert list(found) == ["source.condition[0][1].field"]
    message, hint = found["source.condition[0][1].field"]
    assert message.startswith("condition field Status is in no sampled record")
    assert hint == "did you mean status?"


def test_a_field_declared_in_response_is_known_and_suggested():
    s = scheme(
        [{"field": "a", "value": "{{items.batchNo}}"}, {"field": "b", "value": "{{items.batchN}}"}],
        response=[{"field": "items", "type": "array", "children": [{"field": "batchNo", "type": "string"}]}],
    )

    found = warnings(s)

    assert list(found) == ["target.request[1].value"]
    assert found["target.request[1].value"][1] == "did you mean items.batchNo?"


def test_nothing_is_checked_without_records():
    s = scheme([{"field": "x", "value": "{nothing}"}])

    assert warnings(s, []) == {}


def test_a_name_far_from_every_path_gets_a_hint_without_a_guess():
    s = scheme([{"field": "x", "value": "{zzzz}"}])

    (hint,) = [h for _, h in warnings(s).values()]
    assert hint is not None and "did you mean" not in hint
    assert "response" in hint


@pytest.mark.parametrize(
    ("path", "present"),
    [
        ("buyer.city", True),
        ("buyer.town", False),
        ("items.qty", True),
        ("items.1.outerId", True),
        ("items.2.outerId", False),
        ("orderNo.x", False),
    ],
)
def test_has_path(path, present):
    assert has_path(RECORDS[0], path) is present
