"""The compiled plan: one compilation per scheme and process, shared by validation, preview,
the collector, the deliverer and a forked worker; a broken scheme fails with its paths."""

from __future__ import annotations

import gc
import multiprocessing
import weakref
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeSource, FakeTarget

import ferry.expr.value
import ferry.transform.mapping
import ferry.transform.plan
from ferry.connectors.specs import LedgerConnection, SqlConnection
from ferry.engine.collector import Collector
from ferry.engine.counts import RunCounts
from ferry.engine.deliverer import Deliverer
from ferry.engine.preview import preview
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.errors import ExpressionError, SchemeError
from ferry.scheme.loader import load_scheme
from ferry.scheme.validate import validate_scheme
from ferry.store import Store, open_store
from ferry.transform.plan import Plan, compile_scheme

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 3, 12, 0, tzinfo=TZ)
FAST = RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0)
RECORDS = [
    {"id": 1, "no": "A1", "amount": 10, "qty": 2, "status": "paid", "items": [{"sku": "x"}]},
    {"id": 2, "no": "A2", "amount": 8, "qty": 4, "status": "paid", "items": [{"sku": "y"}]},
    {"id": 3, "no": "A3", "amount": 5, "qty": 1, "status": "cancelled", "items": []},
]


def definition(target_request: list[dict[str, Any]] | None = None, api: str = "save") -> dict[str, Any]:
    return {
        "id": "orders",
        "name": "orders",
        "source": {
            "connection": {"type": "sql", "url": "sqlite://"},
            "metadata": {
                "api": "/orders",
                "effect": "QUERY",
                "id": "id",
                "number": "no",
                "beatFlat": ["items"],
                "request": [{"field": "since", "value": "{{LAST_SYNC_TIME|datetime}}"}],
                "otherRequest": [{"field": "shop", "value": "S1"}],
                "condition": [[{"field": "status", "logic": "neq", "value": "cancelled"}]],
                "omissionRemedy": {
                    "crontab": "2 */2 * * *",
                    "takeOverRequest": [{"field": "since", "value": "{{LAST_SYNC_TIME|date}}"}],
                },
            },
        },
        "target": {
            "connection": {"type": "ledger"},
            "metadata": {
                "api": api,
                "effect": "EXECUTE",
                "request": target_request
                or [
                    {"field": "no", "value": "{no}"},
                    {"field": "per_unit", "value": "_function {{amount}} / {{qty}}"},
                    {"field": "sku", "value": "{items.sku}"},
                ],
                "otherRequest": [{"field": "org", "value": "100"}],
            },
        },
        "window": {"start": "2024-05-01 00:00:00", "step": "1d"},
        "settings": {"lookup_scheme": "products"},
    }


@pytest.fixture
def store(tmp_path: Any) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    yield s
    s.close()


