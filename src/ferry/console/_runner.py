"""Running a scheme from the console when no scheduler is attached.

:class:`BackgroundRunner` starts :func:`ferry.engine.runner.run_scheme` in a daemon thread,
at most one run per scheme at a time in this process ("run now" while a run is going says
so instead of starting a second one). The run holds the scheme's ``collect``/``deliver``
leases in the store (renewed while it runs), so it never overlaps a ``ferry serve`` scheduler
on the same store. Delivery streams in a thread, never in forked processes: forking a threaded
web server can deadlock.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ferry.console._i18n import say
from ferry.errors import FerryError
from ferry.schedule import acquire_lease, release_lease
from ferry.scheme.model import Scheme
from ferry.store import Store

__all__ = ["LEASE_TTL", "BackgroundRunner", "RunState", "Started"]

LEASE_TTL = timedelta(minutes=2)
"""How long a run's lease lasts unless renewed (it is renewed every third of that)."""


@dataclass
class RunState:
    """The latest run this runner started for a scheme."""

    scheme_id: str
    kind: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    run_id: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Started:
    """What a start request did: ``ok`` when a run started; ``key`` and ``params`` name the
    console message (:data:`ferry.console._i18n.LABELS`) saying so."""

    ok: bool
    key: str
    params: dict[str, str]

    @property
    def message(self) -> str:
        """The message in English."""
        return say(self.key, "en", self.params)


class BackgroundRunner:
    """Run schemes in background threads, one at a time per scheme.

    Args:
        store: Where runs and the ledger live.
        schemes: Returns the loaded schemes by id (called at each start).
        run: The run function (``ferry.engine.runner.run_scheme`` by default).
        options: Extra keyword arguments for every ``run`` call (``now``, ``transport``,
            ``retry`` in tests).
    """

    def __init__(
        self,
        store: Store,
        schemes: Callable[[], Mapping[str, Scheme]],
        *,
        run: Callable[..., Any] | None = None,
        **options: Any,
    ) -> None:
        self.store = store
        self.schemes = schemes
        self._run = run
        self.options = options
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self.states: dict[str, RunState] = {}
        self.owner = f"console:{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    def running(self, scheme_id: str) -> bool:
        """Whether a run of ``scheme_id`` started here is still going."""
        with self._lock:
            thread = self._threads.get(scheme_id)
            return thread is not None and thread.is_alive()

    def trigger(self, scheme_id: str) -> str:
        """Start collecting and delivering ``scheme_id`` now; a message saying what happened."""
        return self.start(scheme_id, collect=True).message

    def deliver(self, scheme_id: str) -> str:
        """Start delivering ``scheme_id``'s due records now (after a replay)."""
        return self.start(scheme_id, collect=False).message

    def wait(self, scheme_id: str, timeout: float | None = None) -> bool:
        """Wait for the current run of ``scheme_id``; ``False`` if it is still going after ``timeout``."""
        with self._lock:
            thread = self._threads.get(scheme_id)
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def start(self, scheme_id: str, *, collect: bool = True) -> Started:
        """Start a run (``collect=False``: deliver only) and say what happened.

        Not started when the scheme is not loaded, already runs here, or another process
        (a ``ferry serve`` scheduler) holds its lease.
        """
        scheme = self.schemes().get(scheme_id)
        named = {"scheme": scheme_id}
        if scheme is None:
            return Started(False, "msg.not_loaded", named)
        kind = "run" if collect else "deliver"
        with self._lock:
            thread = self._threads.get(scheme_id)
            if thread is not None and thread.is_alive():
                return Started(False, "msg.already_running", named)
            phases = ("collect", "deliver") if collect else ("deliver",)
            holder = self._acquire(scheme_id, phases)
            if holder is not None:
                return Started(False, "msg.running_elsewhere", {**named, "holder": holder})
            state = RunState(scheme_id, kind, datetime.now(UTC))
            thread = threading.Thread(
                target=self._work,
                args=(scheme, state, collect, phases),
                name=f"ferry-console-{kind}-{scheme_id}",
                daemon=True,
            )
            self._threads[scheme_id] = thread
            self.states[scheme_id] = state
            thread.start()
        return Started(True, f"msg.{kind}_started", named)

    def _acquire(self, scheme_id: str, phases: tuple[str, ...]) -> str | None:
        """Take the store leases of ``phases``; the other holder's id when one is taken."""
        taken: list[str] = []
        for phase in phases:
            holder = acquire_lease(self.store, scheme_id, phase, self.owner, datetime.now(UTC), LEASE_TTL)
            if holder is not None:
                for done in taken:
                    release_lease(self.store, scheme_id, done, self.owner)
                return holder
            taken.append(phase)
        return None

    def _keep_leases(self, scheme_id: str, phases: tuple[str, ...], done: threading.Event) -> None:
        try:
            while not done.wait(LEASE_TTL.total_seconds() / 3):
                for phase in phases:
                    try:
                        acquire_lease(self.store, scheme_id, phase, self.owner, datetime.now(UTC), LEASE_TTL)
                    except FerryError:  # a busy store: the next renewal comes well before expiry
                        continue
        finally:
            for phase in phases:
                release_lease(self.store, scheme_id, phase, self.owner)

    def _work(self, scheme: Scheme, state: RunState, collect: bool, phases: tuple[str, ...]) -> None:
        run = self._run
        options = dict(self.options)
        if run is None:
            from ferry.engine.pacing import RateSharing
            from ferry.engine.runner import run_scheme

            run = run_scheme
            # the console's process runs other threads: never fork a deliverer here
            options = {"fork_deliverers": False, "rates": RateSharing.from_env(), **options}
        done = threading.Event()
        keeper = threading.Thread(
            target=self._keep_leases, args=(scheme.id, phases, done), name="ferry-console-lease", daemon=True
        )
        keeper.start()
        try:
            report = run(scheme, self.store, collect=collect, deliver=True, **options)
            state.status = str(getattr(report, "status", "succeeded"))
            state.run_id = getattr(report, "run_id", None)
            state.error = getattr(report, "error", None)
        except Exception as exc:  # run_scheme reports its own errors; this is a bug or a dead store
            state.status, state.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            done.set()
            keeper.join()
            state.finished_at = datetime.now(UTC)
