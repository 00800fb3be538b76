"""The scheduler's rules with a fake clock and a recording stand-in runner: slots, misfires,
coalescing, "run now", the store's enabled flag, the periodic hook and shutdown."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
from schedule_env import TZ, Recorder, at, small_scheme

from ferry.schedule import FakeClock, Scheduler, jobs_of, latest_slot, next_slots
from ferry.store import open_store


@pytest.fixture
def store(sqlite_url):
    s = open_store(sqlite_url)
    yield s
    s.close()


def scheduler(store, clock, recorder, *schemes, owner="me", **kw) -> Scheduler:
    return Scheduler(list(schemes), store, clock=clock, owner=owner, runner=recorder.runner(owner), **kw)


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def run_tick(s: Scheduler) -> list[tuple[str, str]]:
    """One tick, then wait for the runs it started; the (scheme, job) of each."""
    flights = s.tick()
    for f in flights:
        f.thread.join(5)
    return [(f.job.scheme_id, f.job.name) for f in flights]


@pytest.mark.parametrize(
    ("crontab", "now", "latest", "following"),
    [
        pytest.param("*/5 * * * *", at(12, 5), at(12, 5), [at(12, 10), at(12, 15)], id="on-a-slot"),
        pytest.param("*/5 * * * *", at(12, 4, 59), at(12, 0), [at(12, 5), at(12, 10)], id="just-before"),
        pytest.param("2 */2 * * *", at(13, 0), at(12, 2), [at(14, 2), at(16, 2)], id="qeasy-every-2h"),
        pytest.param(
            "0 9 * * *",
            at(8, 30),
            datetime(2024, 5, 31, 9, tzinfo=TZ),
            [at(9, 0), at(9, 0, day=2)],
            id="daily",
        ),
    ],
)
def test_slots_are_cron_fire_times_in_the_scheme_zone(crontab, now, latest, following):
    assert latest_slot(crontab, now.astimezone(UTC), TZ) == latest
    assert next_slots(crontab, now.astimezone(UTC), TZ, 2) == following


def test_a_scheme_gets_a_job_per_crontab_and_delivers_even_with_only_a_source_schedule():
    qeasy = jobs_of(small_scheme(source="*/5 * * * *"))
    assert [(j.name, j.collect, j.deliver, j.phases) for j in qeasy] == [
        ("source", True, True, ("collect", "deliver"))
    ]
    both = jobs_of(small_scheme(source="*/5 * * * *", target="1-59/5 * * * *", omissionRemedy="0 * * * *"))
    assert [(j.name, j.collect, j.deliver, j.remedy) for j in both] == [
        ("source", True, False, False),
        ("target", False, True, False),
        ("omissionRemedy", True, False, True),
    ]
    assert jobs_of(small_scheme()) == []


def test_first_start_waits_for_the_next_slot_then_runs_each_slot_once(store):
    clock, rec = FakeClock(at(12, 1)), Recorder()
    s = scheduler(store, clock, rec, small_scheme(source="*/5 * * * *"))
    assert run_tick(s) == [], "a job seen for the first time starts from its latest slot"
    clock.set(at(12, 4, 59))
    assert run_tick(s) == []
    clock.set(at(12, 5))
    assert run_tick(s) == [("orders", "source")]
    assert run_tick(s) == [], "the same slot never runs twice"
    assert [c.now for c in rec.calls] == [at(12, 5)], "the run's now is the clock's"
    assert rec.options == [{"fork_deliverers": False}], "no fork from a threaded process"


def test_downtime_of_five_slots_gives_exactly_one_catch_up_run(store):
    clock, rec = FakeClock(at(12, 1)), Recorder()
    scheme = small_scheme(source="*/5 * * * *", target="2-59/5 * * * *")
    scheduler(store, clock, rec, scheme).prepare()  # the first process ran, then stopped
    clock.set(at(12, 28))  # slots 12:05 .. 12:25 (5 of each job) passed while nobody ran
    restarted = scheduler(store, clock, rec, scheme, owner="restarted")
    assert sorted(run_tick(restarted)) == [("orders", "source"), ("orders", "target")]
    assert run_tick(restarted) == []
    assert sorted(rec.kinds()) == [("orders", "collect", False), ("orders", "deliver", False)]
    clock.set(at(12, 30))
    assert run_tick(restarted) == [("orders", "source")], "then on schedule again"


def test_slots_that_pass_during_a_run_are_coalesced_into_one_following_run(store):
    clock, rec = FakeClock(at(12, 1)), Recorder()
    s = scheduler(store, clock, rec, small_scheme(source="*/5 * * * *"))
    s.prepare()
    rec.hold()
    clock.set(at(12, 5))
    [flight] = s.tick()
    for minute in (10, 15, 20):  # three slots come while the 12:05 run is still going
        clock.set(at(12, minute))
        assert s.tick() == [], "no second run beside the first"
    rec.release()
    flight.thread.join(5)
    assert run_tick(s) == [("orders", "source")], "one run for the three missed slots"
    assert run_tick(s) == []
    assert len(rec.calls) == 2
    first, second = rec.calls
    assert first.finished <= second.started


def test_a_collect_and_the_remedy_sweep_of_one_scheme_never_run_together(store):
    clock, rec = FakeClock(at(12, 50)), Recorder()
    s = scheduler(store, clock, rec, small_scheme(source="*/5 * * * *", omissionRemedy="0 * * * *"))
    s.prepare()
    rec.hold()
    clock.set(at(13, 0))  # both are due at 13:00
    assert [f.job.name for f in s.tick()] == ["source"]
    rec.release()
    s.join(5)
    assert [f.job.name for f in s.tick()] == ["omissionRemedy"]
    s.join(5)
    assert [(c.kind, c.remedy) for c in rec.calls] == [("run", False), ("run", True)]
    assert rec.calls[0].finished <= rec.calls[1].started


def test_run_now_waits_for_the_run_in_flight_and_is_queued_once(store):
    clock, rec = FakeClock(at(12, 1)), Recorder()
    s = scheduler(store, clock, rec, small_scheme(source="*/5 * * * *"))
    s.prepare()
    assert s.trigger("nope") == "unknown scheme 'nope'"
    rec.hold()
    clock.set(at(12, 5))
    s.tick()
    assert s.trigger("orders") == "orders: queued; starts when the source run ends"
    assert s.trigger("orders") == "orders: a run is already queued"
    assert s.tick() == []
    assert s.status()[0]["queued"] is True
    rec.release()
    s.join(5)
    assert run_tick(s) == [("orders", "manual")]
    assert rec.kinds()[-1] == ("orders", "run", False), "run now collects and delivers"
    assert s.trigger("orders") == "orders: run queued to start now"


def test_a_scheme_switched_off_in_the_store_lets_its_slots_pass(store):
    clock, rec = FakeClock(at(12, 1)), Recorder()
    s = scheduler(store, clock, rec, small_scheme(source="*/5 * * * *"))
    s.prepare()
    store.set_scheme_enabled("orders", False)
    clock.set(at(12, 20))
    assert run_tick(s) == []
    assert s.status()[0]["enabled"] is False
    store.set_scheme_enabled("orders", True)
    assert run_tick(s) == [], "switching it on again fires no catch-up run"
    clock.set(at(12, 25))
    assert run_tick(s) == [("orders", "source")]


def test_status_shows_next_fires_and_the_last_run(store):
    clock, rec = FakeClock(at(12, 1)), Recorder()
    s = scheduler(store, clock, rec, small_scheme(source="*/5 * * * *", target="2-59/5 * * * *"))
    s.prepare()
    [entry] = s.status()
    assert entry["last_run"] is None and entry["running"] == []
    assert {j["job"]: j["next_fires"][:2] for j in entry["jobs"]} == {
        "source": [at(12, 5), at(12, 10)],
        "target": [at(12, 2), at(12, 7)],
    }
    clock.set(at(12, 2))
    run_tick(s)
    clock.set(at(12, 5))
    run_tick(s)
    [entry] = s.status()
    runs = {j["job"]: j["last_run"] for j in entry["jobs"]}
    assert (runs["target"]["slot"], runs["source"]["slot"]) == (at(12, 2), at(12, 5))
    assert entry["last_run"] == runs["source"] and entry["last_run"]["status"] == "succeeded"
    assert entry["last_run"]["run_id"] == store.list_runs("orders")[0]["id"]


def test_the_loop_runs_jobs_as_the_clock_moves_and_calls_the_periodic_hook(store):
    clock, rec = FakeClock(at(12, 1)), Recorder()
    seen: list[datetime] = []
    s = scheduler(
        store,
        clock,
        rec,
        small_scheme(source="*/5 * * * *"),
        periodic=seen.append,
        periodic_every=timedelta(minutes=2),
    )
    s.start()
    try:
        assert s.wait_idle()
        for minute in range(2, 12):
            clock.set(at(12, minute))
            assert s.wait_idle()
        assert [c.now for c in rec.calls] == [at(12, 5), at(12, 10)]
    finally:
        assert s.stop(timeout=5)
    assert seen and all(b - a >= timedelta(minutes=2) for a, b in itertools.pairwise(seen))
    assert seen[0] >= at(12, 3)


def test_stop_asks_the_run_in_flight_to_stop_and_starts_nothing_more(store):
    clock, rec = FakeClock(at(12, 1)), Recorder()
    s = scheduler(store, clock, rec, small_scheme(source="*/5 * * * *"))
    s.start()
    assert s.wait_idle()
    rec.hold()  # the run never ends on its own
    clock.set(at(12, 5))
    assert wait_for(lambda: rec.calls)
    assert s.stop(timeout=5), "the run stopped at its checkpoint"
    assert rec.stops == ["shutdown"]
    assert store.list_runs("orders")[0]["error"] == "stopped: shutdown"
    clock.set(at(12, 10))
    assert s.tick() == [] and s.trigger("orders").startswith("refused")
    assert len(rec.calls) == 1


def test_the_loop_wakes_for_the_first_slot_after_its_tick_even_if_the_tick_ran_past_it(store):
    clock, rec = FakeClock(at(12, 1)), Recorder()
    s = scheduler(store, clock, rec, small_scheme(source="*/5 * * * *", target="2-59/5 * * * *"))
    s.prepare()
    assert s.next_wake(at(12, 1)) == at(12, 2)
    clock.set(at(12, 6))  # the tick at 12:04:59 took long: 12:05 must not wait for 12:10
    assert s.next_wake(at(12, 4, 59)) == at(12, 5) < clock.now()
