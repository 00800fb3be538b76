"""Streaming deliver in a forked child process: collect and deliver on two CPU cores.

Mapping records and encoding SQL parameters are CPU-bound Python; a thread would share one
core with the collector. On platforms with ``fork`` the runner therefore delivers in a child
process that opens its own store connection and target connector, drains the ledger while
the parent collects, forwards its progress and counts through a pipe, and is killed by the
kernel if the parent dies (``PR_SET_PDEATHSIG``), so a SIGKILL of ``ferry run`` stops both.
The ledger stays the only hand-off: rows the child had claimed go back to ``pending`` on the
next run, and target writes are idempotent.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from ferry.engine.counts import RunCounts
from ferry.engine.retry import RetryPolicy
from ferry.errors import ConfigError, FatalError
from ferry.scheme.model import Scheme
from ferry.store import Store

__all__ = ["DELIVER_FIELDS", "DeliverPool", "DeliverProcess", "can_fork"]

DELIVER_FIELDS = ("delivered", "failed", "dead", "retries")
_PR_SET_PDEATHSIG = 1


def can_fork() -> bool:
    """Whether the child-process deliverer is available here (Linux with ``fork``)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _child(
    pipe: Connection,
    parent: int,
    scheme: Scheme,
    store: Store,
    now: datetime,
    run_id: int | None,
    retry: RetryPolicy,
) -> None:
    _die_with_parent(parent)
    status = 0
    try:
        from ferry.connectors.registry import build_target
        from ferry.engine.deliverer import Deliverer

        own_store = store.reopen()
        target = build_target(scheme.target_connection)
        counts = RunCounts()

        def progress(event: str, **info: Any) -> None:
            if event in ("deliver", "recovered", "retry"):
                info.pop("counts", None)
                pipe.send(("progress", event, info, {f: getattr(counts, f) for f in DELIVER_FIELDS}))

        deliverer = Deliverer(
            scheme, target, own_store, counts, run_id=run_id, progress=progress, retry=retry
        )
        deliverer.skip_recovery()  # the parent recovered queued rows once, before forking
        stopping = False
        while True:
            deliverer.deliver(now)
            if stopping:
                break
            if pipe.poll(0.05):
                pipe.recv()
                stopping = True
        target.close()
        own_store.close()
        pipe.send(("done", {f: getattr(counts, f) for f in DELIVER_FIELDS}))
    except BaseException as exc:  # reported to the parent, which fails the run with it
        kind = "config" if isinstance(exc, ConfigError) else "error"
        with contextlib.suppress(OSError):
            pipe.send((kind, f"{exc}" if kind == "config" else f"deliver worker: {exc}"))
        status = 1
    finally:
        os._exit(status)


class DeliverProcess:
    """The streaming deliverer as a child process; same ``start``/``wake``/``finish`` as the thread."""

    def __init__(
        self,
        scheme: Scheme,
        store: Store,
        counts: RunCounts,
        now: datetime,
        *,
        run_id: int | None,
        retry: RetryPolicy,
        progress: Callable[..., None] | None = None,
    ) -> None:
        self.scheme, self.store, self.counts, self.now = scheme, store, counts, now
        self.run_id, self.retry = run_id, retry
        self.progress = progress or (lambda *a, **k: None)
        self._pipe: Connection | None = None
        self._proc: Any = None
        self._result: tuple[Any, ...] | None = None
        self.numbers: dict[str, int] = dict.fromkeys(DELIVER_FIELDS, 0)
        """This child's latest deliver counts (a pool sums them into the run's counts)."""

    def start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        parent_end, child_end = ctx.Pipe()
        self._pipe = parent_end
        args = (child_end, os.getpid(), self.scheme, self.store, self.now, self.run_id, self.retry)
        self._proc = ctx.Process(target=_child, args=args, name="ferry-deliver", daemon=True)
        self._proc.start()
        child_end.close()

    def wake(self) -> None:
        """Called after each committed page: forward the child's progress."""
        self._drain(block=False)

    def _drain(self, *, block: bool) -> None:
        assert self._pipe is not None
        while self._result is None and (block or self._pipe.poll()):
            try:
                message = self._pipe.recv()
            except EOFError:
                self._result = ("error", "deliver worker exited without a result")
                return
            if message[0] == "progress":
                _, event, info, numbers = message
                self.numbers = numbers
                self.progress(event, counts=self.counts, **info)
            else:
                self._result = message

    def finish(self) -> None:
        """Let the child drain what is due, collect its counts, and surface its error."""
        assert self._pipe is not None
        with contextlib.suppress(OSError):
            self._pipe.send("stop")
        self._drain(block=True)
        self._proc.join()
        self._pipe.close()
        kind, payload = self._result  # type: ignore[misc]
        if kind == "done":
            self.numbers = payload
            return
        if kind == "config":
            raise ConfigError(payload)
        raise FatalError(payload)


class DeliverPool:
    """``workers`` child deliverers sharing the ledger (claims never overlap)."""

    def __init__(
        self,
        scheme: Scheme,
        store: Store,
        counts: RunCounts,
        now: datetime,
        *,
        workers: int,
        local: RunCounts | None = None,
        **kw: Any,
    ) -> None:
        self.counts = counts
        self.local = local or RunCounts()
        """Deliveries made in this process (the parent helps once collecting is done)."""
        self.store = store
        self.scheme = scheme
        progress = kw.pop("progress", None) or (lambda *a, **k: None)

        def forward(event: str, **info: Any) -> None:
            self._sum()
            progress(event, **info)

        self.children = [
            DeliverProcess(scheme, store, counts, now, progress=forward, **kw) for _ in range(workers)
        ]

    def _sum(self) -> None:
        for name in DELIVER_FIELDS:
            total = getattr(self.local, name) + sum(child.numbers[name] for child in self.children)
            setattr(self.counts, name, total)

    def start(self) -> None:
        self.store.recover_queued(self.scheme.id)
        for child in self.children:
            child.start()

    def wake(self) -> None:
        for child in self.children:
            child.wake()

    def finish(self) -> None:
        errors: list[Exception] = []
        for child in self.children:
            try:
                child.finish()
            except (ConfigError, FatalError) as exc:
                errors.append(exc)
        self._sum()
        if errors:
            raise errors[0]
