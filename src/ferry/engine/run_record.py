"""A run's bookkeeping: open its record, turn what happened into a status, finish the record.

Whatever a run does, its record ends with a status, its counts, the error and the windows it
committed, and the same goes to its events (:mod:`ferry.engine.events`).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ferry.engine.counts import RunCounts
from ferry.engine.events import RunLog, scheme_secrets
from ferry.engine.misses import PlaceholderMisses, missing_lines
from ferry.engine.window_report import WindowReport
from ferry.errors import ConfigError, FerryError
from ferry.scheme.model import Scheme
from ferry.store import Store

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_OK", "RunRecord", "RunReport", "StopHook", "stop_reason"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

StopHook = threading.Event | Callable[[], bool | str | None] | None
"""Asks a run to stop at its next checkpoint: an Event, or a callable returning a reason
(a string, e.g. ``"lease lost"``), ``True`` (reason ``shutdown``) or a false value."""

_WHAT = {"run": "collect and deliver", "collect": "collect", "deliver": "deliver"}


@dataclass
class RunReport:
    """The outcome of one run of one scheme."""

    scheme_id: str
    run_id: int | None
    status: str
    """``succeeded`` | ``partial`` (some records failed) | ``failed`` (the run stopped) | ``invalid``."""
    counts: RunCounts
    error: str | None = None
    windows: list[WindowReport] = field(default_factory=list)
    misses: PlaceholderMisses = field(default_factory=PlaceholderMisses)
    """Records mapped, and per target field those in which a placeholder found nothing."""

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


def stop_reason(stop: StopHook) -> Callable[[], str | None]:
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


def scheme_definition(scheme: Scheme) -> dict[str, Any]:
    """The scheme as stored for the console: no connection details (invariant 5, no secrets),
    and the version of each value map it reads (``value_maps``: origin, entries, digest)."""
    data = scheme.model_dump(mode="json", exclude={"connections"})
    for side in ("source", "target"):
        connection = data[side]["connection"]
        if isinstance(connection, dict):
            data[side]["connection"] = {"type": connection.get("type"), "inline": True}
    if scheme.value_maps:
        data["value_maps"] = {name: table.as_dict() for name, table in sorted(scheme.value_maps.items())}
    return data


class RunRecord:
    """The store's record of one run, from :meth:`open` to the end of :meth:`recording`."""

    def __init__(self, scheme: Scheme, store: Store, kind: str, at: datetime, run_id: int) -> None:
        self.scheme, self.store, self.kind, self.at = scheme, store, kind, at
        self.run_id = run_id
        self.counts = RunCounts()
        self.misses = PlaceholderMisses()
        """Where the run's deliverers count placeholders that found nothing."""
        self.report = RunReport(scheme.id, run_id, "running", self.counts, misses=self.misses)
        self.log = RunLog(store, run_id, secrets=scheme_secrets(scheme))
        self.committed: Callable[[], list[WindowReport]] = list
        """The windows committed so far (read when the run ends before reporting them)."""
        self._started = time.monotonic()

    @classmethod
    def open(
        cls,
        scheme: Scheme,
        store: Store,
        *,
        kind: str,
        now: datetime | None,
        remedy: bool,
        close_interrupted: bool,
    ) -> RunRecord:
        """Save the scheme's definition, close runs a killed process left ``running`` (unless a
        scheduler holds the scheme's lease: its run is alive; one run per scheme at a time,
        docs/architecture.md §7), and start the run's record."""
        store.save_scheme(scheme.id, scheme.name, scheme_definition(scheme))
        if close_interrupted and not store.leased(scheme.id):
            store.fail_running_runs(
                scheme.id, error="interrupted: the process stopped before the run finished"
            )
        at = (now or datetime.now(UTC)).astimezone(scheme.tz).replace(microsecond=0)
        record = cls(scheme, store, kind, at, store.start_run(scheme.id, kind))
        sweep = " (omissionRemedy sweep)" if remedy else ""
        record.log.info(f"run started: {_WHAT[kind]}{sweep}; now {at.isoformat()}")
        for _, table in sorted(scheme.value_maps.items()):  # which version of each map this run reads
            record.log.info(f"value map {table.describe()}")
        return record

    @contextmanager
    def recording(self) -> Iterator[RunRecord]:
        """Run the body; whatever it raises becomes the report's status and error (a
        ``BaseException`` such as Ctrl-C is recorded, then propagates); then finish the record."""
        report = self.report
        try:
            yield self
            report.status = "partial" if (self.counts.failed or self.counts.dead) else "succeeded"
        except ConfigError as exc:
            report.status, report.error = "invalid", str(exc)
        except FerryError as exc:
            report.status, report.error = "failed", str(exc)
        except Exception as exc:  # a bug: keep the run record honest, then surface it
            report.status = "failed"
            report.error = f"internal error: {exc!r}\n{traceback.format_exc(limit=5)}"
        except BaseException:
            report.status, report.error = "failed", "interrupted"
            raise
        finally:
            self._finish()

    def _finish(self) -> None:
        report, counts = self.report, self.counts
        counts.duration_s = round(time.monotonic() - self._started, 3)
        if not report.windows:
            report.windows = self.committed()  # the windows committed before a stop or error
        _window_totals(self.store, self.scheme.id, report.windows)
        _waiting(self.store, self.scheme.id, counts)
        stored = "failed" if report.status == "invalid" else report.status
        if report.error:
            self.log.error(report.error)
        placeholders = self.misses.as_dict() if self.misses.mapped else None
        for line in missing_lines(placeholders):
            self.log.warning(f"a placeholder found nothing: {line}")
        self.log.write("info" if stored in ("succeeded", "partial") else "error", summary(report))
        self.store.finish_run(
            self.run_id,
            stored,
            counts.as_dict(),
            report.error,
            [w.as_dict() for w in report.windows],
            placeholders=placeholders,
        )


def _window_totals(store: Store, scheme_id: str, windows: list[WindowReport]) -> None:
    """Add to each window's report what the ledger holds for it and how much of that is
    delivered (beside the API's ``total``), for reconciliation at a glance."""
    if not windows:
        return
    try:
        totals = store.window_totals(scheme_id, [(w.start, w.end) for w in windows])
    except FerryError:  # the run record matters more than these figures
        return
    for window, (held, delivered) in zip(windows, totals, strict=True):
        window.ledger, window.delivered = held, delivered


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
    counts.waiting_quarantined = waiting.quarantined
    counts.failing_since = waiting.failing_since or 0


def summary(report: RunReport) -> str:
    """The run's one-line outcome, as its last event says it."""
    c = report.counts
    parts = [f"fetched {c.fetched}", f"new {c.new}", f"delivered {c.delivered}"]
    parts += [
        f"{name} {getattr(c, name)}"
        for name in (
            "flattened",
            "failed",
            "dead",
            "quarantined",
            "warned",
            "pending",
            "retries",
            "recovered",
        )
        if getattr(c, name)
    ]
    text = f"{report.status}: {', '.join(parts)} ({c.duration_s:.2f}s)"
    if c.still_failing:
        since = f" since run {c.failing_since}" if c.failing_since else ""
        text += f"; {c.still_failing} records of the scheme still failing{since}"
    return text
