"""The :class:`Store`: Ferry's durable state behind one small API.

Crash safety (docs/architecture.md §2, invariant 3). Every public method is exactly one database
transaction, so a SIGKILL between (or inside) any two calls leaves each call either fully
applied or not at all. The sequence the engine follows stays consistent at every cut:

- ``upsert_records(page, cursor=...)``: a page and the cursor that moves past it commit
  together. Killed before the commit: neither is saved, the next run re-reads the page
  (harmless: upserts are keyed by ``(scheme_id, record_id)``). Never a cursor past an
  uncommitted page.
- ``claim`` commits rows as ``queued`` before anything is sent; so does ``hand_over`` for
  a page's new rows, in the page's own transaction. Killed after the claim: the rows stay
  ``queued``; the next run calls :meth:`recover_queued` first (one deliverer per scheme) and
  they are delivered again — the target write is idempotent (docs/architecture.md §2,
  invariant 2), so "at least once" never becomes "twice in effect". ``release`` gives back
  rows a live deliverer will not send, at once.
- ``record_results`` commits after the target answered. Killed between the target's answer
  and this commit: as above, the rows are re-sent. Killed after: they are final.
- ``start_run``/``finish_run`` only describe runs; a run left ``running`` by a dead
  process is closed by :meth:`fail_running_runs`.

Concurrency. SQLite: readers never block (WAL); writers take the write lock up front
(``BEGIN IMMEDIATE``) and wait up to 30 s for it, so ``ferry records`` beside a running sync
never fails with "database is locked". MySQL/PostgreSQL: ``READ COMMITTED``; ``claim`` uses
``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent deliverers never get the same row.
The collector assumes one writer per scheme at a time (the scheme lock); a violation is
detected (duplicate key -> ``RetriableError``), never silently merged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ferry.store import _ledger_query, _ledger_write, _rate, _state, leases
from ferry.store._errors import guarded, translate
from ferry.store._models import LedgerRow, Waiting
from ferry.store._sql import utcnow
from ferry.store._store_ledger import LedgerStore

__all__ = ["Store", "open_store"]

LOOKUP_CHUNK = 2000
ANALYZE_FIRST = 2000
"""PostgreSQL: ledger rows this process inserts before it first refreshes the statistics."""


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` (else ``$FERRY_STORE_URL``, else ``$FERRY_HOME/ferry.db``).

    With ``migrate`` (the default) the schema is brought to the newest revision first.

    Raises:
        ConfigError: The URL is invalid or unsupported.
        FatalError: The database cannot be reached or migrated (message says why).
        RetriableError: The database was busy or dropped the connection; try again.
    """
    store = Store(url)
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store


