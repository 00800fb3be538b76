"""Leases and slots shared through the store: no overlap between schedulers, takeover after
expiry, a lost lease stops the run; on a SQLite file and on MariaDB."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from schedule_env import Recorder, at, small_scheme

from ferry.connectors.base import Limits, Page
from ferry.engine.runner import run_scheme
from ferry.schedule import FakeClock, Scheduler, acquire_lease, lease_holders, release_lease
from ferry.store import Store, open_store
from ferry.store._schema import scheme_leases
from ferry.store.leases import renew_lease

TTL = timedelta(minutes=2)


@pytest.fixture(params=["sqlite_url", "mariadb_url"], ids=["sqlite", "mariadb"])
def url(request) -> str:
    return request.getfixturevalue(request.param)


@pytest.fixture
def stores(url):
    """Two stores on one database, as two `ferry serve` processes would have."""
    first, second = open_store(url), open_store(url)
    yield first, second
    first.close()
    second.close()


def my_scheduler(store: Store, **schedule: str) -> tuple[FakeClock, Recorder, Scheduler]:
    """Scheduler ``me``, prepared at 12:01, over one scheme collecting every five minutes."""
    clock, rec = FakeClock(at(12, 1)), Recorder()
    scheme = small_scheme(source="*/5 * * * *", **schedule)
    s = Scheduler([scheme], store, clock=clock, owner="me", runner=rec.runner("me"), lease_ttl=TTL)
    s.prepare()
    return clock, rec, s


def test_a_lease_is_taken_atomically_kept_by_its_owner_and_taken_over_once_expired(stores):
    store, _ = stores
    now = at(12, 0)
    assert acquire_lease(store, "s", "collect", "a", now, TTL) is None
    assert acquire_lease(store, "s", "collect", "b", now + timedelta(minutes=1), TTL) == "a"
    assert acquire_lease(store, "s", "deliver", "b", now, TTL) is None, "phases are separate"
    assert acquire_lease(store, "s", "collect", "a", now + timedelta(minutes=1), TTL) is None, "renewed"
    assert acquire_lease(store, "s", "collect", "b", now + timedelta(minutes=2, seconds=59), TTL) == "a"
    assert acquire_lease(store, "s", "collect", "b", now + timedelta(minutes=3), TTL) is None, "expired"
    assert not renew_lease(store, "s", "collect", "a", now + timedelta(minutes=4), TTL), "a lost it"
    release_lease(store, "s", "collect", "a")  # not a's any more: nothing happens
    assert {(h["phase"], h["owner"]) for h in lease_holders(store, "s")} == {
        ("collect", "b"),
        ("deliver", "b"),
    }
    release_lease(store, "s", "collect", "b")
    assert [h["phase"] for h in lease_holders(store, "s")] == ["deliver"]


def test_two_schedulers_sharing_a_store_never_overlap_and_run_each_slot_once(stores):
    clock, rec = FakeClock(at(12, 1)), Recorder()
    scheme = small_scheme(source="*/5 * * * *")
    a, b = (
        Scheduler([scheme], store, clock=clock, owner=name, runner=rec.runner(name))
        for store, name in zip(stores, ("a", "b"), strict=True)
    )
    a.prepare()
    b.prepare()
    rec.hold()
    clock.set(at(12, 5))
    [flight] = a.tick()
    assert b.tick() == [], "a holds the collect lease"
    assert b.status()[0]["jobs"][0]["waiting"] is True
    rec.release()
    flight.thread.join(5)
    assert b.tick() == [], "a already ran the 12:05 slot"
    assert len(rec.calls) == 1

    # Both loops running on the same clock, as two `ferry serve` processes.
    a.start()
    b.start()
    try:
        for minute in range(6, 31):
            clock.set(at(12, minute))
            assert a.wait_idle() and b.wait_idle()
    finally:
        assert a.stop(timeout=5) and b.stop(timeout=5)
    assert [c.now for c in rec.calls] == [at(12, m) for m in range(5, 31, 5)]
    spans = sorted((c.started, c.finished) for c in rec.calls)
    assert all(prev[1] <= nxt[0] for prev, nxt in itertools.pairwise(spans)), "no overlap"


def test_a_lease_left_by_a_killed_process_is_taken_over_after_it_expires(stores):
    store, _ = stores
    clock, rec, s = my_scheduler(store)
    # A process died at 12:04 in the middle of a run: its lease and its run row are left behind.
    assert acquire_lease(store, "orders", "collect", "dead:1", at(12, 4), TTL) is None
    assert acquire_lease(store, "orders", "deliver", "dead:1", at(12, 4), TTL) is None
    orphan = store.start_run("orders", "run")
    clock.set(at(12, 5))
    assert s.tick() == [], "the dead process's lease has not expired yet"
    assert store.get_run(orphan)["status"] == "running"
    clock.set(at(12, 6, 1))
    rec.hold()
    [flight] = s.tick()
    assert {h["owner"] for h in lease_holders(store, "orders")} == {"me"}
    rec.release()
    flight.thread.join(5)
    closed = store.get_run(orphan)
    assert closed["status"] == "failed" and "interrupted" in closed["error"]
    assert [c.now for c in rec.calls] == [at(12, 6, 1)], "one catch-up run for the 12:05 slot"
    assert lease_holders(store, "orders") == [], "released at the end"


def test_a_run_whose_lease_was_taken_over_stops_at_its_next_checkpoint(stores):
    store, _ = stores
    clock, rec, s = my_scheduler(store)
    rec.hold()
    clock.set(at(12, 5))
    [flight] = s.tick()
    with store.transaction(write=True) as conn:  # this process stalled; another took over
        conn.execute(sa.update(scheme_leases).values(owner="thief"))
    clock.advance(TTL / 3)  # the renewal finds the lease gone
    flight.thread.join(5)
    assert rec.stops == ["lease lost"]
    assert store.list_runs("orders")[0]["error"] == "stopped: lease lost"
    assert {h["owner"] for h in lease_holders(store, "orders")} == {"thief"}, "never released by the loser"


def test_stale_runs_of_another_phase_are_left_alone(stores):
    """A deliver run's leases say nothing about a collect run another process has going."""
    store, _ = stores
    clock, rec, s = my_scheduler(store, target="2-59/5 * * * *")
    assert acquire_lease(store, "orders", "collect", "other", at(12, 1), TTL) is None
    live_collect = store.start_run("orders", "collect")
    clock.set(at(12, 2))
    [flight] = s.tick()
    flight.thread.join(5)
    assert store.get_run(live_collect)["status"] == "running"
    assert [c.kind for c in rec.calls] == ["deliver"]


class EmptySource:
    name = "empty"
    limits = Limits()

    def fetch(self, api, method, request, state) -> Page:
        return Page(records=[], next=None)

    def close(self) -> None:
        pass

    def vendor_time(self) -> None:
        return None


def test_a_ferry_run_beside_serve_does_not_close_the_served_run(stores):
    store, _ = stores
    scheme = small_scheme()
    assert acquire_lease(store, "orders", "collect", "serve", datetime.now(UTC), TTL) is None
    served = store.start_run("orders", "collect")
    run_scheme(scheme, store, deliver=False, source=EmptySource(), now=at(12, 0))
    assert store.get_run(served)["status"] == "running", "its lease says it is alive"
    release_lease(store, "orders", "collect", "serve")
    run_scheme(scheme, store, deliver=False, source=EmptySource(), now=at(12, 0))
    assert store.get_run(served)["status"] == "failed", "no lease: it was left by a dead process"
