"""What the collector hands a deliverer: the new rows of one committed page, claimed already.

:meth:`Store.hand_over <ferry.store.Store.hand_over>` stores a page and claims its *new* rows
(``queued``) in the page's own transaction, exactly as a claim query would have claimed them
the instant they were committed, and returns them as a :class:`Handover`. The deliverer reads
the rows from it instead of selecting, marking and re-reading them, and records their results
with ``handover=`` (the store finds each row by its SQLite rowid, kept opaque in here). The
ledger stays the durable record: every handed row is committed before it is delivered, and a
row a crash left ``queued`` goes back to ``pending`` on the next run's recovery.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from ferry.store._ledger_write import Claimed
from ferry.store.codec import loads

__all__ = ["HandedRow", "Handover"]


class HandedRow(NamedTuple):
    """A handed-over row as a deliverer reads it (the fields of a ledger row it needs)."""

    record_id: str
    content: dict[str, Any]
    attempts: int
    window_start: datetime | None
    window_end: datetime | None


class Handover:
    """The new rows of one committed page, claimed (``queued``) in the page's transaction.

    Picklable, so it may cross to a deliver process. Whoever holds it must deliver its rows
    (then :meth:`Store.record_results <ferry.store.Store.record_results>` with
    ``handover=``) or give them back (:meth:`Store.release <ferry.store.Store.release>`); a
    crash leaves them to :meth:`Store.recover_queued <ferry.store.Store.recover_queued>`.

    Attributes:
        scheme_id: The scheme the rows belong to.
        window: The collecting window ``(start, end)`` of the page, or ``None``.
        run_id: The run that collected the page.
        at: The page's commit time: the rows' due, created and updated time.
    """

    __slots__ = ("_claimed", "at", "run_id", "scheme_id", "window")

    def __init__(
        self,
        scheme_id: str,
        window: tuple[datetime, datetime] | None,
        run_id: int | None,
        at: datetime,
        claimed: Sequence[Claimed],
    ) -> None:
        self.scheme_id = scheme_id
        self.window = window
        self.run_id = run_id
        self.at = at
        self._claimed = tuple(claimed)

    def __len__(self) -> int:
        return len(self._claimed)

    def __repr__(self) -> str:
        return f"Handover(scheme_id={self.scheme_id!r}, rows={len(self)}, run_id={self.run_id})"

    def record_ids(self) -> list[str]:
        """The handed rows' record ids, in page order."""
        return [row[0] for row in self._claimed]

    def rows(self) -> list[HandedRow]:
        """The rows to deliver, their content decoded from the stored text (so it is exactly
        what a claim would read back from the ledger); ``attempts`` is 0 (a new row)."""
        start, end = self.window if self.window is not None else (None, None)
        return [HandedRow(rid, loads(text), 0, start, end) for rid, _, text, _, _ in self._claimed]

    def _rowids(self) -> dict[str, int]:
        """The rows' SQLite rowids (empty on other databases): the store records their results
        without an id lookup each."""
        return {row[0]: row[4] for row in self._claimed if row[4] is not None}