class Store(LedgerStore):
    """Ledger, cursors, schemes, runs and API calls on SQLite, MySQL/MariaDB or PostgreSQL.

    The ledger's write side (pages, hand-over, claims, releases, results, replays) is in
    ``_store_ledger``, the engine, transactions and lifecycle in ``_store_core``.

    Attributes:
        url: The store URL with any password masked (safe to log).
        dialect: ``'sqlite'``, ``'mysql'`` (MySQL or MariaDB) or ``'postgresql'``.
    """

    def __init__(self, url: str | None = None, *, checkpoints: bool = True) -> None:
        """``checkpoints=False``: this process runs no WAL checkpointer thread (see
        :mod:`ferry.store._checkpoint`) -- for a child whose parent writes the same store."""
        super().__init__(url, checkpoints=checkpoints)
        self._inserted = 0
        self._analyze_at = ANALYZE_FIRST

    # -- schemes and cursors -----------------------------------------------------------------

    @guarded("saving a scheme")
    def save_scheme(self, scheme_id: str, name: str, definition: dict[str, Any]) -> None:
        """Insert or replace a scheme (new ones are enabled; ``enabled`` is kept on update)."""
        with self._tx(write=True) as conn:
            _state.save_scheme(conn, scheme_id, name, definition, utcnow())

    @guarded("reading a scheme")
    def get_scheme(self, scheme_id: str) -> dict[str, Any] | None:
        """``{id, name, definition, enabled, created_at, updated_at}`` or ``None``."""
        with self._tx() as conn:
            return _state.get_scheme(conn, scheme_id)

    @guarded("listing schemes")
    def list_schemes(self) -> list[dict[str, Any]]:
        """Every scheme as :meth:`get_scheme` returns it, ordered by id."""
        with self._tx() as conn:
            return _state.list_schemes(conn)

    @guarded("reading which schemes are enabled")
    def scheme_flags(self) -> dict[str, bool]:
        """``{scheme_id: enabled}`` of every stored scheme, by id (without reading definitions)."""
        with self._tx() as conn:
            return _state.scheme_flags(conn)

    @guarded("enabling or disabling a scheme")
    def set_scheme_enabled(self, scheme_id: str, enabled: bool) -> bool:
        """Switch a scheme on or off; ``False`` if it does not exist."""
        with self._tx(write=True) as conn:
            return _state.set_scheme_enabled(conn, scheme_id, enabled, utcnow())

    @guarded("reading a window cursor")
    def get_cursor(self, scheme_id: str, kind: str = "main") -> datetime | None:
        """Where the next ``kind`` window starts (tz-aware UTC), or ``None`` before the first run."""
        with self._tx() as conn:
            return _state.get_cursor(conn, scheme_id, kind)

    @guarded("saving a window cursor")
    def set_cursor(self, scheme_id: str, kind: str, position: datetime) -> None:
        """Move the ``kind`` cursor (``'main'``, ``'remedy'``, ...) to ``position`` (tz-aware)."""
        with self._tx(write=True) as conn:
            _ledger_write.set_cursor(conn, scheme_id, kind, position, utcnow())

    # -- ledger: reading ---------------------------------------------------------------------

    @guarded("counting records")
    def count_by_status(self, scheme_id: str) -> dict[str, int]:
        """Rows per status; all five statuses are present (0 when none)."""
        with self._tx() as conn:
            return _ledger_query.count_by_status(conn, scheme_id)

    @guarded("counting waiting records")
    def waiting(self, scheme_id: str) -> Waiting:
        """What the scheme still has undelivered: pending, in error, dead, and since which run
        its failing rows fail (what a run summary reports after the run)."""
        with self._tx() as conn:
            return _ledger_query.waiting(conn, scheme_id)

    @guarded("searching records")
    def find_records(
        self,
        scheme_id: str | None = None,
        *,
        status: str | Sequence[str] | None = None,
        record_id: str | None = None,
        number: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[LedgerRow]:
        """Search rows, most recently updated first.

        ``record_id``/``number`` match exactly, or by prefix when they end with ``*``
        (``'SO-2024*'``), case-sensitively on every backend; a pattern that selects
        everything (blank or only wildcards, :func:`selects_everything`) is no filter.
        ``since``/``until`` bound ``updated_at`` to ``[since, until)``.
        """
        with self._tx() as conn:
            return _ledger_query.find_records(
                conn,
                scheme_id,
                status=status,
                record_id=record_id,
                number=number,
                since=since,
                until=until,
                limit=limit,
                offset=offset,
            )

    @guarded("reading a record")
    def get_record(self, scheme_id: str, record_id: str) -> LedgerRow | None:
        """One ledger row, or ``None``."""
        with self._tx() as conn:
            return _ledger_query.get_record(conn, scheme_id, record_id)

    @guarded("reading ledger states")
    def ledger_states(self, scheme_id: str, record_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``{record_id: (content_hash, status)}`` for those of ``record_ids`` in the ledger."""
        with self._tx() as conn:
            return _ledger_query.ledger_states(conn, scheme_id, record_ids)

    @guarded("reading a window's records")
    def window_states(self, scheme_id: str, start: datetime, end: datetime) -> dict[str, str]:
        """``{record_id: status}`` of the rows whose collecting window starts in ``[start, end)``."""
        with self._tx() as conn:
            return _ledger_query.window_states(conn, scheme_id, start, end)

    @guarded("reading a scheme's leases")
    def leased(self, scheme_id: str) -> bool:
        """Whether a scheduler (``ferry serve``) holds an unexpired lease on the scheme (see
        :mod:`ferry.store.leases`)."""
        with self._tx() as conn:
            return leases.holds_lease(conn, scheme_id, utcnow())

    @guarded("reserving an API call")
    def reserve_call(self, key: str, rules: Sequence[tuple[int, float]], now: float) -> float:
        """Record one API call on the rate budget ``key`` if it fits every ``(limit, seconds)``
        rule counted over every process sharing this store; else return the seconds to wait
        (nothing recorded). ``now`` is epoch seconds."""
        with self._tx(write=True) as conn:
            return _rate.reserve(conn, key, rules, now)

    @guarded("counting an API call from its end")
    def finish_call(self, key: str, started: float, ended: float) -> None:
        """The call :meth:`reserve_call` recorded on ``key`` at ``started`` ended at ``ended``
        (epoch seconds): count it from ``ended`` on."""
        with self._tx(write=True) as conn:
            _rate.finish(conn, key, started, ended)

    @guarded("recording a throttling answer")
    def penalize_calls(self, key: str, until: float) -> None:
        """Hold every call on the rate budget ``key`` until ``until`` (epoch seconds)."""
        with self._tx(write=True) as conn:
            _rate.penalize(conn, key, until)

    @guarded("reading a record's history")
    def record_history(self, scheme_id: str, record_id: str) -> list[dict[str, Any]]:
        """Every failed delivery attempt of a record, oldest first.

        Each item: ``attempt`` (1-based), ``status`` (``error`` or ``dead``), ``at``,
        ``run_id``, ``error`` and ``next_attempt_at`` (the retry time the ladder chose). The
        successful attempt, if any, is the ledger row itself (``delivered_at``, ``attempts``).
        """
        with self._tx() as conn:
            return _ledger_query.record_history(conn, scheme_id, record_id)

    def iter_lookup_rows(self, scheme_id: str) -> Iterator[dict[str, Any]]:
        """Stream every row of a scheme as ``{"id", "number", "content"}``, in id order.

        Rows come in chunks of 2,000, each read in its own short transaction, so memory
        stays flat and no long read blocks a writer or a WAL checkpoint.
        """

        def fetch(after: str | None, size: int) -> list[dict[str, Any]]:
            try:
                with self._tx() as conn:
                    return _ledger_query.lookup_chunk(conn, scheme_id, after, size)
            except sa.exc.SQLAlchemyError as exc:
                raise translate(exc, "reading lookup rows") from exc

        return _ledger_query.iter_chunks(fetch, LOOKUP_CHUNK)

    # -- runs and API calls ------------------------------------------------------------------

    @guarded("starting a run")
    def start_run(self, scheme_id: str, kind: str) -> int:
        """Record a new ``running`` run of ``kind`` (run/collect/deliver/replay); its id."""
        with self._tx(write=True) as conn:
            return _state.start_run(conn, scheme_id, kind, utcnow())

    @guarded("finishing a run")
    def finish_run(
        self,
        run_id: int,
        status: str,
        counts: dict[str, Any],
        error: str | None = None,
        windows: list[dict[str, Any]] | None = None,
        *,
        placeholders: dict[str, Any] | None = None,
    ) -> None:
        """Close a run as ``succeeded``, ``partial`` or ``failed`` with its counts.

        ``windows`` is per-window detail (JSON-able dicts; datetimes become ISO text);
        ``placeholders`` the records the run mapped and, per target field, those in which a
        placeholder found nothing (:mod:`ferry.engine.misses`).

        Raises:
            ValueError: Unknown status or run id.
        """
        with self._tx(write=True) as conn:
            _state.finish_run(conn, run_id, status, counts, error, windows, utcnow(), placeholders)

    @guarded("closing interrupted runs")
    def fail_running_runs(self, scheme_id: str, error: str = "interrupted: the process stopped") -> int:
        """Mark the scheme's runs still ``running`` as ``failed``; call before a new run starts."""
        with self._tx(write=True) as conn:
            return _state.fail_running_runs(conn, scheme_id, error, utcnow())

    @guarded("listing runs")
    def list_runs(self, scheme_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Most recent runs first, each as :meth:`get_run` returns it."""
        with self._tx() as conn:
            return _state.list_runs(conn, scheme_id, limit)

    @guarded("reading a run")
    def get_run(self, run_id: int) -> dict[str, Any] | None:
        """``{id, scheme_id, kind, status, started_at, finished_at, counts, error, windows,
        placeholders}`` (``placeholders``: ``None`` or ``{"mapped": n, "missing": {field: n}}``)."""
        with self._tx() as conn:
            return _state.get_run(conn, run_id)

    @guarded("writing a run's log")
    def add_run_event(self, run_id: int, level: str, message: str, at: datetime | None = None) -> None:
        """Append one line to the run's log, at ``at`` (tz-aware; default now). The caller
        redacts and bounds ``message`` (:class:`ferry.engine.events.RunLog` does)."""
        with self._tx(write=True) as conn:
            _state.add_run_event(conn, run_id, level, message, at or utcnow())

    @guarded("reading a run's log")
    def list_run_events(
        self, run_id: int, *, offset: int = 0, limit: int | None = 100, levels: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """One page of the run's log (``limit=None``: all of it): ``{id, at, level, message}``
        oldest first (``at`` tz-aware UTC); only lines of ``levels`` (``info``, ``warning``,
        ``error``) when given."""
        with self._tx() as conn:
            return _state.list_run_events(conn, run_id, offset, limit, levels)

    @guarded("counting a run's log")
    def count_run_events(self, run_id: int, *, levels: Sequence[str] | None = None) -> int:
        """How many log lines (of ``levels``, when given) the run wrote, for paging
        :meth:`list_run_events`."""
        with self._tx() as conn:
            return _state.count_run_events(conn, run_id, levels)

    @guarded("logging API calls")
    def log_api_calls(self, calls: Sequence[dict[str, Any]]) -> None:
        """Store API call records (one ``executemany``).

        Keys: ``connection`` and ``api`` (required), ``run_id``, ``scheme_id``,
        ``started_at`` (tz-aware; default now), ``duration_ms``, ``status`` (``ok``/``error``/
        ``throttled``; default from whether an error is given), ``error_code``, ``error_message``,
        ``records`` (default 0).
        """
        with self._tx(write=True) as conn:
            _state.log_api_calls(conn, calls, utcnow())

    @guarded("listing API calls")
    def list_api_calls(self, scheme_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Most recent API calls first, as dicts of the ``api_calls`` columns."""
        with self._tx() as conn:
            return _state.list_api_calls(conn, scheme_id, limit)
