"""The ledger's write side: pages stored and handed over, claims, releases, results, replays.

These are :class:`~ferry.store.Store` methods (the crash-cut contract they keep is written at
the head of ``ferry/store/_store.py``); they live here to keep each module small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ferry.store import _ledger_deliver, _ledger_query, _ledger_write, _state, quarantine
from ferry.store._errors import guarded
from ferry.store._handover import Handover
from ferry.store._ledger_write import Claimed
from ferry.store._models import Hold, LedgerRow, RecordResult, Replayed, UpsertResult
from ferry.store._sql import utcnow
from ferry.store._store_core import StoreCore

__all__ = ["LedgerStore"]

Page = Sequence[tuple[str, str | None, dict[str, Any]]]
"""One page of ``(record_id, number, content)``."""


def _calls_and_rowids(
    calls: Sequence[dict[str, Any]] | Mapping[str, int] | None,
    old_calls: Sequence[Sequence[dict[str, Any]]],
    rowids: Mapping[str, int] | None,
    handover: Handover | None,
) -> tuple[Sequence[dict[str, Any]], Mapping[str, int] | None]:
    """:meth:`LedgerStore.record_results`' arguments in either order, as ``(calls, rowids)``."""
    if isinstance(calls, Mapping):  # the old order: (scheme_id, results, rowids, calls)
        rowids, calls = calls, None
    if handover is not None:
        rowids = {**(rowids or {}), **handover._rowids()}
    return calls or (old_calls[0] if old_calls else ()), rowids


