"""A run's log: coarse events (run started, window committed, re-reads, errors, final status).

Each event is one line of the run's log in the store (:meth:`Store.add_run_event
<ferry.store.Store.add_run_event>`), written in its own short transaction as it happens, so
the console shows a run's progress while it lasts and the log survives a crash. Events are
per run and per window, never per record, so they cost nothing measurable beside the ledger
writes.

Never a credential (invariant 5): every message passes through :func:`redact`, which masks the
scheme's connection secrets, URL passwords and secret-looking query values.

    log = RunLog(store, run_id, secrets=scheme_secrets(scheme))
    log.info("collect run started")
    read_run_events(store, run_id)   # [{"id": 1, "at": datetime, "level": "info", "message": ...}]
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ferry._redact import redact as redact_text
from ferry.errors import FerryError

if TYPE_CHECKING:
    from ferry.scheme.model import Scheme
    from ferry.store import Store

__all__ = ["LEVELS", "RunLog", "read_run_events", "redact", "scheme_secrets"]

LEVELS = ("info", "warning", "error")
MAX_MESSAGE = 8000
"""Longest message kept (an engine bug's traceback is cut here)."""


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every remembered secret and every value in ``secrets`` (4 characters or
    more), URL passwords and secret query values as ``***`` (see :func:`ferry._redact.redact`)."""
    return redact_text(text, secrets)


def scheme_secrets(scheme: Scheme) -> list[str]:
    """The secret values of the scheme's resolved source and target connections."""
    found: list[str] = []
    for connection in (scheme.source_connection, scheme.target_connection):
        values = getattr(connection, "secret_values", None)
        if callable(values):
            found += values()
    return found


class RunLog:
    """Writes one run's events; a failing write is counted, never raised (the run matters more)."""

    def __init__(self, store: Store, run_id: int, *, secrets: Iterable[str] = ()) -> None:
        self.store = store
        self.run_id = run_id
        self.secrets = list(secrets)
        self.dropped = 0
        """Events that could not be written (the store was busy or gone)."""

    def write(self, level: str, message: str) -> None:
        """Append one event (``level`` is ``info``, ``warning`` or ``error``)."""
        if level not in LEVELS:
            raise ValueError(f"event level must be one of {', '.join(LEVELS)} (got {level!r})")
        text = redact(message, self.secrets)
        if len(text) > MAX_MESSAGE:
            text = text[: MAX_MESSAGE - 1] + "…"
        try:
            self.store.add_run_event(self.run_id, level, text, datetime.now(UTC))
        except FerryError:
            self.dropped += 1

    def info(self, message: str) -> None:
        """An ``info`` event."""
        self.write("info", message)

    def warning(self, message: str) -> None:
        """A ``warning`` event."""
        self.write("warning", message)

    def error(self, message: str) -> None:
        """An ``error`` event."""
        self.write("error", message)


def read_run_events(store: Store, run_id: int) -> list[dict[str, Any]]:
    """The run's events in the order written: ``{id, at, level, message}`` (``at`` tz-aware UTC)."""
    return store.list_run_events(run_id, limit=None)
