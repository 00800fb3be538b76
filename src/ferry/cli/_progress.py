"""Live progress of ``ferry run``: a rich display on a terminal, plain lines elsewhere.

Both reporters are the engine's ``progress(event, **info)`` callback (see
:func:`ferry.engine.runner.run_scheme`) and understand its events: ``window`` (window, index,
total), ``page`` (window, page, records, counts), ``deliver`` (records, seconds, counts),
``retry`` (attempt, error) and ``recovered`` (records). Unknown events are ignored, so the
engine may add more without breaking the CLI.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from ferry.cli._common import echo, redact, truncate

__all__ = ["LineReporter", "LiveReporter", "Reporter", "reporter_for"]


class Reporter:
    """Shared bookkeeping: counts seen so far and rates since the scheme started."""

    def __init__(self, scheme_id: str) -> None:
        self.scheme_id = scheme_id
        self.started = time.monotonic()
        self.fetched = 0
        self.delivered = 0
        self.windows_total: int | None = None
        self.windows_done = 0

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def rate(self, count: int) -> float:
        elapsed = time.monotonic() - self.started
        return count / elapsed if elapsed > 0 else 0.0

    def stats(self) -> str:
        return (
            f"fetched {self.fetched:,} ({self.rate(self.fetched):,.0f}/s) · "
            f"delivered {self.delivered:,} ({self.rate(self.delivered):,.0f}/s)"
        )

    def _track(self, event: str, info: dict[str, Any]) -> None:
        counts = info.get("counts")
        if counts is not None:
            self.fetched = int(getattr(counts, "fetched", self.fetched))
            self.delivered = int(getattr(counts, "delivered", self.delivered))
        if event == "window":
            self.windows_total = info.get("total")
            self.windows_done = int(info.get("index", 0))

    def __call__(self, event: str, **info: Any) -> None:
        self._track(event, info)


class LineReporter(Reporter):
    """One line per event, for pipes and CI logs.

    Window, retry and recovery lines always print; page and deliver lines at most once per
    ``interval`` seconds (the first of each window always), so a long run does not flood a log.
    """

    def __init__(self, scheme_id: str, *, interval: float = 1.0) -> None:
        super().__init__(scheme_id)
        self.interval = interval
        self._last = float("-inf")

    def _line(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            echo(f"[{self.scheme_id}] {text}")

    def __call__(self, event: str, **info: Any) -> None:
        self._track(event, info)
        if event == "window":
            index, total = int(info.get("index", 0)), info.get("total")
            echo(f"[{self.scheme_id}] window {index + 1}/{total} {info.get('window')}")
            self._last = float("-inf")
        elif event == "page":
            self._line(f"page {info.get('page')}: {info.get('records', 0):,} records; {self.stats()}")
        elif event == "deliver":
            self._line(
                f"delivered a batch of {info.get('records', 0):,} in {info.get('seconds', 0):.2f}s; {self.stats()}"
            )
        elif event == "retry":
            error = truncate(redact(str(info.get("error", ""))), 160)
            self._line(f"retry {info.get('attempt')}: {error}", force=True)
        elif event == "recovered":
            records = info.get("records", 0)
            self._line(f"{records:,} records left queued by an interrupted run are pending again", force=True)


class LiveReporter(Reporter):
    """A rich display of two lines: a bar over the windows, then records fetched and delivered
    with their rates. It disappears when the run returns (the summary table follows)."""

    def __init__(self, scheme_id: str, console: Console) -> None:
        super().__init__(scheme_id)
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("windows"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task(scheme_id, total=None)
        self.live = Live(self._view("starting"), console=console, transient=True, refresh_per_second=8)

    def _view(self, stats: str) -> Group:
        return Group(self.progress, Text(f"  {stats}", style="dim"))

    def __enter__(self) -> LiveReporter:
        self.live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.live.stop()

    def __call__(self, event: str, **info: Any) -> None:
        self._track(event, info)
        if event == "window":
            self.progress.update(self.task, total=self.windows_total, completed=self.windows_done)
        elif event == "retry":
            error = truncate(redact(str(info.get("error", ""))), 120)
            self.console.print(Text.assemble((f"retry {info.get('attempt')}: ", "yellow"), error))
        elif event == "recovered":
            records = info.get("records", 0)
            self.console.print(
                Text(f"{records:,} records left queued by an interrupted run are pending again")
            )
        self.live.update(self._view(self.stats()))

    def finish(self) -> None:
        """Mark every planned window as done (the run returned)."""
        if self.windows_total:
            self.progress.update(self.task, completed=self.windows_total)


def reporter_for(scheme_id: str, console: Console) -> Reporter:
    """A :class:`LiveReporter` on a terminal, else a :class:`LineReporter`."""
    return LiveReporter(scheme_id, console) if console.is_terminal else LineReporter(scheme_id)
