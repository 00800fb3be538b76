"""The in-process cron scheduler behind ``ferry serve`` (rules: see :mod:`ferry.schedule`).

One loop thread wakes at the next cron slot of any job (or when rung: a run ended, "run
now", stop), starts every job that is due, and sleeps again; each run gets its own thread
(:mod:`ferry.schedule._flight`). Runs get ``now`` from the scheduler's clock, so a
:class:`~ferry.schedule.FakeClock` drives windows and slots alike in tests.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ferry.errors import FerryError
from ferry.schedule._clock import Clock, SystemClock
from ferry.schedule._flight import Flight, Runner, every_loop
from ferry.schedule._jobs import STARTUP, Job, jobs_of, latest_slot, manual_job, next_slots, startup_job
from ferry.schedule._status import Snapshot, scheme_status
from ferry.store.leases import acquire_lease, claim_slot, init_slot, read_slots, release_lease

if TYPE_CHECKING:
    from ferry.engine.runner import RunReport
    from ferry.scheme.model import Scheme
    from ferry.store import Store

__all__ = ["Scheduler"]

logger = logging.getLogger("ferry.schedule")
Key = tuple[str, str]


def default_owner() -> str:
    """``host:pid:random``: who holds a lease, unique per scheduler instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Scheduler:
    """Runs enabled schemes on their crontabs; see :mod:`ferry.schedule` for the rules.

    Args:
        schemes: Loaded schemes (ids unique).
        store: The shared store (ledger, runs, leases, slots).
        clock: Time source; :class:`SystemClock` by default.
        owner: Lease owner id (unique per instance; default host:pid:random).
        lease_ttl: How long a lease lasts unless renewed (renewed every third of it).
        poll: How often to try again when a lease is held by another process.
        runner: ``run_scheme`` by default; tests pass stand-ins.
        run_options: Extra keyword arguments for every run (``transport``, ``retry`` ...).
        periodic: Called with the clock's time every ``periodic_every`` (``ferry serve``
            evaluates alert rules there); its errors are logged, never raised.
        fork_deliverers: Let streaming runs deliver in forked child processes
            (``settings.stream: process``). Off by default: forking a process that runs other
            threads is unsafe, so scheduled runs deliver in a thread.
        startup: Scheme ids to run once at start (collect and deliver), one after another in
            this order (``ferry serve`` passes the enabled schemes, lookup schemes first). A
            scheme's cron jobs wait until its start-up run began, and the slots due then are
            counted as fired by it.
    """

    def __init__(
        self,
        schemes: Sequence[Scheme],
        store: Store,
        *,
        clock: Clock | None = None,
        owner: str | None = None,
        lease_ttl: timedelta = timedelta(minutes=2),
        poll: timedelta = timedelta(seconds=15),
        runner: Runner | None = None,
        run_options: dict[str, Any] | None = None,
        periodic: Callable[[datetime], None] | None = None,
        periodic_every: timedelta = timedelta(minutes=1),
        fork_deliverers: bool = False,
        startup: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.owner = owner or default_owner()
        self.lease_ttl, self.poll = lease_ttl, poll
        self.periodic, self.periodic_every = periodic, periodic_every
        self.run_options = {"fork_deliverers": fork_deliverers, **(run_options or {})}
        self._runner = runner
        self.schemes: dict[str, Scheme] = {}
        for scheme in schemes:
            if scheme.id in self.schemes:
                raise ValueError(f"scheme id {scheme.id!r} given twice")
            self.schemes[scheme.id] = scheme
        self.jobs: dict[str, list[Job]] = {
            s.id: jobs_of(s) if s.enabled else [] for s in self.schemes.values()
        }
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._periodic_bell = threading.Event()
        self._stopping = threading.Event()
        self._slots: dict[Key, datetime] = {}
        self._flights: dict[Key, Flight] = {}
        self._busy: dict[Key, str] = {}  # (scheme, phase) -> job running under it here
        self._blocked: set[Key] = set()  # (scheme, job) due but another process holds a lease
        self._queued: list[str] = []  # schemes with a "run now" waiting
        self._last: dict[Key, dict[str, Any]] = {}  # (scheme, job) -> its last run here
        self._threads: list[threading.Thread] = []
        self._prepared = False
        self._ticked_at: datetime | None = None
        self._sleeping = False
        self._startup = list(startup)

    # -- lifecycle ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Save the schemes in the store (so the console lists and switches them) and give
        every job seen for the first time its latest slot as "fired". Idempotent."""
        if self._prepared:
            return
        from ferry.engine.runner import scheme_definition

        now = self.clock.now()
        for scheme in self.schemes.values():
            self.store.save_scheme(scheme.id, scheme.name, scheme_definition(scheme))
            for job in self.jobs[scheme.id]:
                assert job.crontab is not None
                init_slot(self.store, scheme.id, job.name, latest_slot(job.crontab, now, scheme.tz), now)
        self._slots = read_slots(self.store)
        self._prepared = True

    def start(self) -> None:
        """Prepare, then run the loop (and the periodic hook) in background threads."""
        self.prepare()
        self._threads = [threading.Thread(target=self._loop, name="ferry-scheduler", daemon=True)]
        if self.periodic is not None:
            every = every_loop(
                self.clock, self.periodic_every, self.periodic, self._stopping, self._periodic_bell
            )
            self._threads.append(threading.Thread(target=every, name="ferry-periodic", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, *, wait: bool = True, timeout: float | None = None) -> bool:
        """Start no more runs; ask those in flight to stop at their next checkpoint.

        With ``wait``, block until the loop and every run have ended (or ``timeout`` seconds
        passed); returns whether everything ended.
        """
        self._stopping.set()
        with self._lock:
            self._wake.set()
        self._periodic_bell.set()
        return self.join(timeout) if wait else True

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping.is_set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the loop threads and every run in flight; whether all ended in time."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(deadline - time.monotonic(), 0)

        for thread in self._threads:
            thread.join(left())
        while True:  # the loop may have started runs while we waited for it
            flights = [t for t in self._flight_threads() if t.is_alive()]
            if not flights or (deadline is not None and time.monotonic() >= deadline):
                break
            for thread in flights:
                thread.join(left())
        return not any(t.is_alive() for t in [*self._threads, *self._flight_threads()])

    def run_once(self) -> list[RunReport]:
        """One pass (``ferry serve --once``): run the start-up sequence, one scheme after the
        other, and every job due now; wait for them and return their reports."""
        self.prepare()
        reports: list[RunReport] = []
        while True:
            flights = self.tick()
            for flight in flights:
                assert flight.thread is not None
                flight.thread.join()
            reports += [f.report for f in flights if f.report is not None]
            if not (self._startup and flights):
                return reports

    # -- "run now" ------------------------------------------------------------------------

    def trigger(self, scheme_id: str) -> str:
        """Queue one immediate collect-and-deliver run of ``scheme_id`` ("run now").

        It starts as soon as no run of the scheme is in flight (never beside one); a second
        request while one waits adds nothing. A scheme switched off in the store still runs (an
        explicit request); one disabled in its file does not. Returns a short status for the
        operator.
        """
        scheme = self.schemes.get(scheme_id)
        if scheme is None:
            return f"unknown scheme {scheme_id!r}"
        if not scheme.enabled:
            return f"{scheme_id} is disabled in its scheme file"
        if self.stopping:
            return "refused: the scheduler is shutting down"
        with self._lock:
            if scheme_id in self._queued:
                return f"{scheme_id}: a run is already queued"
            self._queued.append(scheme_id)
            running = sorted({job for (sid, _), job in self._busy.items() if sid == scheme_id})
            self._wake.set()
        if running:
            return f"{scheme_id}: queued; starts when the {', '.join(running)} run ends"
        return f"{scheme_id}: run queued to start now"

    # -- the loop -------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self.stopping:
            self._wake.clear()
            now = self.clock.now()
            try:
                self.tick(now)
                until = self.next_wake(now)  # a slot that passed during the tick is due at once
            except FerryError as exc:  # the store is busy or unreachable: try again after poll
                logger.warning("scheduler: %s; trying again in %ss", exc, self.poll.total_seconds())
                until = self.clock.now() + self.poll
            except Exception:  # a bug: keep scheduling, say so loudly
                logger.exception("scheduler: the tick failed; trying again in %ss", self.poll.total_seconds())
                until = self.clock.now() + self.poll
            with self._lock:
                self._sleeping = True
            try:
                self.clock.wait(self._wake, until)
            finally:
                with self._lock:
                    self._sleeping = False

    def next_wake(self, ticked: datetime) -> datetime:
        """When the loop must look again after a tick at ``ticked``: the next slot of any job
        after it, or ``poll`` from then while a job or "run now" waits for another process's
        lease (a run ending here rings the loop itself)."""
        times = [ticked + timedelta(hours=1)]
        for scheme in self.schemes.values():
            for job in self.jobs[scheme.id]:
                assert job.crontab is not None
                times += next_slots(job.crontab, ticked, scheme.tz)
        with self._lock:
            if self._blocked:
                times.append(ticked + self.poll)
        return min(times)

    def tick(self, now: datetime | None = None) -> list[Flight]:
        """Start every job due at ``now`` (default: the clock's time); returns the runs started."""
        now = now or self.clock.now()
        started: list[Flight] = []
        if self.stopping:
            return started
        self.prepare()
        flags = self.store.scheme_flags()
        with self._lock:
            self._blocked.clear()
            started += self._start_next_startup(now, flags)
            for scheme_id in list(self._queued):
                flight = self._start(manual_job(self.schemes[scheme_id]), None, now)
                if flight is not None:
                    self._queued.remove(scheme_id)
                    started.append(flight)
            for scheme in self.schemes.values():
                if scheme.id in self._startup:  # its jobs wait for its start-up run
                    continue
                on = flags.get(scheme.id, True)
                for job in self.jobs[scheme.id]:
                    flight = self._fire(scheme, job, now, enabled=on)
                    if flight is not None:
                        started.append(flight)
            self._ticked_at = now
        return started

    def _start_next_startup(self, now: datetime, flags: dict[str, bool]) -> list[Flight]:
        """Start the next scheme of the start-up sequence once no start-up run is in flight."""
        while self._startup and not any(name == STARTUP for _, name in self._flights):
            scheme = self.schemes.get(self._startup[0])
            if scheme is None or not scheme.enabled or not flags.get(scheme.id, True):
                self._startup.pop(0)  # unknown, disabled in its file or switched off: no run
                continue
            flight = self._start(startup_job(scheme), None, now)
            if flight is None:  # a run or another process's lease in the way: the next tick
                return []
            self._startup.pop(0)
            self._claim_due_slots(scheme, now)
            return [flight]
        return []

    def _claim_due_slots(self, scheme: Scheme, now: datetime) -> None:
        """Count the scheme's collect/deliver slots due now as fired: its start-up run does them."""
        for job in self.jobs[scheme.id]:
            slot = latest_slot(job.crontab or "", now, scheme.tz)
            last = self._slots.get((scheme.id, job.name))
            if not job.remedy and (last is None or slot > last):
                claim_slot(self.store, scheme.id, job.name, slot, now)
                self._slots[(scheme.id, job.name)] = slot

    def _fire(self, scheme: Scheme, job: Job, now: datetime, *, enabled: bool) -> Flight | None:
        assert job.crontab is not None
        key = (scheme.id, job.name)
        slot = latest_slot(job.crontab, now, scheme.tz)
        last = self._slots.get(key)
        if last is not None and slot <= last:
            return None
        if not enabled:  # switched off: let the slot pass without a run
            claim_slot(self.store, scheme.id, job.name, slot, now)
            self._slots[key] = slot
            return None
        return self._start(job, slot, now)

    def _start(self, job: Job, slot: datetime | None, now: datetime) -> Flight | None:
        """Take the job's leases and its slot, then start its run; ``None`` if it must wait."""
        key = (job.scheme_id, job.name)
        if any((job.scheme_id, phase) in self._busy for phase in job.phases):
            return None  # coalesced: the slot stays due; the run in flight rings us when it ends
        taken: list[str] = []
        for phase in job.phases:
            holder = acquire_lease(self.store, job.scheme_id, phase, self.owner, now, self.lease_ttl)
            if holder is not None:
                for got in taken:
                    release_lease(self.store, job.scheme_id, got, self.owner)
                self._blocked.add(key)
                logger.debug("%s %s: the %s lease is held by %s", job.scheme_id, job.name, phase, holder)
                return None
            taken.append(phase)
        if slot is not None and not claim_slot(self.store, job.scheme_id, job.name, slot, now):
            for got in taken:  # another scheduler ran this slot
                release_lease(self.store, job.scheme_id, got, self.owner)
            self._slots.update(read_slots(self.store))
            return None
        if slot is not None:
            self._slots[key] = slot
        flight = Flight(
            job=job,
            slot=slot,
            scheme=self.schemes[job.scheme_id],
            store=self.store,
            clock=self.clock,
            owner=self.owner,
            ttl=self.lease_ttl,
            stopping=self._stopping,
            started_at=now,
        )
        self._flights[key] = flight
        for phase in job.phases:
            self._busy[(job.scheme_id, phase)] = job.name
        at = f" (slot {slot.isoformat(sep=' ')})" if slot is not None else ""
        logger.info("%s %s: starting%s", job.scheme_id, job.name, at)
        flight.start(self._runner or _run_scheme(), self.run_options, self._ended)
        return flight

    def _ended(self, flight: Flight) -> None:
        job = flight.job
        with self._lock:
            self._flights.pop((job.scheme_id, job.name), None)
            for phase in job.phases:
                self._busy.pop((job.scheme_id, phase), None)
            self._last[(job.scheme_id, job.name)] = flight.outcome()
            self._wake.set()
        flight.log_outcome()

    # -- what the console and the tests see -----------------------------------------------

    def _flight_threads(self) -> list[threading.Thread]:
        with self._lock:
            return [f.thread for f in self._flights.values() if f.thread is not None]

    def running(self) -> list[tuple[str, str]]:
        """``(scheme_id, job)`` of every run in flight here."""
        with self._lock:
            return sorted(self._flights)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Tests: wait until the loop has looked at the clock's current time, nothing runs and
        nothing rang it since; whether that happened within ``timeout`` real seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle = (
                    not self._flights
                    and self._sleeping
                    and not self._wake.is_set()
                    and self._ticked_at is not None
                    and self._ticked_at >= self.clock.now()
                )
            if idle:
                return True
            time.sleep(0.005)
        return False

    def status(self) -> list[dict[str, Any]]:
        """Per scheme what the scheduler knows, for the console::

            {"scheme_id", "name", "enabled", "queued": bool, "running": [job, ...],
             "jobs": [{"job", "crontab", "next_fires": [3 datetimes], "last_slot",
                       "running": bool, "waiting": bool, "last_run": {...} | None}],
             "last_run": {"job", "slot", "run_id", "status", "error", "started_at",
                          "finished_at", "counts"} | None}

        A job's ``last_run`` is its last run this scheduler finished (clock times); the
        scheme's is the latest of those, else the store's latest run (a dict of ``runs``).
        """
        now = self.clock.now()
        flags = self.store.scheme_flags()
        with self._lock:
            seen = Snapshot(
                dict(self._slots), set(self._flights), set(self._blocked), set(self._queued), dict(self._last)
            )
        out = [
            scheme_status(scheme, self.jobs[scheme.id], now, flags.get(scheme.id, True), seen)
            for scheme in self.schemes.values()
        ]
        for entry in out:
            if entry["last_run"] is None:
                runs = self.store.list_runs(str(entry["scheme_id"]), limit=1)
                entry["last_run"] = runs[0] if runs else None
        return out


def _run_scheme() -> Runner:
    from ferry.engine.runner import run_scheme

    return run_scheme
