"""The :class:`Store`: Ferry's durable state behind one small API.

Crash safety (docs/architecture.md §2, invariant 3). Every public method is exactly one database
transaction, so a SIGKILL between (or inside) any two calls leaves each call either fully
applied or not at all. The sequence the engine follows stays consistent at every cut:

- ``upsert_records(page, cursor=...)``: a page and the cursor that moves past it commit
  together. Killed before the commit: neither is saved, the next run re-reads the page
  (harmless: upserts are keyed by ``(scheme_id, record_id)``). Never a cursor past an
  uncommitted page.
- ``claim`` commits rows as ``queued`` before anything is sent. Killed after the claim: the
  rows stay ``queued``; the next run calls :meth:`recover_queued` first (one deliverer per
  scheme) and they are delivered again — the target write is idempotent (docs/architecture.md §2,
  invariant 2), so "at least once" never becomes "twice in effect".
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

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ferry._redact import remember_secrets
from ferry.store import _ledger_deliver, _ledger_query, _ledger_write, _migrate, _rate, _state
from ferry.store._checkpoint import Checkpointer
from ferry.store._engine import BUSY_TIMEOUT_MS, WRITE_OPTION, create_store_engine, dialect_of, resolve_url
from ferry.store._errors import guarded, translate
from ferry.store._hot import hot_for
from ferry.store._ledger_write import Claimed
from ferry.store._models import LedgerRow, RecordResult, Replayed, UpsertResult, Waiting
from ferry.store._sql import utcnow
from ferry.store._write_lock import writer_lock

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


class Store:
    """Ledger, cursors, schemes, runs and API calls on SQLite, MySQL/MariaDB or PostgreSQL.

    Attributes:
        url: The store URL with any password masked (safe to log).
        dialect: ``'sqlite'``, ``'mysql'`` (MySQL or MariaDB) or ``'postgresql'``.
    """

    def __init__(self, url: str | None = None, *, checkpoints: bool = True) -> None:
        """``checkpoints=False``: this process runs no WAL checkpointer thread (see
        :mod:`ferry.store._checkpoint`) -- for a child whose parent writes the same store."""
        parsed = resolve_url(url)
        remember_secrets([parsed.password or ""])  # masked wherever a message quotes it
        self.url: str = parsed.render_as_string(hide_password=True)
        self.dialect: str = dialect_of(parsed)
        self._engine = create_store_engine(parsed)
        self._writer = (
            writer_lock(parsed.database, BUSY_TIMEOUT_MS / 1000) if self.dialect == "sqlite" else None
        )
        self._checkpointer = (
            Checkpointer(parsed.database, self._writer, BUSY_TIMEOUT_MS / 1000)
            if self._writer is not None and parsed.database and checkpoints
            else None
        )
        self._hot = hot_for(self.dialect)
        self._inserted = 0
        self._analyze_at = ANALYZE_FIRST

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release every pooled connection. The store cannot be used afterwards."""
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._engine.dispose()
        if self._writer is not None:
            self._writer.close()

    @property
    def shared_across_processes(self) -> bool:
        """Whether another process (a forked deliver child) can open this same store: every
        database but an in-memory SQLite one."""
        if self.dialect != "sqlite":
            return True
        database = self._engine.url.database or ""
        return database not in ("", ":memory:") and "mode=memory" not in self.url

    def reopen(self, *, checkpoints: bool = True) -> Store:
        """A new store on the same database, for use in a forked child process.

        The child must not touch the parent's pooled connections (SQLite and the drivers are
        not fork-safe); this drops them from the child's view without closing them.
        ``checkpoints``: as for :class:`Store`.
        """
        self._engine.dispose(close=False)
        return Store(self._engine.url.render_as_string(hide_password=False), checkpoints=checkpoints)

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[sa.Connection]:
        """One transaction: committed on normal exit, rolled back on any exception. On SQLite
        a writer first takes its turn on the store's :class:`~ferry.store._write_lock.WriterLock`."""
        turn = self._writer.held() if write and self._writer is not None else nullcontext()
        with self._engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE_OPTION: True})
            with turn, conn.begin():
                yield conn
        if write and self._checkpointer is not None:
            self._checkpointer.wrote()

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[sa.Connection]:
        """One transaction for modules that keep their own tables (leases, alerts, users).

        Committed on normal exit, rolled back on any exception; database errors leave as
        Ferry errors (:class:`~ferry.errors.RetriableError` when busy or disconnected).
        """
        try:
            with self._tx(write=write) as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc, "using the store") from exc

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (``alembic upgrade head``); idempotent.

        Safe to call from several processes at once (see :mod:`ferry.store._migrate`).

        Raises:
            FatalError: A migration failed or the database cannot be reached.
        """
        try:
            if self._engine.dialect.name in ("mysql", "mariadb"):
                with self._engine.connect() as lock_conn, _migrate.mysql_lock(lock_conn):
                    self._upgrade()
            else:
                self._upgrade()
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc, f"migrating {self.url}") from exc

    def _upgrade(self) -> None:
        with self._tx(write=True) as conn:
            _migrate.upgrade(conn)

    @guarded("reading the schema revision")
    def current_revision(self) -> str | None:
        """The schema revision the database is at, or ``None`` if it was never migrated."""
        with self._tx() as conn:
            return _migrate.current_revision(conn)

    @staticmethod
    def head_revision() -> str:
        """The newest schema revision this version of Ferry knows."""
        return _migrate.head_revision()

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

    # -- ledger: collector -------------------------------------------------------------------

    @guarded("upserting records")
    def upsert_records(
        self,
        scheme_id: str,
        records: Sequence[tuple[str, str | None, dict[str, Any]]],
        *,
        id_check: bool = True,
        on_change: str = "skip",
        window: tuple[datetime, datetime] | None = None,
        run_id: int | None = None,
        cursor: tuple[str, datetime] | None = None,
        dead_letters: Sequence[RecordResult] = (),
        calls: Sequence[dict[str, Any]] = (),
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
        )
        return result

    @guarded("upserting and claiming records")
    def claim_records(
        self,
        scheme_id: str,
        records: Sequence[tuple[str, str | None, dict[str, Any]]],
        *,
        id_check: bool = True,
        on_change: str = "skip",
        window: tuple[datetime, datetime] | None = None,
        run_id: int | None = None,
        cursor: tuple[str, datetime] | None = None,
        dead_letters: Sequence[RecordResult] = (),
        calls: Sequence[dict[str, Any]] = (),
    ) -> tuple[UpsertResult, list[Claimed]]:
        """:meth:`upsert_records`, but new ids are inserted ``queued`` (claimed at commit) and
        returned as ``(record_id, number, stored content text, content hash, SQLite rowid or
        None)``, for a deliverer that is handed them directly. The caller must deliver them or
        release them; a crash leaves them to :meth:`recover_queued`. Dead-lettered ids are
        never claimed.
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
        )

    def _upsert(
        self,
        scheme_id: str,
        records: Sequence[tuple[str, str | None, dict[str, Any]]],
        id_check: bool,
        on_change: str,
        window: tuple[datetime, datetime] | None,
        run_id: int | None,
        cursor: tuple[str, datetime] | None,
        dead_letters: Sequence[RecordResult],
        calls: Sequence[dict[str, Any]],
        *,
        claim_new: bool,
    ) -> tuple[UpsertResult, list[Claimed]]:
        now = utcnow()
        latest = _ledger_write.encode_page(records)  # outside the write turn
        dead = frozenset(letter.record_id for letter in dead_letters)
        with self._tx(write=True) as conn:
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
            )
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

    @guarded("recording delivery results")
    def record_results(
        self,
        scheme_id: str,
        results: Sequence[RecordResult],
        rowids: Mapping[str, int] | None = None,
        calls: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Apply delivery results in one transaction.

        ``rowids``: SQLite row ids of the records, when known (:meth:`claim_records` returns
        them), so the rows are updated without an id lookup each; other records (and other
        databases) are found by id.

        Each row: ``attempts += 1``; ``status`` as given; ``target_response`` = the response
        (``str`` as is, else JSON; 64 KB at most; ``NULL`` when ``None``); ``last_error``
        replaced when an error is given, kept otherwise; ``delivered_at`` = now on
        ``finished``; ``next_attempt_at`` = the retry time on ``error`` (now when ``None``),
        ``NULL`` otherwise; ``run_id`` set when given. A row flagged ``requeue`` (its content
        changed while in flight) goes back to ``pending`` with ``attempts = 0`` instead.
        Duplicate record ids: the last result wins. ``calls`` (the batch's API call records,
        see :meth:`log_api_calls`) are stored in the same transaction.

        Raises:
            ValueError: A status is not ``finished``/``error``/``dead``, or a time is naive.
        """
        now = utcnow()
        plan = _ledger_deliver.plan_results(self._hot, scheme_id, results, now, rowids)  # before the turn
        with self._tx(write=True) as conn:
            _ledger_deliver.apply_results(conn, scheme_id, plan, now)
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
        flight) are never replayed, nor the dead letters collection made (a record without an
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

    # -- ledger: reading ---------------------------------------------------------------------

    @guarded("counting records")
    def count_by_status(self, scheme_id: str) -> dict[str, int]:
        """Rows per status; all five statuses are present (0 when none)."""
        with self._tx() as conn:
            return _ledger_query.count_by_status(conn, scheme_id)

    @guarded("counting waiting records")
    @guarded("counting the ledger rows of windows")
    def window_totals(
        self, scheme_id: str, spans: Sequence[tuple[datetime, datetime]]
    ) -> list[tuple[int, int]]:
        """Per span ``[start, end)``: the ledger rows collected in it and how many of those are
        ``finished``. One grouped scan of the scheme's rows (the ledger has no index on the window)."""
        if not spans:
            return []
        from ferry.store._schema import ledger

        c = ledger.c
        query = (
            sa.select(c.window_start, c.status, sa.func.count())
            .where(
                c.scheme_id == scheme_id,
                c.window_start >= min(start for start, _ in spans),
                c.window_start < max(end for _, end in spans),
            )
            .group_by(c.window_start, c.status)
        )
        with self._tx() as conn:
            groups = conn.execute(query).all()
        totals = []
        for start, end in spans:
            inside = [(status, n) for at, status, n in groups if at is not None and start <= at < end]
            totals.append((sum(n for _, n in inside), sum(n for status, n in inside if status == "finished")))
        return totals

    @guarded("reading the scheme's lease")
    def leased(self, scheme_id: str) -> bool:
        """Whether a scheduler (``ferry serve``) holds an unexpired lease on the scheme."""
        from ferry.store._schema import scheme_leases

        c = scheme_leases.c
        with self._tx() as conn:
            held = conn.execute(
                sa.select(c.owner).where(c.scheme_id == scheme_id, c.expires_at > utcnow()).limit(1)
            ).first()
        return held is not None

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
    ) -> None:
        """Close a run as ``succeeded``, ``partial`` or ``failed`` with its counts.

        ``windows`` is per-window detail (JSON-able dicts; datetimes become ISO text).

        Raises:
            ValueError: Unknown status or run id.
        """
        with self._tx(write=True) as conn:
            _state.finish_run(conn, run_id, status, counts, error, windows, utcnow())

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
        """``{id, scheme_id, kind, status, started_at, finished_at, counts, error, windows}``."""
        with self._tx() as conn:
            return _state.get_run(conn, run_id)

    @guarded("reading a run's log")
    def list_run_events(
        self, run_id: int, *, offset: int = 0, limit: int = 100, levels: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """One page of the run's log: ``{id, at, level, message}`` oldest first (``at`` tz-aware
        UTC); only lines of ``levels`` (``info``, ``warning``, ``error``) when given."""
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