@pytest.fixture
def compiled_paths(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each value was compiled, by its scheme path (every compiler goes through here)."""
    seen: Counter[str] = Counter()
    real = ferry.expr.value._compile

    def counting(value: Any, path: str, default: str | None) -> Any:
        seen[path] += 1
        return real(value, path, default)

    monkeypatch.setattr(ferry.expr.value, "_compile", counting)
    return seen


@pytest.fixture
def mapper_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ``base`` of every field list compiled into a mapping."""
    bases: list[str] = []
    real = ferry.transform.mapping.compile_fields

    def counting(fields: Any, *, base: str, **kw: Any) -> Any:
        bases.append(base)
        return real(fields, base=base, **kw)

    monkeypatch.setattr(ferry.transform.mapping, "compile_fields", counting)
    return bases


def test_a_second_compile_of_the_same_scheme_returns_the_same_plan() -> None:
    scheme = load_scheme(definition())

    plan = compile_scheme(scheme)

    assert isinstance(plan, Plan)
    assert compile_scheme(scheme) is plan
    assert compile_scheme(load_scheme(definition())) is not plan, "another scheme object has its own plan"


def test_the_plan_holds_both_sides_resolved_and_typed() -> None:
    scheme = load_scheme(definition())

    plan = compile_scheme(scheme)

    assert isinstance(plan.source.connection, SqlConnection)
    assert isinstance(plan.target.connection, LedgerConnection)
    assert plan.source.meta is scheme.source_meta and plan.target.meta is scheme.target_meta
    assert (plan.source.id_field, plan.source.number_field, plan.source.beat_flat) == ("id", "no", ("items",))
    assert plan.source.keep({"status": "cancelled"}) is None and plan.source.keep({"status": "paid"})
    assert (plan.target.api, plan.target.method, plan.target.whole_batch) == ("save", "POST", False)
    assert compile_scheme(load_scheme(definition(api="batchexecute"), check=False)).target.whole_batch
    assert plan.lookup_scheme == "products" and plan.lookups == {"products"}
    assert sorted(plan.values) == [
        "source.otherRequest[0].value",
        "source.request[0].value",
        "target.otherRequest[0].value",
        "target.request[0].value",
        "target.request[1].value",
        "target.request[2].value",
    ]
    with pytest.raises(TypeError):
        plan.values["x"] = None  # type: ignore[index]


def test_the_remedy_request_takes_over_the_named_fields() -> None:
    plan = compile_scheme(load_scheme(definition()))

    assert plan.source.remedy is not None
    assert [node.spec.value for node in plan.source.remedy.nodes] == ["{{LAST_SYNC_TIME|date}}"]
    assert compile_scheme(load_scheme(_without_remedy())).source.remedy is None


def _without_remedy() -> dict[str, Any]:
    data = definition()
    del data["source"]["metadata"]["omissionRemedy"]
    return data


def test_mappings_compile_once_across_deliverer_collector_preview_and_a_run(
    store: Store, mapper_builds: list[str]
) -> None:
    scheme = load_scheme(definition())  # validation compiles the plan
    built = sorted(mapper_builds)

    deliverer = Deliverer(scheme, FakeTarget(), store, RunCounts())
    collector = Collector(scheme, FakeSource(RECORDS[:]), store, RunCounts())
    result = preview(scheme, store, source=FakeSource(RECORDS[:]), now=NOW)
    report = run_scheme(
        scheme, store, now=NOW, source=FakeSource(RECORDS[:]), target=FakeTarget(), retry=FAST
    )

    assert built == [
        "source.omissionRemedy.takeOverRequest",
        "source.otherRequest",
        "source.request",
        "target.otherRequest",
        "target.request",
    ]
    assert sorted(mapper_builds) == built, "nothing compiled after loading"
    assert deliverer.mapper is compile_scheme(scheme).target.request
    assert collector.request is compile_scheme(scheme).source.request
    assert [payload["no"] for _, payload in result.records] == ["A1", "A2"]
    assert report.counts.delivered > 0


def test_an_unchecked_scheme_compiles_on_first_use_and_then_never_again(
    store: Store, mapper_builds: list[str]
) -> None:
    scheme = load_scheme(definition(), check=False)
    assert mapper_builds == []

    Deliverer(scheme, FakeTarget(), store, RunCounts())
    Collector(scheme, FakeSource(RECORDS[:]), store, RunCounts())
    preview(scheme, store, source=FakeSource(RECORDS[:]), now=NOW)

    assert len(mapper_builds) == 5


def test_validation_and_the_plan_compile_each_value_once(store: Store, compiled_paths: Counter[str]) -> None:
    scheme = load_scheme(definition())
    Deliverer(scheme, FakeTarget(), store, RunCounts())
    preview(scheme, store, source=FakeSource(RECORDS[:]), now=NOW)

    assert compiled_paths["target.request[1].value"] == 1
    assert max(compiled_paths.values()) == 1, compiled_paths


def test_validating_a_compiled_scheme_again_takes_the_plans_values(compiled_paths: Counter[str]) -> None:
    scheme = load_scheme(definition())
    compiled_paths.clear()

    assert validate_scheme(scheme, compiled=dict(compile_scheme(scheme).values)) == []
    assert compiled_paths == {"source.omissionRemedy.takeOverRequest[0].value": 1}


def test_replacing_a_part_the_plan_is_built_from_compiles_again() -> None:
    scheme = load_scheme(definition())
    plan = compile_scheme(scheme)

    scheme.settings = scheme.settings.model_copy(update={"batch_size": 7})
    assert compile_scheme(scheme) is plan, "the plan does not read batch_size"

    assert scheme.source_meta is not None
    scheme.source_meta = scheme.source_meta.model_copy(update={"id": "no"})
    again = compile_scheme(scheme)
    assert again is not plan and again.source.id_field == "no"

    scheme.settings = scheme.settings.model_copy(update={"lookup_scheme": "units"})
    assert compile_scheme(scheme).lookups == {"units"}


def test_a_plan_is_forgotten_with_its_scheme() -> None:
    scheme = load_scheme(definition())
    mapper = weakref.ref(compile_scheme(scheme).target.request)

    del scheme
    gc.collect()

    assert mapper() is None


def _child(scheme: Any, plan_id: int, pipe: Connection) -> None:
    def refuse(*args: Any) -> Any:
        raise AssertionError("compiled again in the child")

    ferry.transform.plan._compile = refuse  # type: ignore[assignment]
    try:
        pipe.send(id(compile_scheme(scheme)) == plan_id)
    except AssertionError as exc:
        pipe.send(str(exc))


def test_a_forked_child_inherits_the_plan() -> None:
    scheme = load_scheme(definition())
    plan = compile_scheme(scheme)
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    child = ctx.Process(target=_child, args=(scheme, id(plan), send))
    child.start()
    answer = receive.recv()
    child.join(10)

    assert answer is True


def test_a_value_only_the_plan_compiles_is_a_validation_error_at_its_path() -> None:
    lines = [{"field": "lines", "type": "array", "value": "_function FROBNICATE(1)"}]

    with pytest.raises(SchemeError) as caught:
        load_scheme(definition(target_request=lines))

    (issue,) = caught.value.issues
    assert issue.path == "target.request[0].value"
    assert "FROBNICATE" in str(issue)


def test_compiling_a_broken_scheme_raises_the_error_with_its_path(store: Store) -> None:
    broken = [{"field": "no", "value": "{no}"}, {"field": "x", "value": "_function FROBNICATE({no})"}]
    scheme = load_scheme(definition(target_request=broken), check=False)

    with pytest.raises(ExpressionError) as caught:
        compile_scheme(scheme)
    assert str(caught.value).startswith("target.request[1].value: ")
    with pytest.raises(ExpressionError, match=r"^target\.request\[1\]\.value: "):
        Deliverer(scheme, FakeTarget(), store, RunCounts())
    with pytest.raises(SchemeError) as checked:
        load_scheme(definition(target_request=broken))
    assert [i.path for i in checked.value.issues] == ["target.request[1].value"]


def test_a_link_only_the_plan_refuses_is_a_validation_error_at_its_path() -> None:
    itself = [
        {"field": "no", "value": "{no}"},
        {
            "field": "lines",
            "type": "array",
            "parent": "lines",
            "children": [{"field": "sku", "value": "{sku}"}],
        },
    ]

    with pytest.raises(SchemeError) as caught:
        load_scheme(definition(target_request=itself))

    (issue,) = caught.value.issues
    assert issue.path == "target.request[1].parent"
    assert "no object/array field named 'lines'" in issue.message
