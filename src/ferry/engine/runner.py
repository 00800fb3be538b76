"""Run a scheme: collect and deliver, leaving a run record with counts.

``run_scheme`` is the one entry point the CLI, the scheduler and the tests use. Collect and
deliver stream: after every committed source page the deliverer drains what is due, so
records reach the target while the source is still being read, and memory stays bounded
by one page plus one deliver batch (see :mod:`ferry.engine.pipeline`).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa

from ferry.connectors.base import SourceConnector, TargetConnector
from ferry.engine.checks import target_problems
from ferry.engine.collector import Collector, Progress
from ferry.engine.counts import RunCounts
from ferry.engine.deliverer import Deliverer
from ferry.engine.events import RunLog, scheme_secrets
from ferry.engine.gc_tuning import run_gc
from ferry.engine.pipeline import DeliverThread
from ferry.engine.retry import RetryPolicy
from ferry.engine.worker import DeliverPool, can_fork, deliver_workers
from ferry.errors import ConfigError, FatalError, FerryError, RetriableError
from ferry.scheme.model import Scheme
from ferry.store import Store
from ferry.transform.plan import compile_scheme

__all__ = [
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_OK",
    "RunReport",
    "StopHook",
    "run_scheme",
    "scheme_definition",
]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

StopHook = threading.Event | Callable[[], bool | str | None] | None
"""Asks a run to stop at its next checkpoint: an Event, or a callable returning a reason
(a string, e.g. ``"lease lost"``), ``True`` (reason ``shutdown``) or a false value."""


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
        """The one exit-code rule of ``ferry run``, ``ferry demo`` and ``ferry serve --once``.

        2 for an invalid scheme or configuration; 1 when the run failed, a record failed or
        died in it, or the scheme still has records failing after it (``error`` or ``dead``,
        from this run or an earlier one), even when the run itself delivered nothing; else 0.
        """
        if self.status == "invalid":
            return EXIT_INVALID
        c = self.counts
        if self.status == "failed" or c.failed or c.dead or c.still_failing:
            return EXIT_FAILED
        return EXIT_OK


def _connectors(
    scheme: Scheme, transport: httpx.BaseTransport | None, collect: bool, deliver: bool
) -> tuple[SourceConnector | None, TargetConnector | None]:
    from ferry.connectors.registry import build_source, build_target

    plan = compile_scheme(scheme)
    source = build_source(plan.source.connection, transport=transport) if collect else None
    target = build_target(plan.target.connection, transport=transport) if deliver else None
    return source, target


def scheme_definition(scheme: Scheme) -> dict[str, Any]:
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
    delivered (beside the API's ``total``), for reconciliation at a glance.

    One grouped scan of the scheme's rows for all windows (counted by collecting window and
    status), not one fetch of every row per window: the ledger has no index on the window.
    """
    spans = [
        (datetime.fromisoformat(d["start"]), datetime.fromisoformat(d["end"]), d)
        for d in windows
        if "start" in d
    ]
    if not spans:
        return
    from ferry.store._schema import ledger

    c = ledger.c
    query = (
        sa.select(c.window_start, c.status, sa.func.count())
        .where(
            c.scheme_id == scheme_id,
            c.window_start >= min(s[0] for s in spans),
            c.window_start < max(s[1] for s in spans),
        )
        .group_by(c.window_start, c.status)
    )
    try:
        with store.transaction() as conn:
            groups = conn.execute(query).all()
    except FerryError:  # the run record matters more than these figures
        return
    for start, end, detail in spans:
        inside = [(status, n) for at, status, n in groups if at is not None and start <= at < end]
        detail["ledger"] = sum(n for _, n in inside)
        detail["delivered"] = sum(n for status, n in inside if status == "finished")


def _leased(store: Store, scheme_id: str) -> bool:
    """Whether a scheduler (``ferry serve``) holds an unexpired lease on the scheme."""
    from ferry.store._schema import scheme_leases

    c = scheme_leases.c
    with store.transaction() as conn:
        held = conn.execute(
            sa.select(c.owner).where(c.scheme_id == scheme_id, c.expires_at > datetime.now(UTC)).limit(1)
        ).first()
    return held is not None


def _stop_reason(stop: StopHook) -> Callable[[], str | None]:
    """``stop`` as a function returning ``"stopped: <reason>"`` once a stop is asked, else ``None``."""
    if stop is None:
        return lambda: None
    check = stop.is_set if isinstance(stop, threading.Event) else stop

    def reason() -> str | None:
        asked = check()
        if not asked:
            return None
        return f"stopped: {asked if isinstance(asked, str) else 'shutdown'}"

    return reason


def _waiting(store: Store, scheme_id: str, counts: RunCounts) -> None:
    """Note in ``counts`` what the scheme still has waiting after the run."""
    try:
        waiting = store.waiting(scheme_id)
    except FerryError:  # the run record matters more than these figures
        return
    counts.waiting_pending, counts.waiting_error, counts.waiting_dead = (
        waiting.pending,
        waiting.error,
        waiting.dead,
    )
    counts.failing_since = waiting.failing_since or 0


