"""The data-quality faults of the simulators: bad records (wrong types, missing required fields,
enum violations) and volume drops, predictable from the seed and the record ids."""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferry.connectors._kuaimai_sign import signed_form
from ferry.sandbox import CHINA, Dataset, Faults, SandboxTransport
from ferry.sandbox._kuaimai_aftersale import query_aftersales
from ferry.sandbox._quality import BAD_RECORD_KINDS
from ferry.sandbox._wdt_stockouts import query_stockouts
from ferry.sandbox.jushuitan import JushuitanSimulator
from ferry.sandbox.k3cloud import K3CloudSimulator
from ferry.sandbox.kis import KisSimulator
from ferry.sandbox.kuaimai import KuaimaiSimulator
from ferry.sandbox.okki import OkkiSimulator
from ferry.sandbox.wangdiantong import WangdiantongSimulator

Row = dict[str, Any]
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=CHINA).timestamp()

RECORD_SETS: dict[str, Callable[[Faults, int], Dataset]] = {
    "kuaimai": lambda f, n: KuaimaiSimulator(size=n, faults=f, clock=lambda: NOW).aftersales,
    "wangdiantong": lambda f, n: WangdiantongSimulator(size=n, faults=f, clock=lambda: NOW).dataset,
    "jushuitan-inout": lambda f, n: JushuitanSimulator(size=n, faults=f, clock=lambda: NOW).inout,
    "jushuitan-sku": lambda f, n: JushuitanSimulator(size=n, faults=f, clock=lambda: NOW).skus,
    "kis-material": lambda f, n: KisSimulator(size=n, faults=f, clock=lambda: NOW).material_data,
    "okki": lambda f, n: OkkiSimulator(size=n, faults=f, clock=lambda: NOW).receipts,
}
"""Every record set with a defect table, built by ``(faults, size)``."""


def serve_all(data: Dataset) -> list[Row]:
    """Every visible record, as the vendor's pager serves them (one query)."""
    data.tick()
    ids = data.select()
    return data.page(ids, 0, len(ids))


def changed_paths(stored: Any, served: Any, prefix: str = "") -> set[str]:
    """Paths (``items[0].outerId`` style) where ``served`` differs from ``stored``."""
    if isinstance(stored, dict) and isinstance(served, dict):
        out: set[str] = set()
        for key in stored.keys() | served.keys():
            path = f"{prefix}.{key}" if prefix else key
            if key not in stored or key not in served:
                out.add(path)
            else:
                out |= changed_paths(stored[key], served[key], path)
        return out
    if isinstance(stored, list) and isinstance(served, list) and len(stored) == len(served):
        return {
            p
            for i, pair in enumerate(zip(stored, served, strict=True))
            for p in changed_paths(*pair, f"{prefix}[{i}]")
        }
    same = stored == served and type(stored) is type(served)
    return set() if same else {prefix}


def value_at(row: Any, path: str) -> Any:
    node = row
    for part in path.split("."):
        name, _, index = part.partition("[")
        node = node[name]
        if index:
            node = node[int(index.rstrip("]"))]
    return node