class LedgerStore(StoreCore):
    """The ledger methods of :class:`~ferry.store.Store` (see the module doc)."""

    _inserted: int
    _analyze_at: int

    # -- ledger: collector -------------------------------------------------------------------

    @guarded("upserting records")
    def upsert_records(
        self,
        scheme_id: str,
        records: Page,
        *,
        id_check: bool = True,
        on_change: str = "skip",
        window: tuple[datetime, datetime] | None = None,
        run_id: int | None = None,
        cursor: tuple[str, datetime] | None = None,
        dead_letters: Sequence[RecordResult] = (),
        calls: Sequence[dict[str, Any]] = (),
        holds: Mapping[str, Hold] | None = None,
    ) -> UpsertResult:
        """Store one page of ``(record_id, number, content)`` and, optionally, move a cursor.

        A new id is inserted as ``pending``. A known id is left untouched unless it must be
        delivered again: always with ``id_check=False``; with ``on_change='redeliver'`` when its
        content hash changed. Delivering again replaces number, content, window and run and
        sets the row ``pending`` with ``attempts=0`` — except a ``queued`` row (in flight),
        which keeps its status and is flagged to return to ``pending`` when its result is
        recorded (and is skipped altogether under ``id_check=False`` if its content is the
        same as the one being delivered). Duplicate ids in one call: the last one wins.

        The page and ``cursor`` (``(kind, position)``) commit in ONE transaction: the cursor
        never passes a page that is not in the ledger. ``dead_letters`` (results for records of
        this page, e.g. a record without an id) are applied in that same transaction, so a
        concurrent deliverer never claims them as ``pending``; so are ``calls`` (the page's
        API call records, see :meth:`log_api_calls`), which saves a write turn per page. The
        result counts the page's other records only: a dead letter is neither new nor known.

        ``holds`` (record id -> :class:`~ferry.store.Hold`): records of the page a source
        quality rule holds. Each one that would be delivered (new, or set back to ``pending``)
        is stored ``quarantined`` with its hold instead, in the same transaction, and counted in
        the result's ``quarantined``; one an operator released with this very content is not
        held again (:mod:`ferry.store.quarantine`).

        Raises:
            RecordError: A record id/number is not a string of at most 191 characters, or
                content holds a value with no JSON form. Nothing of the page is stored.
            RetriableError: Another process wrote the same ids concurrently, or the
                database was busy. Nothing of the page is stored.
        """
        result, _ = self._upsert(
            scheme_id,
            records,
            id_check,
            on_change,
            window,
            run_id,
            cursor,
            dead_letters,
            calls,
            claim_new=False,
            holds=holds,
        )
        return result

    @guarded("upserting and claiming records")
    def claim_records(
        self,
        scheme_id: str,
        records: Page,
        *,
        id_check: bool = True,
        on_change: str = "skip",
        window: tuple[datetime, datetime] | None = None,
        run_id: int | None = None,
        cursor: tuple[str, datetime] | None = None,
        dead_letters: Sequence[RecordResult] = (),
        calls: Sequence[dict[str, Any]] = (),
        holds: Mapping[str, Hold] | None = None,
    ) -> tuple[UpsertResult, list[Claimed]]:
        """:meth:`upsert_records`, but new ids are inserted ``queued`` (claimed at commit) and
        returned as ``(record_id, number, stored content text, content hash, SQLite rowid or
        None)``, for a deliverer that is handed them directly. The caller must deliver them or
        release them; a crash leaves them to :meth:`recover_queued`. Dead-lettered ids are
        never claimed, nor are held ones. :meth:`hand_over` is the same with the rows kept opaque.
        Same errors as :meth:`upsert_records`.
        """
        return self._upsert(
            scheme_id,
            records,
            id_check,
            on_change,
            window,
            run_id,
            cursor,
            dead_letters,
            calls,
            claim_new=True,
            holds=holds,
        )

    def hand_over(
        self,
        scheme_id: str,
        records: Page,
        *,
        window: tuple[datetime, datetime] | None = None,
        run_id: int | None = None,
        **options: Any,
    ) -> tuple[UpsertResult, Handover]:
        """Store a page as :meth:`upsert_records` does (``options``: its other keywords) with its
        new ids claimed (``queued``) at commit, and hand those rows over for delivery.

        The :class:`~ferry.store.Handover` carries the rows (:meth:`Handover.rows
        <ferry.store.Handover.rows>`); its holder delivers them and records their results
        with ``record_results(..., handover=...)``, or gives them back with :meth:`release`;
        a crash leaves them ``queued`` for :meth:`recover_queued`. Known ids that must be
        delivered again stay ``pending`` (a claim takes them), and dead letters are never
        handed over. Same errors as :meth:`upsert_records`.
        """
        result, claimed = self.claim_records(scheme_id, records, window=window, run_id=run_id, **options)
        return result, Handover(scheme_id, window, run_id, utcnow(), claimed)

    def _upsert(
        self,
        scheme_id: str,
        records: Page,
        id_check: bool,
        on_change: str,
        window: tuple[datetime, datetime] | None,
        run_id: int | None,
        cursor: tuple[str, datetime] | None,
        dead_letters: Sequence[RecordResult],
        calls: Sequence[dict[str, Any]],
        *,
        claim_new: bool,
        holds: Mapping[str, Hold] | None = None,
    ) -> tuple[UpsertResult, list[Claimed]]:
        now = utcnow()
        latest = _ledger_write.encode_page(records)  # outside the write turn
        dead = frozenset(letter.record_id for letter in dead_letters)
        held_due: list[str] = []
        with self._tx(write=True) as conn:
            held = _held_ids(conn, scheme_id, holds, latest)
            result, claimed = _ledger_write.upsert_and_claim(
                conn,
                scheme_id,
                latest,
                id_check=id_check,
                on_change=on_change,
                window=window,
                run_id=run_id,
                cursor=cursor,
                now=now,
                claim_new=claim_new,
                dead=dead,
                held=held,
                held_due=held_due,
            )
            if held_due and holds is not None:  # in the same transaction: never seen pending
                quarantine.hold_rows(conn, scheme_id, holds, held_due, run_id, now)
            if dead_letters:  # in the same transaction: no deliverer ever sees them pending
                _ledger_deliver.record_results(conn, scheme_id, dead_letters, now)
                _ledger_deliver.mark_collected_dead_letters(conn, scheme_id, list(dead))
                claimed = [row for row in claimed if row[0] not in dead]
            if calls:
                _state.log_api_calls(conn, calls, now)
        if result.new and self.dialect == "postgresql":
            self._note_growth(result.new)
        return result, claimed

    def _note_growth(self, inserted: int) -> None:
        """Refresh PostgreSQL's ledger statistics as it grows (each time this process doubled it).

        Without statistics (autovacuum off or not yet run) PostgreSQL plans the id lookups
        of a fast-growing ledger as whole-scheme scans (~100x slower per page); a sampled
        ``ANALYZE`` costs well under a second and never blocks readers or writers.
        """
        self._inserted += inserted
        if self._inserted < self._analyze_at:
            return
        self._analyze_at = self._inserted * 2
        with self._tx(write=True) as conn:
            conn.exec_driver_sql("ANALYZE ledger")

    # -- ledger: deliverer -------------------------------------------------------------------

    @guarded("recovering queued records")
    def recover_queued(self, scheme_id: str) -> int:
        """Return rows left ``queued`` (a deliverer died) to ``pending``; how many.

        Call it before delivering, while no other deliverer of the scheme runs. Attempts
        are kept (reset when the content changed meanwhile); the rows keep their due time,
        so they are the first claimed again.
        """
        with self._tx(write=True) as conn:
            return _ledger_deliver.recover_queued(conn, scheme_id, utcnow())

    @guarded("claiming records")
    def claim(self, scheme_id: str, limit: int, now: datetime) -> list[LedgerRow]:
        """Atomically mark up to ``limit`` due rows ``queued`` and return them (as ``queued``).

        Due rows: every ``pending`` row, and ``error`` rows whose ``next_attempt_at <= now``;
        the earliest ``next_attempt_at`` (the due time) first. A row is returned by at most
        one claim until it is pending again.
        """
        # SQLite: a read first, so an idle deliverer never waits for the write lock
        if self._writer is not None:
            with self._tx() as conn:
                if not _ledger_deliver.any_due(conn, scheme_id, now):
                    return []
        with self._tx(write=True) as conn:
            return _ledger_deliver.claim(conn, scheme_id, limit, now)

    @guarded("releasing claimed records")
    def release(self, scheme_id: str, record_ids: Sequence[str]) -> int:
        """Give claimed (``queued``) rows this process will not deliver back to ``pending``, as
        :meth:`recover_queued` does for a dead deliverer's rows; how many were queued."""
        if not record_ids:
            return 0
        with self._tx(write=True) as conn:
            return _ledger_deliver.release(conn, scheme_id, record_ids, utcnow())

    @guarded("recording delivery results")
    def record_results(
        self,
        scheme_id: str,
        results: Sequence[RecordResult],
        calls: Sequence[dict[str, Any]] | Mapping[str, int] | None = None,
        *old_calls: Sequence[dict[str, Any]],
        handover: Handover | None = None,
        rowids: Mapping[str, int] | None = None,
    ) -> None:
        """Apply delivery results in one transaction.

        ``handover``: the :class:`~ferry.store.Handover` the records came in, if any, so their
        rows are updated without an id lookup each (by SQLite rowid); other records (and other
        databases) are found by id.

        Deprecated, kept until the engine passes ``handover``: ``rowids`` (the records' SQLite
        rowids, as :meth:`claim_records` returns them), also as the third positional argument
        in the old order ``record_results(scheme_id, results, rowids, calls)``.

        Each row: ``attempts += 1``; ``status`` as given; ``target_response`` = the response
        (``str`` as is, else JSON; 64 KB at most; ``NULL`` when ``None``); ``last_error``
        replaced when an error is given, kept otherwise; ``delivered_at`` = now on
        ``finished``; ``next_attempt_at`` = the retry time on ``error`` (now when ``None``),
        ``NULL`` otherwise; ``run_id`` set when given. A row flagged ``requeue`` (its content
        changed while in flight) goes back to ``pending`` with ``attempts = 0`` instead.
        Duplicate record ids: the last result wins. ``calls`` (the batch's API call records,
        see :meth:`log_api_calls`) are stored in the same transaction.

        Raises:
            ValueError: A status is not ``finished``/``error``/``dead``/``quarantined``, or a
                time is naive.

        A ``quarantined`` result (a target quality rule held the record) leaves the row
        ``quarantined`` outside the ladder, with its :attr:`RecordResult.hold` kept for
        :mod:`ferry.store.quarantine`.
        """
        calls, rowids = _calls_and_rowids(calls, old_calls, rowids, handover)
        now = utcnow()
        plan = _ledger_deliver.plan_results(self._hot, scheme_id, results, now, rowids)  # before the turn
        holding = [r for r in results if r.status == "quarantined" and r.hold is not None]
        held = {r.record_id: r.hold for r in holding if r.hold is not None}
        with self._tx(write=True) as conn:
            _ledger_deliver.apply_results(conn, scheme_id, plan, now)
            if held:  # the hold names the run that held it (the quality report counts by run)
                run_id = holding[0].run_id
                quarantine.hold_rows(conn, scheme_id, held, list(held), run_id, now, set_status=False)
            if calls:
                _state.log_api_calls(conn, calls, now)

    @guarded("replaying records")
    def replay(
        self,
        scheme_id: str,
        *,
        record_ids: Sequence[str] | None = None,
        status: str | Sequence[str] | None = None,
        window: tuple[datetime, datetime] | None = None,
    ) -> Replayed:
        """Send matching rows back to ``pending`` (``attempts=0``, due now, ``last_error`` kept).

        Filters combine with AND: ``record_ids``, ``status`` (one or several) and ``window``
        (``window_start`` in ``[a, b)``). At least one is required. ``queued`` rows (in
        flight) are never replayed, nor ``quarantined`` or ``dropped`` ones (release them with
        :func:`ferry.store.quarantine.release`), nor the dead letters collection made (a record without an
        id or that could not be read: nothing to deliver). Returns the number of rows replayed,
        with the dead letters matched and kept in ``.kept``.

        Raises:
            ValueError: No filter, an unknown status, or a record id that is blank or only
                wildcards (:func:`selects_everything`): ids are matched exactly.
        """
        with self._tx(write=True) as conn:
            replayed, kept = _ledger_deliver.replay(
                conn, scheme_id, record_ids=record_ids, status=status, window=window, now=utcnow()
            )
        return Replayed(replayed, kept)

    @guarded("counting the records of windows")
    def window_totals(
        self, scheme_id: str, spans: Sequence[tuple[datetime, datetime]]
    ) -> list[tuple[int, int]]:
        """Per span ``[start, end)`` (tz-aware): ``(ledger rows whose window_start is in it, of
        those finished)``, for reconciling a run's windows at a glance. One grouped query for all
        spans, not one per span: the ledger has no index on the window."""
        with self._tx() as conn:
            return _ledger_query.window_totals(conn, scheme_id, spans)


def _held_ids(
    conn: Any, scheme_id: str, holds: Mapping[str, Hold] | None, latest: _ledger_write.Encoded
) -> frozenset[str]:
    """The ids of ``holds`` to hold: those on the page, less those an operator released with
    the same content (release means deliver as is)."""
    if not holds:
        return frozenset()
    digests = {rid: latest[rid][2] for rid in holds if rid in latest}
    return frozenset(digests) - quarantine.waived(conn, scheme_id, digests)