def _summary(report: RunReport) -> str:
    c = report.counts
    parts = [f"fetched {c.fetched}", f"new {c.new}", f"delivered {c.delivered}"]
    parts += [
        f"{name} {getattr(c, name)}"
        for name in ("flattened", "failed", "dead", "pending", "retries", "recovered")
        if getattr(c, name)
    ]
    text = f"{report.status}: {', '.join(parts)} ({c.duration_s:.2f}s)"
    if c.still_failing:
        since = f" since run {c.failing_since}" if c.failing_since else ""
        text += f"; {c.still_failing} records of the scheme still failing{since}"
    return text


def _check_target_first(scheme: Scheme, target: TargetConnector | None, *, before_collecting: bool) -> None:
    """Raise ``ConfigError`` when a run that collects and delivers has a SQL target lacking its
    database, a table or a column the scheme writes: found now, before any window is read, not
    by every delivery hours later.

    A database that cannot be reached right now is left to delivery (it retries).
    """
    if target is None or not before_collecting:
        return
    try:
        issues = target_problems(scheme, target)
    except RetriableError:
        return
    if issues:
        label = compile_scheme(scheme).target.connection.label()
        raise ConfigError("\n".join(f"{label}: {issue}" for issue in issues))


@run_gc()  # the garbage collector tuned while the run is active (ferry.engine.gc_tuning)
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
    stop: StopHook = None,
    close_interrupted: bool = True,
    fork_deliverers: bool = True,
) -> RunReport:
    """Run ``scheme`` once: plan windows up to ``now``, collect them, deliver what is due.

    Never raises for run-time problems: the report carries the status, the counts and the
    error, and the same is written to the store's run record; the run's events (windows
    committed, re-reads, errors, the outcome) go to ``run_events`` (:mod:`ferry.engine.events`).
    Configuration problems give status ``invalid`` (exit code 2).

    Args:
        stop: Checked between source pages and between deliver batches (each a checkpoint:
            pages are committed with their cursor, batches with their results). Once it asks,
            the run ends ``failed`` with error ``stopped: <reason>`` and nothing is lost; the
            next run goes on from the checkpoint. Deliverer child processes (``settings.stream:
            process``) still drain what is due before they exit.
        close_interrupted: Mark the scheme's runs still ``running`` as failed first (they were
            left by a killed process). The scheduler passes ``False``: it closes them itself
            when it holds the scheme's lease, so another process's live run is never touched.
        fork_deliverers: Allow ``settings.stream: process`` (forked deliverer children); the
            scheduler passes ``False`` because forking a process that runs other threads is
            unsafe, so its streaming runs deliver in a thread.
    """
    counts = RunCounts()
    if retry is None:
        spec = scheme.settings.call_retry
        retry = RetryPolicy(spec.attempts, spec.base_delay.total_seconds(), spec.max_delay.total_seconds())
    kind = "run" if collect and deliver else "collect" if collect else "deliver"
    store.save_scheme(scheme.id, scheme.name, scheme_definition(scheme))
    if close_interrupted and not _leased(store, scheme.id):
        # One run per scheme at a time (docs/architecture.md §7): a run still marked running was killed
        # (unless a scheduler holds the scheme's lease: its run is alive).
        store.fail_running_runs(scheme.id, error="interrupted: the process stopped before the run finished")
    run_id = store.start_run(scheme.id, kind)
    started = time.monotonic()
    at = (now or datetime.now(UTC)).astimezone(scheme.tz).replace(microsecond=0)
    report = RunReport(scheme.id, run_id, "running", counts)
    log = RunLog(store, run_id, secrets=scheme_secrets(scheme))
    what = {"run": "collect and deliver", "collect": "collect", "deliver": "deliver"}[kind]
    log.info(f"run started: {what}{' (omissionRemedy sweep)' if remedy else ''}; now {at.isoformat()}")
    halt = _stop_reason(stop)
    owned: list[Any] = []
    collector: Collector | None = None
    target_injected = target is not None or transport is not None  # a child could not share them
    try:
        if (collect and source is None) or (deliver and target is None):
            built_source, built_target = _connectors(
                scheme, transport, collect and source is None, deliver and target is None
            )
            source, target = source or built_source, target or built_target
            owned = [c for c in (built_source, built_target) if c is not None]
        _check_target_first(scheme, target, before_collecting=collect)
        pooled = (
            collect and deliver and fork_deliverers and _deliver_in_processes(scheme, store, target_injected)
        )
        # With worker processes the parent's own deliveries are counted apart and summed in.
        own = RunCounts() if pooled else counts
        deliverer = (
            Deliverer(scheme, target, store, own, run_id=run_id, progress=progress, retry=retry, stop=halt)
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
                    workers=deliver_workers(scheme),
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
                upsert=stream.upsert if stream is not None else None,
                stop=halt,
                log=log,
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
        if deliverer is not None and deliverer.halted:
            raise FatalError(halt() or "stopped")
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
        if not report.windows and collector is not None:
            report.windows = list(collector.details)  # the windows committed before a stop or error
        _window_totals(store, scheme.id, report.windows)
        _waiting(store, scheme.id, counts)
        stored = "failed" if report.status == "invalid" else report.status
        if report.error:
            log.error(report.error)
        log.write("info" if stored in ("succeeded", "partial") else "error", _summary(report))
        store.finish_run(run_id, stored, counts.as_dict(), report.error, report.windows)
    return report