def has_path(row: Any, path: str) -> bool:
    try:
        value_at(row, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def numeric(value: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def pairs_by_id(data: Dataset, rows: list[Row]) -> dict[str, Row]:
    """Served rows by the id of the stored record they stand for (ids follow the query order)."""
    ids = data.select()
    assert len(ids) == len(rows)
    return dict(zip(ids, rows, strict=True))


# -- default off -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", RECORD_SETS)
def test_without_quality_faults_every_record_is_served_as_stored(name: str) -> None:
    data = RECORD_SETS[name](Faults(), 120)
    rows = serve_all(data)
    assert data.bad == {} and data.bad_fields == {} and data.dropped == []
    assert len(rows) == len(data)
    assert all(row is data.get(rid) for rid, row in pairs_by_id(data, rows).items())


# -- bad records ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", BAD_RECORD_KINDS)
@pytest.mark.parametrize("name", RECORD_SETS)
def test_each_kind_corrupts_exactly_the_predicted_records_and_fields(name: str, kind: str) -> None:
    data = RECORD_SETS[name](Faults(bad_record_rate=0.3, bad_record_kinds=(kind,), seed=3), 200)
    stored_before = copy.deepcopy(data.all())
    served = pairs_by_id(data, serve_all(data))
    if name == "kis-material" and kind == "enum_violation":
        assert data.bad == {}, "KIS documents no enum on a material: nothing to violate"
        return
    share = len(data.bad) / len(data)
    assert 0.15 <= share <= 0.45, f"about 30% of {len(data)} records are bad, got {len(data.bad)}"
    assert set(data.bad.values()) == {kind}
    seen_values = {
        path: {repr(value_at(r, path)) for r in stored_before if has_path(r, path)}
        for path in set(data.bad_fields.values())
    }
    for rid, row in served.items():
        stored = data.get(rid)
        if rid not in data.bad:
            assert row is stored
            continue
        path = data.bad_fields[rid]
        assert changed_paths(stored, row) == {path}, rid
        if kind == "missing_required":
            assert not has_path(row, path)
        elif kind == "wrong_type":
            before, after = value_at(stored, path), value_at(row, path)
            assert isinstance(after, dict) or (numeric(before) and not numeric(after)), (rid, path, after)
        else:
            assert repr(value_at(row, path)) not in seen_values[path], (rid, path, value_at(row, path))
    assert data.all() == stored_before, "serving a bad record must not change the stored one"


@pytest.mark.parametrize("name", RECORD_SETS)
def test_bad_records_follow_the_seed_and_the_id_and_stay_bad_on_every_call(name: str) -> None:
    faults = Faults(bad_record_rate=0.2, seed=5)
    one, two = RECORD_SETS[name](faults, 150), RECORD_SETS[name](faults, 150)
    assert one.bad and one.bad == two.bad and one.bad_fields == two.bad_fields
    first, second = serve_all(one), serve_all(one)
    assert first == second, "the same record is bad the same way on every call"
    other = RECORD_SETS[name](faults.with_(seed=6), 150)
    assert other.bad != one.bad
    bigger = RECORD_SETS[name](faults, 300)
    common = stored_ids(one) & stored_ids(bigger)
    same_record = {rid for rid in common if one.get(rid) == bigger.get(rid)}
    assert {r: k for r, k in bigger.bad.items() if r in same_record} == {
        r: k for r, k in one.bad.items() if r in same_record
    }


def test_all_three_kinds_are_served_by_default_and_other_faults_roll_as_before() -> None:
    plain = KuaimaiSimulator(size=300, faults=Faults(late_rate=0.2, seed=9)).aftersales
    data = KuaimaiSimulator(size=300, faults=Faults(late_rate=0.2, bad_record_rate=0.3, seed=9)).aftersales
    assert set(data.bad.values()) == set(BAD_RECORD_KINDS)
    assert data.late == plain.late, "bad records draw no number from the shared fault dice"


def test_bad_record_ids_make_exactly_those_records_bad() -> None:
    data = KuaimaiSimulator(
        size=50, faults=Faults(bad_record_ids=("4000012",), bad_record_kinds=("enum_violation",))
    ).aftersales
    assert data.bad == {"4000012": "enum_violation"}
    row = next(r for r in serve_all(data) if r["id"] == 4_000_012)
    stored = data.get("4000012")
    assert stored is not None
    path = data.bad_fields["4000012"]
    assert changed_paths(stored, row) == {path} and value_at(row, path) in (99, 6)


def test_a_record_written_by_a_target_is_no_longer_the_seeded_bad_one() -> None:
    data = KuaimaiSimulator(size=40, faults=Faults(bad_record_rate=0.5)).aftersales
    rid = next(iter(data.bad))
    fixed = copy.deepcopy(data.get(rid))
    assert fixed is not None
    data.put(rid, fixed)
    assert rid not in data.bad and rid not in data.bad_fields
    assert data.served(rid) is fixed


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"bad_record_rate": 1.5}, "bad_record_rate must be between 0 and 1", id="rate"),
        pytest.param(
            {"bad_record_kinds": ("wrong_type", "typo")}, "unknown kind 'typo'; known: wrong_type", id="kind"
        ),
        pytest.param({"volume_drop": -0.1}, "volume_drop must be between 0 and 1", id="drop"),
        pytest.param({"volume_drop_calls": 0}, "volume_drop_calls must be >= 1", id="calls"),
    ],
)
def test_invalid_quality_settings_are_refused_with_the_setting_named(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Faults(**changes)


def test_kinds_are_kept_in_their_canonical_order_whatever_the_caller_wrote() -> None:
    faults = Faults(bad_record_kinds=("enum_violation", "wrong_type"))
    assert faults.bad_record_kinds == ("wrong_type", "enum_violation")
    assert Faults(bad_record_kinds="missing_required").bad_record_kinds == ("missing_required",)  # type: ignore[arg-type]


# -- bad records through the vendors' own answers ---------------------------------------------


def kuaimai_page(sim: KuaimaiSimulator, page_no: int) -> dict[str, Any]:
    data = signed_form(
        method="erp.aftersale.list.query",
        app_key=sim.APP_KEY,
        session=sim.SESSION,
        secret=sim.APP_SECRET,
        sign_method="hmac",
        business={
            "pageNo": str(page_no),
            "pageSize": "50",
            "startModified": "2024-05-01 00:00:00",
            "endModified": "2024-06-01 00:00:00",
        },
        at=sim.clock(),
    )
    with httpx.Client(transport=SandboxTransport({"kuaimai": sim}), base_url=sim.base_url) as http:
        body: dict[str, Any] = http.post("/router", data=data).json()
    assert body["success"] is True, body
    return body


def test_kuaimai_serves_its_bad_work_orders_over_the_gateway_with_the_true_total() -> None:
    sim = KuaimaiSimulator(
        size=120, faults=Faults(bad_record_rate=0.25, rate_per_second=0, seed=4), clock=lambda: NOW
    )
    rows = [row for page in (1, 2, 3) for row in kuaimai_page(sim, page)["list"]]
    assert len(rows) == 120 and kuaimai_page(sim, 1)["total"] == 120
    broken = {}
    for row in rows:
        stored = sim.aftersales.get(str(row["id"]))
        assert stored is not None
        if (paths := changed_paths(stored, row)) != set():
            broken[str(row["id"])] = paths
    assert broken == {rid: {path} for rid, path in sim.aftersales.bad_fields.items()}
    enum = [rid for rid, kind in sim.aftersales.bad.items() if kind == "enum_violation"]
    assert enum and all(
        next(r for r in rows if str(r["id"]) == rid).get(sim.aftersales.bad_fields[rid]) in (99, 6)
        for rid in enum
    )


def test_wangdiantong_and_jushuitan_queries_serve_the_predicted_bad_records() -> None:
    wdt = WangdiantongSimulator(
        size=150, faults=Faults(bad_record_rate=0.3, bad_record_kinds=("missing_required",))
    )
    params = {
        "start_time": "2024-05-01 00:00:00",
        "end_time": "2024-05-31 00:00:00",
        "status": "5,55,95,105,110,113",
        "page_size": "100",
    }
    total, first = query_stockouts(wdt.dataset, {**params, "page_no": "0"})
    _, second = query_stockouts(wdt.dataset, {**params, "page_no": "1"})
    missing = {
        r["stockout_no"]: {k for k in ("shop_no", "invoice_content") if k not in r} for r in first + second
    }
    lines = {r["stockout_no"] for r in first + second if "spec_no" not in r["details_list"][0]}
    assert total == len(first + second) > 100
    expected = {rid: path for rid, path in wdt.dataset.bad_fields.items() if rid in missing}
    got = {rid: next(iter(keys)) for rid, keys in missing.items() if keys} | dict.fromkeys(
        lines, "details_list[0].spec_no"
    )
    assert got == expected and expected

    from ferry.sandbox._jushuitan_query import inout_query

    jst = JushuitanSimulator(size=150, faults=Faults(bad_record_rate=0.3, bad_record_kinds=("wrong_type",)))
    seen: dict[str, str] = {}
    for page in (1, 2, 3, 4):
        body = inout_query(
            jst.inout,
            {
                "modified_begin": "2024-05-24 00:00:00",
                "modified_end": "2024-05-31 00:00:00",
                "page_index": page,
                "page_size": 50,
            },
        )
        for row in body["datas"]:
            stored = jst.inout.get(str(row["io_id"]))
            seen.update({str(row["io_id"]): p for p in changed_paths(stored, row)})
    assert seen and seen == {rid: p for rid, p in jst.inout.bad_fields.items() if rid in seen}
    assert all(not numeric(value_at(jst.inout.served(rid), p)) for rid, p in seen.items())


# -- volume drops --------------------------------------------------------------------------------

SINCE = datetime(2024, 5, 22)


def stored_ids(data: Dataset) -> set[str]:
    return set(data._rows)  # every id, hidden or not


def in_span(data: Dataset, since: datetime = SINCE) -> list[str]:
    return [rid for rid in stored_ids(data) if data.modified(rid) >= since]


def test_a_volume_drop_hides_the_predicted_share_of_the_span_and_nothing_before_it() -> None:
    data = WangdiantongSimulator(size=3000, faults=Faults(volume_drop=0.9, volume_drop_since=SINCE)).dataset
    data.tick()
    served = set(data.select())
    span = set(in_span(data))
    assert set(data.dropped) == span - served, "exactly the predicted records are hidden"
    assert served >= stored_ids(data) - span, "records before the span are all served"
    share = len(data.dropped) / len(span)
    assert 0.87 <= share <= 0.93, share
    day_before = [
        rid for rid in served if datetime(2024, 5, 20) <= data.modified(rid) < datetime(2024, 5, 21)
    ]
    day_after = [rid for rid in served if datetime(2024, 5, 25) <= data.modified(rid) < datetime(2024, 5, 26)]
    assert len(day_before) >= 6 * len(day_after), "a daily window sees about 10x fewer records"


def test_a_volume_drop_is_the_same_on_every_query_and_follows_the_seed() -> None:
    faults = Faults(volume_drop=0.5, volume_drop_since=SINCE, seed=2)
    one = KuaimaiSimulator(size=200, faults=faults).aftersales
    one.tick()
    first = list(one.select())
    one.tick()
    assert one.select() == first
    two = KuaimaiSimulator(size=200, faults=faults).aftersales
    two.tick()
    assert two.dropped == one.dropped
    three = KuaimaiSimulator(size=200, faults=faults.with_(seed=3)).aftersales
    three.tick()
    assert three.dropped != one.dropped


def test_volume_zero_serves_nothing_of_the_span_for_the_given_queries_then_everything() -> None:
    faults = Faults(
        volume_zero=True,
        volume_drop_since=SINCE,
        volume_drop_after_calls=1,
        volume_drop_calls=2,
        rate_per_second=0,
    )
    sim = KuaimaiSimulator(size=100, faults=faults)
    params = {
        "pageNo": "1",
        "pageSize": "200",
        "startModified": "2024-05-22 00:00:00",
        "endModified": "2024-06-01 00:00:00",
    }
    totals = [query_aftersales(sim.aftersales, params)["total"] for _ in range(4)]
    span = len(in_span(sim.aftersales))
    assert span > 20
    assert totals == [span, 0, 0, span], "full, then two empty answers, then full again"


def test_a_volume_drop_mid_run_starts_after_the_given_queries() -> None:
    data = OkkiSimulator(size=200, faults=Faults(volume_drop=0.9, volume_drop_after_calls=2)).receipts
    counts = []
    for _ in range(4):
        counts.append(len(serve_all(data)))
    assert counts[:2] == [200, 200]
    assert counts[2] == counts[3] == 200 - len(data.dropped) and counts[2] < 40


def test_calm_stops_a_volume_drop_but_bad_records_stay_bad() -> None:
    sim = KuaimaiSimulator(size=80, faults=Faults(volume_drop=0.5, bad_record_rate=0.3))
    data = sim.aftersales
    bad = dict(data.bad)
    assert len(serve_all(data)) < 80
    sim.calm()
    rows = serve_all(data)
    assert len(rows) == 80 and data.dropped == []
    assert data.bad == bad and sum(
        1 for rid, row in pairs_by_id(data, rows).items() if row is not data.get(rid)
    ) == len(bad)


def test_k3cloud_queries_miss_the_dropped_bills() -> None:
    sim = K3CloudSimulator(size=40, faults=Faults(volume_zero=True))
    form = sim.store.form("SAL_SaleOrder")
    form.data.tick()
    assert form.visible() == [] and len(form.data.dropped) == len(form.data)


# -- ferry sandbox -------------------------------------------------------------------------------


def test_ferry_sandbox_options_reach_the_simulators(tmp_path: Path) -> None:
    options = ["--bad-record-rate", "0.3", "--bad-record-kinds", "enum_violation", "--seed", "11"]
    options += ["--volume-drop", "0.5", "--volume-drop-since", "2024-05-22", "--no-rate-limits"]
    env = {**os.environ, "COLUMNS": "250", "FERRY_HOME": str(tmp_path)}
    command = [
        sys.executable,
        "-m",
        "ferry",
        "sandbox",
        "--only",
        "kuaimai",
        "--port",
        "0",
        "--size",
        "60",
        *options,
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        printed = []
        for line in proc.stdout:
            printed.append(line)
            if line.startswith("Serving"):
                break
        found = re.findall(r"http://127\.0\.0\.1:\d+/router", "".join(printed))
        assert found, "".join(printed)
        data = signed_form(
            method="erp.aftersale.list.query",
            app_key=KuaimaiSimulator.APP_KEY,
            session=KuaimaiSimulator.SESSION,
            secret=KuaimaiSimulator.APP_SECRET,
            sign_method="hmac",
            business={
                "pageNo": "1",
                "pageSize": "200",
                "startModified": "2024-05-01 00:00:00",
                "endModified": "2024-06-01 00:00:00",
            },
            at=time.time(),
        )
        body = httpx.post(found[0], data=data, timeout=30).json()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    twin = KuaimaiSimulator(
        size=60,
        faults=Faults(
            bad_record_rate=0.3,
            bad_record_kinds=("enum_violation",),
            seed=11,
            volume_drop=0.5,
            volume_drop_since=SINCE,
        ),
    )
    twin.aftersales.tick()
    served = {str(row["id"]): row for row in body["list"]}
    assert set(served) == set(twin.aftersales.select()) and twin.aftersales.dropped
    served_bad = {rid for rid, row in served.items() if row["status"] == 99 or row["afterSaleType"] == 6}
    assert served_bad == set(twin.aftersales.bad) & set(served) and served_bad


def test_ferry_sandbox_refuses_an_unknown_bad_record_kind() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ferry", "sandbox", "--bad-record-kinds", "wrong_type,typo"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert result.returncode == 2
    assert (
        "unknown kind 'typo'; choose from: wrong_type, missing_required, enum_violation"
        in result.stdout + result.stderr
    )


# -- the demo's one bad record -----------------------------------------------------------------


def test_the_quality_demo_sandbox_serves_exactly_one_bad_record_with_one_item_line() -> None:
    from ferry.sandbox.quality_demo import WORK_ORDER, quality_demo, quality_demo_sandbox

    sandbox = quality_demo_sandbox(size=60, faults=Faults(rate_per_second=0), clock=lambda: NOW)
    demo = quality_demo(sandbox)
    assert (demo.record_id, demo.path, demo.served, demo.stored) == (WORK_ORDER, "status", 99, 2)
    assert demo.scheme == "001-kuaimai-aftersale-to-mysql" and demo.allowed == (1, 2, 3, 4, 5)
    assert demo.served not in demo.allowed and demo.stored in demo.allowed
    kuaimai = sandbox["kuaimai"]
    assert isinstance(kuaimai, KuaimaiSimulator)
    rows = [row for page in (1, 2) for row in kuaimai_page(kuaimai, page)["list"]]
    bad = [row for row in rows if changed_paths(kuaimai.aftersales.get(str(row["id"])), row)]
    assert [(row["id"], row["status"], len(row["items"])) for row in bad] == [(int(WORK_ORDER), 99, 1)]
    others = [sim.name for sim in sandbox for data in sim.datasets() if data.bad and sim.name != "kuaimai"]
    assert others == []


def test_the_quality_demo_needs_the_work_order_to_exist() -> None:
    from ferry.sandbox.quality_demo import quality_demo_sandbox

    with pytest.raises(ValueError, match="size must be at least 7 for work order 4000007, got 6"):
        quality_demo_sandbox(size=6)
