"""What one collected window came to: the typed per-window report of a run.

The collector fills a :class:`WindowReport` per window it reads; the runner adds what the
ledger holds for the window (:attr:`~WindowReport.ledger`, :attr:`~WindowReport.delivered`)
and stores :meth:`WindowReport.as_dict` in the run record, where ``ferry runs show`` and the
console read it. The figures that only some windows have (a re-read, a held-back cursor, the
ledger's count) are ``None`` when absent and left out of that record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ferry.engine.windows import Window

__all__ = ["WindowReport"]

_OPTIONAL = ("held_back_s", "recovered", "short")
"""Figures stored only when the window has them, in their place before ``seconds``."""
_LEDGER = ("ledger", "delivered")
"""Figures the runner adds from the ledger, stored last when it could count them."""


@dataclass
class WindowReport:
    """One window of a run: what the source gave, what was stored and what the API said.

    Example of its stored form (:meth:`as_dict`)::

        {"window": "[2024-05-01 00:00:00+08:00, 2024-05-02 00:00:00+08:00)",
         "start": "2024-05-01T00:00:00+08:00", "end": "2024-05-02T00:00:00+08:00",
         "pages": 3, "fetched": 250, "stored": 248, "total": 251,
         "recovered": 1, "seconds": 1.204, "ledger": 251, "delivered": 251}
    """

    window: str
    """The window as text (``str(Window)``)."""
    start: datetime
    end: datetime
    pages: int = 0
    """Pages read, re-reads included."""
    fetched: int = 0
    """Records the source returned, re-reads included."""
    stored: int = 0
    """Ledger rows the pages came to (filtered and flattened), re-reads included."""
    total: int | None = None
    """The largest total the API reported for the window, or ``None`` when it reports none."""
    held_back_s: float | None = None
    """Seconds the cursor stopped short of the window's end because the vendor's clock is
    behind (``settings.follow_vendor_clock``); ``None`` when nothing was held back."""
    recovered: int | None = None
    """New records the re-reads of a window short of its total found (the omissionRemedy sweep:
    every new record it found); ``None`` when the window was not read again."""
    short: int | None = None
    """Distinct records still missing from the API's total after the re-reads; ``None`` when none."""
    seconds: float = 0.0
    """Wall time of the window, re-reads included."""
    ledger: int | None = None
    """Ledger records collected in the window (set by the runner; ``None`` until counted)."""
    delivered: int | None = None
    """How many of :attr:`ledger` are delivered (set by the runner; ``None`` until counted)."""

    @classmethod
    def of(cls, window: Window) -> WindowReport:
        """An empty report of ``window``, before its first page."""
        return cls(window=str(window), start=window.start, end=window.end)

    def as_dict(self) -> dict[str, Any]:
        """The run record's form of the window: JSON values, absent figures left out."""
        out: dict[str, Any] = {
            "window": self.window,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "pages": self.pages,
            "fetched": self.fetched,
            "stored": self.stored,
            "total": self.total,
        }
        out.update((key, getattr(self, key)) for key in _OPTIONAL if getattr(self, key) is not None)
        out["seconds"] = self.seconds
        out.update((key, getattr(self, key)) for key in _LEDGER if getattr(self, key) is not None)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowReport:
        """The report :meth:`as_dict` gave ``data`` for (a run record's window read back)."""
        fields = {key: data.get(key) for key in (*_OPTIONAL, *_LEDGER)}
        return cls(
            window=str(data["window"]),
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            pages=int(data.get("pages") or 0),
            fetched=int(data.get("fetched") or 0),
            stored=int(data.get("stored") or 0),
            total=data.get("total"),
            seconds=float(data.get("seconds") or 0.0),
            **fields,
        )
