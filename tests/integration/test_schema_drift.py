"""Schema drift with each policy, triggered by the sandbox renaming a field in the middle of a run.

Seed 001 (KuaiMai after-sales, ``beatFlat: items``) is collected twice from the simulator
through the in-process transport. The first run learns the fingerprint; during the second the
simulator starts serving ``items[].outerId`` as ``items[].outerID`` after a few calls
(``Faults(rename_field=..., rename_after_calls=...)``): ``outerId`` disappears and ``outerID``
appears, and ``settings.schema_drift`` decides what happens.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry.engine.drift import accept_fingerprint
from ferry.engine.events import read_run_events
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import RunReport, run_scheme
from ferry.sandbox import Faults, Sandbox, world
from ferry.sandbox.kuaimai import KuaimaiSimulator
from ferry.sandbox.seeds import RUN_UNTIL, SEEDS, load_seed, sandbox_env
from ferry.store import Store, open_store
from ferry.store import drift as stored

SIZE = 120
"""Work orders over the world's 30 days: four a day, so each one-day window is one page."""
PAGE = 5
SINCE = world.ANCHOR - timedelta(days=12)
FIRST_UNTIL = world.ANCHOR - timedelta(days=6)
"""The first run learns from here back to SINCE; the second reads on from here."""
RENAME_AFTER = 3
"""Calls the simulator serves as usual in the second run before it renames the field."""
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
SEED = next(seed for seed in SEEDS if seed.key == "001")
RENAME = Faults(rename_field="outerId:outerID", rename_after_calls=RENAME_AFTER)


def _scheme(tmp_path: Path, sandbox: Sandbox, policy: str) -> Any:
    unused = f"sqlite:///{tmp_path / 'unused-target.db'}"  # collect only: the SQL target stays idle
    env = {**sandbox_env(sandbox), "MOM_MYSQL_URL": unused, "BI_MYSQL_URL": unused}
    raw = yaml.safe_load(SEED.path.with_name("connections.yaml").read_text(encoding="utf-8"))
    raw["kuaimai"]["refresh_token"] = KuaimaiSimulator.REFRESH_TOKEN
    scheme = load_seed(SEED, env=env, connections=raw, since=SINCE)
    scheme.settings = scheme.settings.model_copy(update={"page_size": PAGE, "schema_drift": policy})
    return scheme


def _collect(
    tmp_path: Path, store: Store, policy: str, until: datetime, faults: Faults | None = None
) -> RunReport:
    sandbox = Sandbox.default(size=SIZE, faults=faults, only=["kuaimai"])
    scheme = _scheme(tmp_path, sandbox, policy)
    return run_scheme(
        scheme,
        store,
        deliver=False,
        now=until.replace(tzinfo=scheme.tz),
        transport=sandbox.transport(),
        retry=FAST,
    )


def _two_runs(tmp_path: Path, store: Store, policy: str) -> tuple[RunReport, RunReport]:
    first = _collect(tmp_path, store, policy, FIRST_UNTIL)
    assert first.status == "succeeded", first.error
    assert stored.list_drift(store) == []  # the first run learns, it reports nothing
    second = _collect(tmp_path, store, policy, RUN_UNTIL, RENAME)
    return first, second


def _events_by_field(store: Store) -> dict[str, dict[str, Any]]:
    return {event["field"]: event for event in stored.list_drift(store, SEED_ID)}


SEED_ID = "001-kuaimai-aftersale-to-mysql"


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as opened:
        yield opened


def _drift_lines(store: Store, report: RunReport) -> list[str]:
    assert report.run_id is not None
    return [e["message"] for e in read_run_events(store, report.run_id) if "schema drift" in e["message"]]


def _rows(store: Store) -> list[Any]:
    return store.find_records(SEED_ID, limit=100_000)


def _renamed(row: Any) -> bool:
    """Whether a ledger row holds the renamed key: a flattened row's ``items`` is one element,
    a held record keeps its whole ``items`` list."""
    items = row.content.get("items")
    elements = items if isinstance(items, list) else [items]
    return any(isinstance(item, dict) and "outerID" in item for item in elements)


