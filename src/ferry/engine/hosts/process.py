"""The deliver loop in forked child processes: collect and deliver on two CPU cores.

Mapping records and encoding SQL parameters are CPU-bound Python; a thread would share one
core with the collector. On Linux the process host therefore forks ``workers`` children that
each open their own store connection and target, run the deliver loop over the ledger while
the parent collects, report progress and counts through a pipe, and are killed by the kernel
if the parent dies. The ledger stays the durable hand-off: rows a child had claimed go back
to ``pending`` on the next run, and target writes are idempotent. New rows of a page go to
the child with the most room, already claimed; once collecting is done the parent delivers
beside its children (claims never overlap).

Process-wide settings belong to this host alone (:mod:`ferry.engine.hosts.process_wide`):
the collector's tuning from :meth:`ProcessHost.start` to :meth:`ProcessHost.finish`, the
fork guard of the store around each fork, the death signal in each child.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from ferry.connectors.base import TargetConnector
from ferry.engine.counts import RunCounts
from ferry.engine.hosts import base
from ferry.engine.hosts._child import DELIVER_FIELDS, child_main
from ferry.engine.hosts.base import DeliverJob
from ferry.engine.hosts.loop import STOP, DeliverLoop, release_unread
from ferry.engine.hosts.process_wide import page_committed, run_gc
from ferry.errors import ConfigError, FatalError
from ferry.store import Handover, UpsertResult, fork_guard

__all__ = ["ProcessHost"]


class _Child:
    """One forked deliver child, as the parent sees it."""

    def __init__(self, job: DeliverJob, progress: Callable[..., None]) -> None:
        self.job = job
        self.progress = progress
        self.in_flight = 0
        """Handed pages sent to the child and not yet delivered by it."""
        self.numbers: dict[str, int] = dict.fromkeys(DELIVER_FIELDS, 0)
        """The child's latest deliver counts."""
        self.misses: dict[str, Any] = {}
        """The child's latest placeholder misses (:meth:`PlaceholderMisses.as_dict`)."""
        self.rules: dict[str, dict[str, int]] = {}
        """The child's latest per-rule counts (:attr:`RunCounts.quality_rules`)."""
        self._result: tuple[Any, ...] | None = None
        self._pipe: Connection | None = None
        self._inbox: Any = None
        self._proc: Any = None

    def start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self._pipe, child_end = ctx.Pipe(duplex=False)
        self._inbox = ctx.Queue()
        job = DeliverJob(
            self.job.scheme,
            self.job.store,
            RunCounts(),
            self.job.now,
            self.job.run_id,
            self.job.retry,
            rates=self.job.rates,
        )
        args = (child_end, self._inbox, os.getpid(), job)
        self._proc = ctx.Process(target=child_main, args=args, name="ferry-deliver", daemon=True)
        with fork_guard():
            self._proc.start()
        child_end.close()

    @property
    def alive(self) -> bool:
        """Whether the child still delivers (it has sent no final result)."""
        return self._result is None

    @property
    def pipe(self) -> Connection:
        assert self._pipe is not None
        return self._pipe

    def hand(self, batch: Handover) -> None:
        self.in_flight += 1
        self._inbox.put(batch)

    def poll(self, *, block: bool = False) -> None:
        """Read the child's messages (all of them until its result when ``block``)."""
        while self._result is None and (block or self.pipe.poll()):
            try:
                message = self.pipe.recv()
            except EOFError:
                self._result = ("error", "deliver worker exited without a result")
                return
            if message[0] == "room":
                self.in_flight -= 1
            elif message[0] == "progress":
                _, event, info, self.numbers, self.misses, self.rules = message
                self.progress(event, **info)
            else:
                self._result = message

    def finish(self, unread: Callable[[Any], None]) -> None:
        """Let the child drain what is due, take its counts, and raise its error."""
        self._inbox.put(STOP)
        self.poll(block=True)
        self._proc.join()
        self.pipe.close()
        kind, payload, *rest = self._result  # type: ignore[misc]
        if kind != "done":  # pages the child left unread go back to pending
            unread(self._inbox)
        self._inbox.close()
        self._inbox.join_thread()
        if kind == "done":
            self.numbers, self.misses, self.rules = payload, rest[0], rest[1]
        elif kind == "config":
            raise ConfigError(payload)
        else:
            raise FatalError(payload)


