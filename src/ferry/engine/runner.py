"""Run a scheme: open the run, choose a host, collect, deliver, finish the record.

``run_scheme`` is the one entry point the CLI, the scheduler and the tests use. It is
bookkeeping: the run record (:mod:`ferry.engine.run_record`), the connectors, the host that
decides where the deliver loop runs (:mod:`ferry.engine.hosts`), and the collector. Collect
and deliver stream: each committed source page is handed to the host, so records reach the
target while the source is still being read, and memory stays bounded by a few pages plus
one deliver batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx

from ferry.connectors.base import SourceConnector, TargetConnector
from ferry.engine.checks import target_problems
from ferry.engine.collector import Collector, Progress
from ferry.engine.hosts import DeliverJob, Host, build_host, choose_host
from ferry.engine.pacing import RateSharing
from ferry.engine.retry import RetryPolicy
from ferry.engine.run_record import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    RunRecord,
    RunReport,
    StopHook,
    scheme_definition,
    stop_reason,
)
from ferry.errors import ConfigError, FatalError, RetriableError
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


@contextmanager
def _connectors(
    scheme: Scheme,
    transport: httpx.BaseTransport | None,
    source: SourceConnector | None,
    target: TargetConnector | None,
    *,
    collect: bool,
    deliver: bool,
) -> Iterator[tuple[SourceConnector | None, TargetConnector | None]]:
    """The run's connectors: those passed in, else built from the scheme (and closed after)."""
    from ferry.connectors.registry import build_source, build_target

    plan = compile_scheme(scheme)
    owned: list[SourceConnector | TargetConnector] = []
    try:
        if collect and source is None:
            source = build_source(plan.source.connection, transport=transport)
            owned.append(source)
        if deliver and target is None:
            target = build_target(plan.target.connection, transport=transport)
            owned.append(target)
        yield (source if collect else None), (target if deliver else None)
    finally:
        for connector in owned:
            connector.close()


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


def _collect(record: RunRecord, host: Host, collector: Collector | None, *, remedy: bool) -> None:
    """Collect (or sweep) through ``host``, which delivers as pages commit; the host finishes
    whatever happens, delivering what is due."""
    host.start()
    try:
        if collector is not None:
            record.committed = lambda: list(collector.details)
            record.report.windows = [collector.remedy(record.at)] if remedy else collector.collect(record.at)
    finally:
        host.finish()


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
    rates: RateSharing | None = None,
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
            next run goes on from the checkpoint. Deliverer child processes (the process host)
            still drain what is due before they exit.
        close_interrupted: Mark the scheme's runs still ``running`` as failed first (they were
            left by a killed process). The scheduler passes ``False``: it closes them itself
            when it holds the scheme's lease, so another process's live run is never touched.
        fork_deliverers: Allow the process host (``settings.stream: process``); the scheduler
            passes ``False`` because forking a process that runs other threads is unsafe, so
            its streaming runs deliver in a thread (see :func:`~ferry.engine.hosts.choose_host`).
        rates: Where rate budgets are shared across processes: Redis when it names one, else
            the store (the commands pass :meth:`RateSharing.from_env`).
    """
    if retry is None:
        spec = scheme.settings.call_retry
        retry = RetryPolicy(spec.attempts, spec.base_delay.total_seconds(), spec.max_delay.total_seconds())
    kind = "run" if collect and deliver else "collect" if collect else "deliver"
    record = RunRecord.open(
        scheme, store, kind=kind, now=now, remedy=remedy, close_interrupted=close_interrupted
    )
    halt = stop_reason(stop)
    injected = target is not None or transport is not None  # a forked child could not share them
    with (
        record.recording(),
        _connectors(scheme, transport, source, target, collect=collect, deliver=deliver) as (source, target),
    ):
        _check_target_first(scheme, target, before_collecting=collect)
        job = DeliverJob(
            scheme,
            store,
            record.counts,
            record.at,
            record.run_id,
            retry,
            progress,
            halt,
            rates,
            record.misses,
        )
        host_kind = choose_host(
            scheme,
            store,
            collect=collect,
            deliver=deliver,
            fork_allowed=fork_deliverers,
            target_injected=injected,
        )
        host = build_host(host_kind, job, target)
        collector = (
            Collector(
                scheme,
                source,
                store,
                record.counts,
                run_id=record.run_id,
                progress=progress,
                retry=retry,
                after_page=host.page_done,
                upsert=host.store_page,
                stop=halt,
                log=record.log,
                rates=rates,
            )
            if source is not None
            else None
        )
        _collect(record, host, collector, remedy=remedy)
        if host.halted:
            raise FatalError(halt() or "stopped")
    return record.report
