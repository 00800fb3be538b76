"""The collector's side of the ledger: upserting a page of records (and its cursor) at once.

One page costs a handful of statements whatever its size: one ``SELECT`` of the known
``(record_id, content_hash, status)`` per 900 ids, one ``executemany`` ``INSERT`` for the new
ids, one ``executemany`` ``UPDATE`` for the ids to deliver again (on MySQL both in one
multi-row ``INSERT ... ON DUPLICATE KEY UPDATE``), and one cursor upsert. The SQL text lives
in :mod:`ferry.store._hot`.

Rows being delivered (``queued``) are never taken from the deliverer: if their content
changes, the new content is stored and the row is flagged ``requeue``; when the in-flight
result arrives the row goes back to ``pending`` instead of ``finished``/``error``, so the
update is delivered too. The ``UPDATE`` decides this from the row's status *at write time*
(``CASE WHEN status = 'queued'``), so a claim racing the upsert cannot lose the change.
MySQL evaluates ``SET`` assignments left to right, seeing earlier ones; the ``status``
assignment is therefore last, and ``requeue`` reads ``content_hash`` before it is replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ferry.errors import RecordError, RetriableError
from ferry.store._hot import hot_sql
from ferry.store._models import UpsertResult
from ferry.store._schema import ID_LENGTH, window_cursors
from ferry.store._sql import aware, chunks, upsert
from ferry.store.codec import encode_content

__all__ = ["ON_CHANGE", "Claimed", "Encoded", "encode_page", "set_cursor", "upsert_and_claim"]

ON_CHANGE = ("skip", "redeliver")

Claimed = tuple[str, str | None, str, str, int | None]
"""A row inserted straight as ``queued``: (record id, number, content JSON text, content hash,
SQLite rowid -- ``None`` on other databases)."""


def _check_ids(record_id: Any, number: Any) -> None:
    if not isinstance(record_id, str) or not record_id:
        raise RecordError(f"record id must be a non-empty string (got {record_id!r:.80})")
    if len(record_id) > ID_LENGTH:
        raise RecordError(
            f"record id is {len(record_id)} characters long; the ledger keeps at most {ID_LENGTH}",
            record_id=record_id[:40] + "…",
        )
    if number is not None and (not isinstance(number, str) or len(number) > ID_LENGTH):
        raise RecordError(
            f"record number must be a string of at most {ID_LENGTH} characters (got {number!r:.80})",
            record_id=record_id,
        )


Encoded = dict[str, tuple[str | None, str, str]]
"""A page ready to store: record id -> (number, content JSON text, content hash)."""


def encode_page(records: Sequence[tuple[str, str | None, dict[str, Any]]]) -> Encoded:
    """Check and encode a page's records (duplicate ids: the last one wins), before the
    write transaction starts: on SQLite the write turn is the scarce resource, so nothing
    that needs no database runs while it is held.

    Raises:
        RecordError: an id or number is invalid, or content has no JSON form.
    """
    latest: Encoded = {}
    for record_id, number, content in records:
        _check_ids(record_id, number)
        try:
            text, digest = encode_content(content)
        except TypeError as exc:
            raise RecordError(f"content cannot be stored as JSON: {exc}", record_id=record_id) from exc
        latest[record_id] = (number, text, digest)
    return latest


def upsert_and_claim(
    conn: sa.Connection,
    scheme_id: str,
    latest: Encoded,
    *,
    id_check: bool,
    on_change: str,
    window: tuple[datetime, datetime] | None,
    run_id: int | None,
    cursor: tuple[str, datetime] | None,
    now: datetime,
    claim_new: bool,
    dead: frozenset[str] = frozenset(),
    held: frozenset[str] = frozenset(),
    held_due: list[str] | None = None,
) -> tuple[UpsertResult, list[Claimed]]:
    """Store a page :func:`encode_page` prepared, optionally claiming the new rows in the
    same statement (see :meth:`Store.upsert_records` for the rules). The ids in ``dead`` (the
    page's dead letters) are stored but not counted in the result.

    With ``claim_new`` every *new* id is inserted ``queued`` (as if a deliverer had claimed it
    the instant it was committed) and returned with its stored JSON text and hash, for a
    deliverer in the same run to take over without reading it back. Known ids are never
    claimed: they follow the ``pending``/``requeue`` rules of :meth:`Store.upsert_records`.
    A claimed row left ``queued`` by a crash goes back to ``pending`` on the next run's
    recovery, exactly like a row claimed by :func:`~ferry.store._ledger_deliver.claim`.

    ``held``: ids a source quality rule holds. Those inserted or set back to ``pending`` here
    are appended to ``held_due`` (for the caller to quarantine in the same transaction) and
    never claimed; a held id that is not to be delivered again (unchanged, or in flight) is
    left as it is.
    """
    if on_change not in ON_CHANGE:
        raise ValueError(f"on_change must be one of {', '.join(ON_CHANGE)} (got {on_change!r})")
    window_start, window_end = window if window is not None else (None, None)
    aware(window_start, "window[0]")
    aware(window_end, "window[1]")
    if cursor is not None:
        aware(cursor[1], "cursor[1]")

    hot = hot_sql(conn)
    known: dict[str, tuple[str, str]] = {}
    for part in chunks(list(latest)):
        found = conn.exec_driver_sql(hot.select_known(len(part)), (scheme_id, *hot.id_params(part)))
        for rid, digest, status in found.cursor.fetchall():
            known[rid] = (digest, status)
        found.close()

    at, ws, we = hot.to_db(now), hot.to_db(window_start), hot.to_db(window_end)
    merged = hot.dialect == "mysql"  # see Hot.insert_or_redeliver
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    claimed: list[Claimed] = []
    new_status = "queued" if claim_new else "pending"
    # SQLite: the values every new row of the page shares are literals of the statement, so
    # only five are bound per row (measured: -1 us of ~9.5 us per row, under the write turn).
    page_sql = hot.insert_page(new_status, at, ws, we, run_id)
    changed = unchanged = dead_new = 0
    for rid, (number, text, digest) in latest.items():
        old = known.get(rid)
        counted = rid not in dead
        if old is None:
            dead_new += not counted
            _note_held(held, held_due, rid, in_flight=False)
            if page_sql is not None:
                inserts.append((scheme_id, rid, number, text, digest))
            else:  # the order of _hot.INSERT_FIELDS
                inserts.append(
                    (scheme_id, rid, number, text, digest, new_status, 0, False, at, ws, we, run_id, at, at)
                )
            if claim_new:
                claimed.append((rid, number, text, digest, None))
            continue
        old_digest, old_status = old
        differs = old_digest != digest
        if differs:
            changed += counted
        else:
            unchanged += counted
        # QEasy idCheck=false: deliver again every time it is fetched (but a row in flight
        # with this very content is already being delivered); idCheck=true: only on change.
        in_flight_same = old_status == "queued" and not differs
        if (not id_check and not in_flight_same) or (differs and on_change == "redeliver"):
            _note_held(held, held_due, rid, in_flight=old_status == "queued")
            if merged:
                updates.append(
                    (scheme_id, rid, number, text, digest, "pending", 0, False, at, ws, we, run_id, at, at)
                )
            else:
                updates.append((digest, at, number, text, digest, ws, we, run_id, at, scheme_id, rid))

    if merged and updates:
        conn.exec_driver_sql(hot.insert_or_redeliver, inserts + updates)
    elif inserts:
        try:
            conn.exec_driver_sql(page_sql or hot.insert, inserts)
        except sa.exc.IntegrityError as exc:
            raise RetriableError(
                f"store: another process inserted records of scheme {scheme_id!r} at the same time; "
                "the page was rolled back, retry it (only one collector per scheme should run)"
            ) from exc
        if claimed and hot.dialect == "sqlite":
            claimed = _with_rowids(conn, scheme_id, claimed)
    if updates and not merged:
        conn.exec_driver_sql(hot.redeliver, updates)
    if cursor is not None:
        set_cursor(conn, scheme_id, cursor[0], cursor[1], now)
    claimed, held_ids = _without_held(claimed, held, held_due)
    result = UpsertResult(
        new=len(inserts) - dead_new,
        changed=changed,
        unchanged=unchanged,
        redelivered=len(updates),
        quarantined=len(held_ids),
        held=held_ids,
    )
    return result, claimed


def _note_held(held: frozenset[str], held_due: list[str] | None, rid: str, *, in_flight: bool) -> None:
    """Note ``rid`` as to be quarantined when a rule holds it and it is to be delivered (not
    in flight: a ``queued`` row's result would overwrite the hold)."""
    if rid in held and held_due is not None and not in_flight:
        held_due.append(rid)


def _without_held(
    claimed: list[Claimed], held: frozenset[str], held_due: list[str] | None
) -> tuple[list[Claimed], tuple[str, ...]]:
    """The claimed rows less the held ones, and the ids of the rows to be quarantined."""
    if not held_due:
        return claimed, ()
    return [row for row in claimed if row[0] not in held], tuple(held_due)


def _with_rowids(conn: sa.Connection, scheme_id: str, claimed: list[Claimed]) -> list[Claimed]:
    """The claimed rows with their SQLite rowids (for :func:`record_results` to update them
    by rowid). One ``executemany`` inserted them in order into a table nothing deletes from,
    so they got consecutive rowids ending at ``last_insert_rowid()``; the first one is checked,
    and on any doubt the rows are returned without rowids (then found by id)."""
    last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar()
    first_id = claimed[0][0]
    found = conn.exec_driver_sql(
        "SELECT rowid FROM ledger WHERE scheme_id = ? AND record_id = ?", (scheme_id, first_id)
    ).scalar()
    if not isinstance(last, int) or found != last - len(claimed) + 1:
        return claimed
    return [
        (rid, number, text, digest, found + i) for i, (rid, number, text, digest, _) in enumerate(claimed)
    ]


def set_cursor(conn: sa.Connection, scheme_id: str, kind: str, position: datetime, now: datetime) -> None:
    """Upsert the ``(scheme_id, kind)`` window cursor inside the caller's transaction."""
    aware(position, "position")
    if not kind or len(kind) > 32:
        raise ValueError(f"cursor kind must be 1-32 characters (got {kind!r})")
    values = {"scheme_id": scheme_id, "kind": kind, "position": position, "updated_at": now}
    upsert(conn, window_cursors, values, update=["position", "updated_at"])