class ProcessHost:
    """``workers`` forked children share the ledger; the parent collects, then helps."""

    kind = "process"

    def __init__(self, job: DeliverJob, target: TargetConnector | None, *, workers: int) -> None:
        self.job = job
        self.local = RunCounts()
        """Deliveries made in this process (the parent helps once collecting is done)."""
        self.deliverer = job.deliverer(target, counts=self.local)
        self.children = [_Child(job, self._forward) for _ in range(workers)]
        self._summed: dict[str, int] = {}
        self._settings = contextlib.ExitStack()

    @property
    def halted(self) -> bool:
        return self.deliverer.halted

    def _forward(self, event: str, **info: Any) -> None:
        self._sum()
        if self.job.progress is not None:
            self.job.progress(event, counts=self.job.counts, **info)

    def _sum(self) -> None:
        """Bring the run's counts up to the deliveries made so far, adding what changed since
        the last sum (the collector counts ``due`` and ``dead`` in the same fields)."""
        deltas = {}
        for name in DELIVER_FIELDS:
            total = getattr(self.local, name) + sum(child.numbers[name] for child in self.children)
            deltas[name] = total - self._summed.get(name, 0)
            self._summed[name] = total
        self.job.counts.add(**deltas)

    def start(self) -> None:
        self._settings.enter_context(run_gc())
        self.deliverer.recover()  # once, before forking: the children skip it
        for child in self.children:
            child.start()

    def store_page(self, scheme_id: str, records: Sequence[Any], **options: Any) -> UpsertResult:
        """Hand the page's new rows to the child with the most room, waiting up to
        ``CREDIT_WAIT`` seconds for one; else store them ``pending``."""
        child = self._room()
        if child is None:
            return self.job.store.upsert_records(scheme_id, records, **options)
        result, batch = self.job.store.hand_over(scheme_id, records, **options)
        if len(batch):
            child.hand(batch)
        return result

    def _room(self) -> _Child | None:
        """The live child with the most room, waiting up to ``CREDIT_WAIT`` seconds for one."""
        deadline = time.monotonic() + base.CREDIT_WAIT
        while alive := [child for child in self.children if child.alive]:
            best = min(alive, key=lambda child: child.in_flight)
            if best.in_flight < base.CREDITS:
                return best
            left = deadline - time.monotonic()
            if left <= 0 or not wait([child.pipe for child in alive], timeout=left):
                return None
            for child in alive:
                child.poll()  # reads the room (and progress) messages that arrived
        return None

    def page_done(self) -> None:
        for child in self.children:
            child.poll()
        page_committed()

    def finish(self) -> None:
        """Deliver beside the children until nothing is due, then stop them and sum their counts."""
        errors: list[Exception] = []
        try:
            self._help()
        finally:
            for child in self.children:
                try:
                    child.finish(lambda inbox: release_unread(inbox, self.deliverer))
                except (ConfigError, FatalError) as exc:
                    errors.append(exc)
            self._sum()
            self.job.counts.merge_rules(self.local.quality_rules)
            for child in self.children:  # the parent's own deliverer counted in job.misses
                self.job.misses.merge(child.misses)
                self.job.counts.merge_rules(child.rules)
            self._settings.close()
        if errors:
            raise errors[0]

    def _help(self) -> None:
        """This core is free once collecting is done: deliver what is due, as the children do."""
        inbox: queue.Queue[Any] = queue.Queue()
        inbox.put(STOP)
        self.deliverer.skip_recovery()
        DeliverLoop(self.deliverer, self.job.now, inbox).run()