def test_warn_records_the_rename_once_delivers_and_learns(tmp_path: Path, store: Store) -> None:
    _, second = _two_runs(tmp_path, store, "warn")
    assert second.status == "succeeded", second.error
    events = _events_by_field(store)
    assert set(events) == {"items[].outerId", "items[].outerID"}  # `finished` is optional: not flagged
    gone, new = events["items[].outerId"], events["items[].outerID"]
    assert (gone["change"], gone["before"], gone["after"]) == ("disappeared", "string", None)
    assert (new["change"], new["before"], new["after"]) == ("appeared", None, "string")
    assert {gone["run_id"], new["run_id"]} == {second.run_id}
    assert gone["status"] == new["status"] == "open" and gone["policy"] == "warn"
    assert gone["occurrences"] == 1  # learnt at once: the later pages are quiet
    assert gone["window_start"] is not None and gone["window_end"] > gone["window_start"]
    sample = store.get_record(SEED_ID, f"{new['record_id']}-0") or next(
        r for r in _rows(store) if r.record_id.startswith(str(new["record_id"]))
    )
    assert _renamed(sample)  # the flattened row of the record named in the event
    lines = _drift_lines(store, second)
    assert len(lines) == 1 and "items[].outerId disappeared (was string)" in lines[0]
    renamed = [r for r in _rows(store) if _renamed(r)]
    assert renamed and all(r.status == "pending" for r in renamed)  # delivered as they are
    known = stored.load_fingerprint(store, SEED_ID)
    assert known is not None and "items[].outerID" in known["fields"]


def test_ignore_learns_the_rename_and_reports_nothing(tmp_path: Path, store: Store) -> None:
    _, second = _two_runs(tmp_path, store, "ignore")
    assert second.status == "succeeded", second.error
    assert stored.list_drift(store) == []
    assert _drift_lines(store, second) == []
    known = stored.load_fingerprint(store, SEED_ID)
    assert known is not None and "items[].outerID" in known["fields"]
    assert any(_renamed(r) for r in _rows(store))


def test_fail_stops_the_window_until_the_drift_is_accepted(tmp_path: Path, store: Store) -> None:
    _, second = _two_runs(tmp_path, store, "fail")
    assert second.status == "failed"
    assert "schema drift" in (second.error or "") and "items[].outerId disappeared" in (second.error or "")
    assert "ferry drift accept 001-kuaimai-aftersale-to-mysql" in (second.error or "")
    cursor = store.get_cursor(SEED_ID, "main")
    assert cursor is not None
    assert cursor.replace(tzinfo=None) < RUN_UNTIL  # the failing window did not move it
    assert not any(_renamed(r) for r in _rows(store))  # the drifted page was not stored
    assert {e["status"] for e in stored.list_drift(store)} == {"open"}

    accepted = stored.accept_drift(
        store, SEED_ID, accept_fingerprint, by="tester", now=datetime.now().astimezone()
    )
    assert accepted == 2
    third = _collect(tmp_path, store, "fail", RUN_UNTIL, Faults(rename_field="outerId:outerID"))
    assert third.status == "succeeded", third.error
    assert store.get_cursor(SEED_ID, "main").replace(tzinfo=None) > cursor.replace(tzinfo=None)  # type: ignore[union-attr]
    assert any(_renamed(r) for r in _rows(store))
    assert {e["status"] for e in stored.list_drift(store)} == {"accepted"}


def test_quarantine_holds_the_renamed_records_with_the_reason(tmp_path: Path, store: Store) -> None:
    _, second = _two_runs(tmp_path, store, "quarantine")
    assert second.status == "succeeded", second.error  # held records wait for an operator, not a retry
    assert second.counts.balances(), second.counts.imbalance()
    held = [r for r in _rows(store) if r.last_error and "quarantined by schema_drift" in r.last_error]
    assert held, "no record was held"
    assert all(r.status == "quarantined" for r in held)
    assert all(_renamed(r) for r in held)
    reason = "quarantined by schema_drift: items[].outerID = 'string': schema drift: items[].outerID appeared"
    assert all(reason in (r.last_error or "") for r in held)
    assert second.counts.quarantined == len(held)
    delivered_as_usual = [r for r in _rows(store) if r.status == "pending"]
    assert delivered_as_usual and not any(_renamed(r) for r in delivered_as_usual)
    gone = _events_by_field(store)["items[].outerId"]
    assert gone["policy"] == "quarantine" and gone["occurrences"] > 1  # one row, counted per page
    assert len(_drift_lines(store, second)) == 1  # one run event per change and run
    known = stored.load_fingerprint(store, SEED_ID)
    assert known is not None and "items[].outerID" not in known["fields"]  # held, not learnt
