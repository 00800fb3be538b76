"""Run a scheme: collect and deliver, leaving a run record with counts.

``run_scheme`` is the one entry point the CLI, the scheduler and the tests use. Collect and
deliver stream: after every committed source page the deliverer drains what is due, so
records reach the target while the source is still being read, and memory stays bounded
by one page plus one deliver batch (see :mod:`ferry.engine.pipeline`).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ferry.connectors.base import SourceConnector, TargetConnector
from ferry.engine.collector import Collector, Progress
from ferry.engine.counts import RunCounts
from ferry.engine.deliverer import Deliverer
from ferry.engine.pipeline import DeliverThread
from ferry.engine.retry import RetryPolicy
from ferry.engine.worker import DeliverPool, can_fork
from ferry.errors import ConfigError, FerryError
from ferry.scheme.model import Scheme
from ferry.store import Store

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_OK", "RunReport", "run_scheme"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


@dataclass
class RunReport:
    """The outcome of one run of one scheme."""

    scheme_id: str
    run_id: int | None
    status: str
    """``succeeded`` | ``partial`` (some records failed) | ``failed`` (the run stopped) | ``invalid``."""
    counts: RunCounts
    error: str | None = None
    windows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.status == "invalid":
            return EXIT_INVALID
        return EXIT_OK if self.status == "succeeded" else EXIT_FAILED


def _connectors(
    scheme: Scheme, transport: httpx.BaseTransport | None, collect: bool, deliver: bool
) -> tuple[SourceConnector | None, TargetConnector | None]:
    from ferry.connectors.registry import build_source, build_target

    source = build_source(scheme.source_connection, transport=transport) if collect else None
    target = build_target(scheme.target_connection, transport=transport) if deliver else None
    return source, target


def _definition(scheme: Scheme) -> dict[str, Any]:
    """The scheme as stored for the console: no connection details (invariant 5, no secrets)."""
    data = scheme.model_dump(mode="json", exclude={"connections"})
    for side in ("source", "target"):
        connection = data[side]["connection"]
        if isinstance(connection, dict):
            data[side]["connection"] = {"type": connection.get("type"), "inline": True}
    return data


def _deliver_in_processes(scheme: Scheme, store: Store, target_injected: bool) -> bool:
    """Whether streaming delivery runs in child processes (else a thread): see ``settings.stream``."""
    in_memory = store.dialect == "sqlite" and ("memory" in store.url or store.url.rstrip("/") == "sqlite:")
    return scheme.settings.stream == "process" and not target_injected and not in_memory and can_fork()


def _window_totals(store: Store, scheme_id: str, windows: list[dict[str, Any]]) -> None:
    """Add to each window's detail what the ledger holds for it and how much of that is
    delivered (beside the API's ``total``), for reconciliation at a glance."""
    for detail in windows:
        if "start" not in detail:
            continue
        try:
            held = store.window_states(
                scheme_id, datetime.fromisoformat(detail["start"]), datetime.fromisoformat(detail["end"])
            )
        except FerryError:  # the run record matters more than these figures
            continue
        detail["ledger"] = len(held)
        detail["delivered"] = sum(1 for status in held.values() if status == "finished")


def run_scheme(
    scheme: Scheme,
    store: Store,
    *,
    collect: bool = True,
    deliver: bool = True,
    remedy: bool = False,
    now: datetime | None = None,
    source: SourceConnector | None = None,
    target: TargetConnector | None = None,
    transport: httpx.BaseTransport | None = None,
    progress: Progress | None = None,
    retry: RetryPolicy | None = None,
) -> RunReport:
    """Run ``scheme`` once: plan windows up to ``now``, collect them, deliver what is due.

    Never raises for run-time problems: the report carries the status, the counts and the
    error, and the same is written to the store's run record. Configuration problems give
    status ``invalid`` (exit code 2).
    """
    counts = RunCounts()
    kind = "run" if collect and deliver else "collect" if collect else "deliver"
    store.save_scheme(scheme.id, scheme.name, _definition(scheme))
    # One run per scheme at a time (DESIGN §7): a run still marked running was killed.
    store.fail_running_runs(scheme.id, error="interrupted: the process stopped before the run finished")
    run_id = store.start_run(scheme.id, kind)
    started = time.monotonic()
    at = (now or datetime.now(UTC)).astimezone(scheme.tz).replace(microsecond=0)
    report = RunReport(scheme.id, run_id, "running", counts)
    owned: list[Any] = []
    target_injected = target is not None or transport is not None  # a child could not share them
    try:
        if (collect and source is None) or (deliver and target is None):
            built_source, built_target = _connectors(
                scheme, transport, collect and source is None, deliver and target is None
            )
            source, target = source or built_source, target or built_target
            owned = [c for c in (built_source, built_target) if c is not None]
        pooled = collect and deliver and _deliver_in_processes(scheme, store, target_injected)
        # With worker processes the parent's own deliveries are counted apart and summed in.
        own = RunCounts() if pooled else counts
        deliverer = (
            Deliverer(scheme, target, store, own, run_id=run_id, progress=progress, retry=retry)
            if deliver
            else None
        )
        if collect:
            assert source is not None
            stream: DeliverThread | DeliverPool | None = None
            if pooled:
                stream = DeliverPool(
                    scheme,
                    store,
                    counts,
                    at,
                    workers=scheme.settings.deliver_workers,
                    local=own,
                    run_id=run_id,
                    retry=retry or RetryPolicy(),
                    progress=progress,
                )
            elif deliverer is not None:
                stream = DeliverThread(deliverer, at)
            collector = Collector(
                scheme,
                source,
                store,
                counts,
                run_id=run_id,
                progress=progress,
                retry=retry,
                after_page=stream.wake if stream is not None else None,
            )
            if stream is not None:
                stream.start()
            try:
                report.windows = [collector.remedy(at)] if remedy else collector.collect(at)
                if pooled and deliverer is not None:
                    # Collecting is done and this core is free: deliver beside the workers
                    # (claims never overlap; the pool already recovered queued rows).
                    deliverer.skip_recovery()
                    deliverer.deliver(at)
            finally:
                if stream is not None:
                    stream.finish()
        elif deliverer is not None:
            deliverer.deliver(at)
        report.status = "partial" if (counts.failed or counts.dead) else "succeeded"
    except ConfigError as exc:
        report.status, report.error = "invalid", str(exc)
    except FerryError as exc:
        report.status, report.error = "failed", str(exc)
    except Exception as exc:  # a bug: keep the run record honest, then surface it
        report.status = "failed"
        report.error = f"internal error: {exc!r}\n{traceback.format_exc(limit=5)}"
    except BaseException:  # Ctrl-C / SystemExit: record the interruption, then let it propagate
        report.status, report.error = "failed", "interrupted"
        raise
    finally:
        for connector in owned:
            connector.close()
        counts.duration_s = round(time.monotonic() - started, 3)
        _window_totals(store, scheme.id, report.windows)
        stored = "failed" if report.status == "invalid" else report.status
        store.finish_run(run_id, stored, counts.as_dict(), report.error, report.windows)
    return report
