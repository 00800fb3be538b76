"""`ferry serve` runs every enabled scheme once at start, lookup schemes first, one after another."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from schedule_env import Recorder, at, small_scheme

from ferry.schedule import FakeClock, Scheduler
from ferry.scheme.loader import load_scheme
from ferry.scheme.lookups import lookup_dependencies, lookup_order
from ferry.store import open_store


@pytest.fixture
def store(sqlite_url):
    s = open_store(sqlite_url)
    yield s
    s.close()


def looking_up(scheme_id: str, value: str, **settings: Any):
    """A scheme whose target field ``other`` has ``value`` (a lookup), over throw-away SQLite."""
    return load_scheme(
        {
            "id": scheme_id,
            "name": scheme_id,
            "source": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {"api": "SELECT id FROM t ORDER BY id", "effect": "QUERY", "id": "id"},
            },
            "target": {
                "connection": {"type": "ledger"},
                "metadata": {
                    "api": "save",
                    "effect": "EXECUTE",
                    "request": [{"field": "id", "value": "{id}"}, {"field": "other", "value": value}],
                },
            },
            "window": {"start": "2024-05-01 00:00:00", "step": "1d"},
            "settings": settings,
        }
    )


def test_lookup_dependencies_come_from_every_kind_of_reference() -> None:
    found = looking_up("a", "_findCollection find x from products where sku={sku}")
    mongo = looking_up("b", '_mongoQuery stock findField=content.qty where={"content.sku":{"$eq":"{sku}"}}')
    default = looking_up(
        "c", '_mongoQuery findField=content.qty where={"content.sku":{"$eq":"{sku}"}}', lookup_scheme="units"
    )
    nested = looking_up(
        "d", "_function CONCAT(_findCollection find x from prices where sku={sku} _endFind, 'x')"
    )
    own = looking_up("e", "_findCollection find x from e where sku={sku}")

    assert lookup_dependencies(found) == {"products"}
    assert lookup_dependencies(mongo) == {"stock"}
    assert lookup_dependencies(default) == {"units"}
    assert lookup_dependencies(nested) == {"prices"}
    assert lookup_dependencies(own) == frozenset(), "a scheme reading its own ledger orders nothing"


def test_lookup_schemes_come_first_and_the_rest_keeps_its_order() -> None:
    orders = looking_up("orders", "_findCollection find x from customers where id={id}")
    receipts = looking_up("receipts", "_findCollection find x from orders where id={id}")
    plain = looking_up("plain", "constant")
    customers = looking_up("customers", "constant")

    ordered = [s.id for s in lookup_order([receipts, plain, orders, customers])]

    assert ordered == ["customers", "orders", "receipts", "plain"]


def test_the_startup_runs_each_enabled_scheme_once_one_after_another_in_order(store) -> None:
    clock = FakeClock(at(12, 0))
    recorder = Recorder()
    schemes = [small_scheme(name, source="*/5 * * * *") for name in ("a", "b", "c")]
    scheduler = Scheduler(
        schemes, store, clock=clock, owner="me", runner=recorder.runner("me"), startup=["c", "a", "b"]
    )

    reports = scheduler.run_once()

    assert [r.scheme_id for r in reports] == ["c", "a", "b"]
    assert recorder.kinds() == [("c", "run", False), ("a", "run", False), ("b", "run", False)]
    calls = recorder.calls
    assert all(calls[i].finished <= calls[i + 1].started for i in range(2)), "never side by side"
    assert [r["kind"] for r in store.list_runs()] == ["run"] * 3


def test_a_scheme_runs_its_cron_jobs_only_after_its_startup_run_and_not_twice_for_the_same_slot(
    store,
) -> None:
    clock = FakeClock(at(12, 0))
    first, second = small_scheme("first", source="*/5 * * * *"), small_scheme("second", source="*/5 * * * *")
    Scheduler([first, second], store, clock=clock, owner="x", runner=Recorder().runner("x")).prepare()
    clock.set(at(12, 7))  # a slot (12:05) of both is due at the restart
    recorder = Recorder()
    recorder.hold()
    scheduler = Scheduler(
        [first, second],
        store,
        clock=clock,
        owner="me",
        runner=recorder.runner("me"),
        startup=["first", "second"],
    )

    flights = scheduler.tick()
    assert [(f.job.scheme_id, f.job.name) for f in flights] == [("first", "startup")], (
        "second's due slot waits for its start-up run; first's slot is what its start-up run does"
    )
    assert scheduler.tick() == [], "nothing starts beside a start-up run"
    recorder.release()
    flights[0].thread.join(5)
    following = scheduler.tick()
    assert [(f.job.scheme_id, f.job.name) for f in following] == [("second", "startup")]
    following[0].thread.join(5)
    assert scheduler.tick() == [], "the 12:05 slots were done by the start-up runs"
    clock.advance(timedelta(minutes=3))  # 12:10: the next slot fires as usual
    later = scheduler.tick()
    assert sorted((f.job.scheme_id, f.job.name) for f in later) == [("first", "source"), ("second", "source")]
    for f in later:
        f.thread.join(5)


def test_a_scheme_disabled_in_its_file_or_switched_off_gets_no_startup_run(store) -> None:
    clock = FakeClock(at(12, 0))
    recorder = Recorder()
    off = small_scheme("off")
    off.enabled = False
    switched = small_scheme("switched")
    store.save_scheme("switched", "switched", {})
    store.set_scheme_enabled("switched", False)
    scheduler = Scheduler(
        [off, switched, small_scheme("on")],
        store,
        clock=clock,
        owner="me",
        runner=recorder.runner("me"),
        startup=["off", "switched", "on"],
    )

    scheduler.run_once()

    assert recorder.kinds() == [("on", "run", False)]


def test_stop_during_the_startup_sequence_starts_nothing_more(store) -> None:
    clock = FakeClock(at(12, 0))
    recorder = Recorder()
    recorder.hold()
    scheduler = Scheduler(
        [small_scheme("a"), small_scheme("b")],
        store,
        clock=clock,
        owner="me",
        runner=recorder.runner("me"),
        startup=["a", "b"],
    )
    scheduler.start()
    try:
        assert _wait(lambda: len(recorder.calls) == 1)
        scheduler.stop(wait=False)
        recorder.release()
        assert scheduler.join(5)
    finally:
        scheduler.stop()
    assert recorder.kinds() == [("a", "run", False)]


def _wait(condition: Any, timeout: float = 5.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return True
        done.wait(0.01)
    return False
