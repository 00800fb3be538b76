"""The body of a forked deliver child: its own store connection and target, the one loop."""

from __future__ import annotations

import contextlib
import os
from multiprocessing.connection import Connection
from typing import Any

from ferry.engine.counts import RunCounts
from ferry.engine.hosts.base import DeliverJob
from ferry.engine.hosts.loop import DeliverLoop
from ferry.engine.hosts.process_wide import die_with_parent
from ferry.engine.misses import PlaceholderMisses
from ferry.errors import ConfigError
from ferry.store import after_fork_in_child

__all__ = ["DELIVER_FIELDS", "child_main"]

DELIVER_FIELDS = (
    "due",
    "delivered",
    "delivered_unchanged",
    "failed",
    "dead",
    "quarantined",
    "pending",
    "warned",
    "quality_failed",
    "retries",
)


def _numbers(counts: RunCounts) -> dict[str, int]:
    return {name: getattr(counts, name) for name in DELIVER_FIELDS}


def child_main(pipe: Connection, inbox: Any, parent: int, job: DeliverJob) -> None:
    """Deliver ``job``'s handed pages and due rows until told to stop; report through ``pipe``:
    ``progress`` messages (with the counts, placeholder misses and per-rule counts so far),
    ``room`` after each handed page, then ``done`` with the counts, misses and per-rule counts, or ``config``/``error`` with the
    reason. Never returns (``os._exit``)."""
    after_fork_in_child()
    die_with_parent(parent)
    status = 0
    try:
        from ferry.connectors.registry import build_target
        from ferry.transform.plan import compile_scheme

        store = job.store.reopen()  # a child runs no checkpointer: the parent's copies the WAL
        target = build_target(compile_scheme(job.scheme).target.connection)  # inherited, not compiled again
        counts = RunCounts()
        misses = PlaceholderMisses()

        def progress(event: str, **info: Any) -> None:
            if event in ("deliver", "recovered", "retry"):
                info.pop("counts", None)
                pipe.send(("progress", event, info, _numbers(counts), misses.as_dict(), counts.quality_rules))

        own = DeliverJob(
            job.scheme,
            store,
            counts,
            job.now,
            job.run_id,
            job.retry,
            progress,
            rates=job.rates,
            misses=misses,
        )
        deliverer = own.deliverer(target)
        deliverer.skip_recovery()  # the parent recovered queued rows once, before forking
        DeliverLoop(
            deliverer, job.now, inbox, delivered_page=lambda: pipe.send(("room",)), idle_wait=0.05
        ).run()
        target.close()
        store.close()
        pipe.send(("done", _numbers(counts), misses.as_dict(), counts.quality_rules))
    except BaseException as exc:  # reported to the parent, which fails the run with it
        kind = "config" if isinstance(exc, ConfigError) else "error"
        with contextlib.suppress(OSError):
            pipe.send((kind, f"{exc}" if kind == "config" else f"deliver worker: {exc}"))
        status = 1
    finally:
        os._exit(status)
