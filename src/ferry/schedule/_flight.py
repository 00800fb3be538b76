"""One run in flight: the run itself in a thread, and its leases renewed until it ends.

The scheduler hands a :class:`Flight` the leases it already took. The flight closes the runs a
dead process left ``running`` (safe: the leases are ours), calls the runner with a stop hook,
renews the leases every third of their lifetime, and releases them when the run ends. If a
renewal finds a lease taken over (this process stalled past the expiry), the run is asked to
stop at its next checkpoint with ``stopped: lease lost``, so two runs never overlap for long.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ferry.errors import FerryError
from ferry.schedule._clock import Clock
from ferry.schedule._jobs import Job
from ferry.store.leases import close_stale_runs, release_lease, renew_lease

if TYPE_CHECKING:
    from ferry.engine.runner import RunReport
    from ferry.scheme.model import Scheme
    from ferry.store import Store

__all__ = ["Flight", "Runner", "every_loop"]

Runner = Callable[..., "RunReport"]
"""``run_scheme`` or a stand-in with its keyword arguments."""

logger = logging.getLogger("ferry.schedule")


@dataclass
class Flight:
    """A job's run, from the leases taken to the leases released."""

    job: Job
    slot: datetime | None
    scheme: Scheme
    store: Store
    clock: Clock
    owner: str
    ttl: timedelta
    stopping: threading.Event
    started_at: datetime
    finished_at: datetime | None = None
    report: RunReport | None = None
    error: str | None = None
    lease_lost: bool = False
    _done: bool = False
    _bell: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self, runner: Runner, options: dict[str, Any], on_end: Callable[[Flight], None]) -> None:
        """Run in a daemon thread; ``on_end(self)`` is called last, after the leases are released."""
        self.thread = threading.Thread(
            target=self._main,
            args=(runner, options, on_end),
            name=f"ferry-run-{self.job.scheme_id}-{self.job.name}",
            daemon=True,
        )
        self.thread.start()

    def halt_reason(self) -> str | None:
        """The run's stop hook: ``shutdown``, ``lease lost`` or ``None``."""
        if self.stopping.is_set():
            return "shutdown"
        return "lease lost" if self.lease_lost else None

    def _main(self, runner: Runner, options: dict[str, Any], on_end: Callable[[Flight], None]) -> None:
        job = self.job
        renewer = threading.Thread(target=self._renew, name=f"{self.thread_name}-lease", daemon=True)
        renewer.start()
        try:
            closed = close_stale_runs(self.store, job.scheme_id, job.kinds, self.clock.now())
            if closed:
                logger.info("%s: closed %d run(s) a stopped process left running", job.scheme_id, closed)
            self.report = runner(
                self.scheme,
                self.store,
                collect=job.collect,
                deliver=job.deliver,
                remedy=job.remedy,
                now=self.clock.now(),
                stop=self.halt_reason,
                close_interrupted=False,
                **options,
            )
        except BaseException as exc:  # the runner reports run problems; this is the store or a bug
            self.error = f"{type(exc).__name__}: {exc}"
            logger.exception("%s %s: the run could not be started or recorded", job.scheme_id, job.name)
        finally:
            self._done = True
            self._bell.set()
            renewer.join()
            for phase in job.phases:
                try:
                    release_lease(self.store, job.scheme_id, phase, self.owner)
                except FerryError as exc:  # it expires on its own
                    logger.warning("%s: could not release the %s lease: %s", job.scheme_id, phase, exc)
            self.finished_at = self.clock.now()
            on_end(self)

    def outcome(self) -> dict[str, Any]:
        """The finished run as the scheduler's status shows it (clock times)."""
        report = self.report
        return {
            "job": self.job.name,
            "slot": self.slot,
            "run_id": report.run_id if report else None,
            "status": report.status if report else "failed",
            "error": report.error if report else self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "counts": report.counts.as_dict() if report else {},
        }

    def log_outcome(self) -> None:
        """One log line: the run's status and main counts, and the first line of its error."""
        report = self.report
        if report is None:
            return
        c = report.counts
        error = f" -- {report.error.splitlines()[0]}" if report.error else ""
        logger.info(
            "%s %s: run %s %s: fetched %d, new %d, delivered %d, failed %d, dead %d%s",
            self.job.scheme_id,
            self.job.name,
            report.run_id,
            report.status,
            c.fetched,
            c.new,
            c.delivered,
            c.failed,
            c.dead,
            error,
        )

    @property
    def thread_name(self) -> str:
        return f"ferry-run-{self.job.scheme_id}-{self.job.name}"

    def _renew(self) -> None:
        interval = self.ttl / 3
        due = self.started_at + interval  # the leases were taken at started_at
        while True:
            self.clock.wait(self._bell, due)
            self._bell.clear()
            if self._done:
                return
            now = self.clock.now()
            if now < due:
                continue
            due = now + interval
            for phase in self.job.phases:
                try:
                    kept = renew_lease(self.store, self.job.scheme_id, phase, self.owner, now, self.ttl)
                except FerryError as exc:  # try again next interval; the lease lasts ttl
                    logger.warning("%s: renewing the %s lease failed: %s", self.job.scheme_id, phase, exc)
                    continue
                if not kept:
                    logger.error(
                        "%s %s: the %s lease was taken over; stopping the run at its next checkpoint",
                        self.job.scheme_id,
                        self.job.name,
                        phase,
                    )
                    self.lease_lost = True
                    return


def every_loop(
    clock: Clock,
    every: timedelta,
    hook: Callable[[datetime], None],
    stopping: threading.Event,
    bell: threading.Event,
) -> Callable[[], None]:
    """A thread body calling ``hook(now)`` every ``every`` of ``clock`` time until ``stopping``
    (ring ``bell`` to make it notice); the hook's errors are logged, never raised."""

    def loop() -> None:
        due = clock.now() + every
        while not stopping.is_set():
            clock.wait(bell, due)
            bell.clear()
            now = clock.now()
            if stopping.is_set() or now < due:
                continue
            due = now + every
            try:
                hook(now)
            except Exception:
                logger.exception("the periodic hook failed")

    return loop
