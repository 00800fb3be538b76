"""A run's page at any size: a summary, its windows in pages and its log in pages.

A catch-up run can cover a thousand windows, most of them empty, and log a line per window.
The page shows the run's counts and a summary of its windows (how many, how many held
records, the span they cover), then one page of the windows that fetched something (the
empty ones folded into one line; ``?show=all`` lists them too) and one page of the log
(``?log=problems``: its warnings and errors only). Paging is by query parameter: ``?wpage=2``
for the windows, ``?lpage=3`` for the log.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ferry.console._models import RunEvent, RunSummary
from ferry.store import Store

__all__ = ["LOG_PAGE", "WINDOWS_PAGE", "Pager", "RunPage", "WindowSummary", "is_empty", "run_page"]

WINDOWS_PAGE = 50
"""Windows shown per page."""
LOG_PAGE = 50
"""Log lines shown per page."""
PROBLEMS = ("warning", "error")
"""The log levels ``?log=problems`` keeps."""
_FILLED = ("fetched", "stored", "ledger", "delivered", "recovered", "short", "source", "missing", "extra")
"""Window figures of which any non-zero one makes a window worth a line of its own."""


@dataclass(frozen=True)
class Pager:
    """Page ``page`` (from 1) of ``total`` rows, ``size`` a page; links keep the other parameters."""

    param: str
    page: int
    size: int
    total: int
    query: tuple[tuple[str, str], ...] = ()
    anchor: str = ""

    @classmethod
    def of(
        cls, query: Sequence[tuple[str, str]], param: str, asked: int, size: int, total: int, anchor: str = ""
    ) -> Pager:
        """The pager for the ``asked`` page, moved into ``1..pages``; ``query`` is the request's."""
        pages = max(math.ceil(total / size), 1)
        kept = tuple((k, v) for k, v in query if k not in (param, "lang"))
        return cls(param, min(max(asked, 1), pages), size, total, kept, anchor)

    @property
    def pages(self) -> int:
        return max(math.ceil(self.total / self.size), 1)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def first(self) -> int:
        """Number (from 1) of the page's first row; 0 when there is none."""
        return self.offset + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total)

    def url(self, page: int) -> str:
        """A link to ``page`` of this list, the other parameters unchanged."""
        query = urlencode([*self.query, (self.param, str(page))])
        return f"?{query}" + (f"#{self.anchor}" if self.anchor else "")


def is_empty(window: Mapping[str, Any]) -> bool:
    """Whether a window fetched nothing, holds nothing and missed nothing."""
    return not any(window.get(key) for key in _FILLED)


@dataclass(frozen=True)
class WindowSummary:
    """What a run's windows add up to."""

    total: int
    filled: int
    empty: int
    pages: int
    fetched: int
    start: str | None
    """Start of the first window (ISO text in the scheme's zone), when the windows carry one."""
    end: str | None
    empty_start: str | None
    empty_end: str | None


def _span(windows: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    starts = [str(w["start"]) for w in windows if w.get("start")]
    ends = [str(w["end"]) for w in windows if w.get("end")]
    return (min(starts) if starts else None), (max(ends) if ends else None)


def summarize(windows: Sequence[Mapping[str, Any]]) -> WindowSummary:
    """Counts and spans of ``windows`` (all of a run's)."""
    empty = [w for w in windows if is_empty(w)]
    start, end = _span(windows)
    empty_start, empty_end = _span(empty)
    return WindowSummary(
        total=len(windows),
        filled=len(windows) - len(empty),
        empty=len(empty),
        pages=sum(int(w.get("pages") or 0) for w in windows),
        fetched=sum(int(w.get("fetched") or 0) for w in windows),
        start=start,
        end=end,
        empty_start=empty_start,
        empty_end=empty_end,
    )


def columns_of(windows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The figures the windows carry, in the order they first appear (lists of ids left out)."""
    columns: list[str] = []
    for window in windows:
        for key, value in window.items():
            if (
                key not in columns
                and key not in ("window", "start", "end")
                and not isinstance(value, list | dict)
            ):
                columns.append(key)
    return columns


@dataclass
class RunPage:
    """Everything the run page shows."""

    run: RunSummary
    summary: WindowSummary
    columns: list[str]
    windows: list[dict[str, Any]]
    """This page's windows."""
    window_pager: Pager
    show_empty: bool
    events: list[RunEvent]
    log_pager: Pager
    toggle_url: str
    """Lists the empty windows too, or again without them (from the first page)."""
    problems_only: bool = False
    problems: int = 0
    """Warnings and errors in the whole log."""
    log_toggle_url: str = ""
    """Shows the warnings and errors only, or every line again (from the first page)."""


def run_page(
    store: Store,
    run_id: int,
    query: Sequence[tuple[str, str]],
    *,
    windows_page: int = 1,
    log_page: int = 1,
    show_empty: bool = False,
    problems_only: bool = False,
) -> RunPage | None:
    """One page of the run ``run_id``'s windows and log (``None`` when there is no such run).

    ``query`` is the request's query string as pairs: the page links keep it.
    """
    run = store.get_run(run_id)
    if run is None:
        return None
    windows: list[dict[str, Any]] = list(run.get("windows") or [])
    listed = windows if show_empty else [w for w in windows if not is_empty(w)]
    window_pager = Pager.of(query, "wpage", windows_page, WINDOWS_PAGE, len(listed), "windows")
    problems = store.count_run_events(run_id, levels=PROBLEMS)
    levels = PROBLEMS if problems_only else None
    lines = problems if problems_only else store.count_run_events(run_id)
    log_pager = Pager.of(query, "lpage", log_page, LOG_PAGE, lines, "logs")
    events = store.list_run_events(run_id, offset=log_pager.offset, limit=log_pager.size, levels=levels)
    return RunPage(
        run=RunSummary.model_validate(run),
        summary=summarize(windows),
        columns=columns_of(windows),
        windows=listed[window_pager.offset : window_pager.offset + window_pager.size],
        window_pager=window_pager,
        show_empty=show_empty,
        events=[RunEvent.model_validate(e) for e in events],
        log_pager=log_pager,
        toggle_url=_toggle(query, "show", "all", "wpage", not show_empty, "windows"),
        problems_only=problems_only,
        problems=problems,
        log_toggle_url=_toggle(query, "log", "problems", "lpage", not problems_only, "logs"),
    )


def _toggle(query: Sequence[tuple[str, str]], name: str, value: str, page: str, on: bool, anchor: str) -> str:
    """This page's link with ``name=value`` set (``on``) or dropped, back at page 1 of ``page``."""
    kept = [(k, v) for k, v in query if k not in (name, page, "lang")]
    return "?" + urlencode([*kept, *([(name, value)] if on else [])]) + f"#{anchor}"
