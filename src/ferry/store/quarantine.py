"""Quarantine: ledger rows a data-quality rule holds, and what operators do with them.

A rule with ``action: quarantine`` (:mod:`ferry.transform.quality`), a value map's
``quarantine`` policy or a drift policy holds a record: its ledger row gets status
``quarantined`` and ``last_error`` ``quarantined by <rule>: <path> = <value>: <reason>``, and
a ``quarantine_holds`` row keeps the rule, the side, the path, the value and the run. A
quarantined row is outside the retry ladder: no claim takes it and no replay selects it.
Only an operator moves it on, through these functions (the CLI's ``ferry quarantine`` and the
console call the same ones)::

    from ferry.store import quarantine
    held = quarantine.list_held(store, scheme_id="orders", rule="qty-positive")
    quarantine.release(store, "orders", ["1001"], who="alice")              # deliver as is
    quarantine.edit(store, "orders", "1002", {"qty": 3, ...}, who="alice")   # fix, then release
    quarantine.drop(store, "orders", ["1003"], who="alice", reason="test order")
    quarantine.audit_log(store, scheme_id="orders")                          # who did what, when

- **release**: the row goes back to ``pending`` (``attempts`` 0, due now); the next deliver
  takes it. The hold is marked ``released`` with the content hash released: the rules let
  that very content pass (deliver *as is*), while changed content is judged again.
- **edit**: the content is replaced (hash recomputed), then released the same way.
- **drop**: the row becomes ``dropped`` (final; ``last_error`` says who dropped it and why),
  counted by :func:`counts`, never deleted.

Every operation writes one ``quarantine_audit`` row per record, in the same transaction: who,
when, the operation, the status and content before and after, the rule and the reason.
Operations on a record that is not ``quarantined`` are refused (:class:`NotQuarantined`), so
two operators cannot release and drop the same record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ferry._text import clip
from ferry.errors import FerryError
from ferry.store._models import Hold
from ferry.store._schema import ledger, quarantine_audit, quarantine_holds
from ferry.store._sql import chunks, upsert, utcnow
from ferry.store.codec import encode_content, loads

if TYPE_CHECKING:
    from ferry.store import Store

__all__ = [
    "DROPPED",
    "HELD",
    "OPERATIONS",
    "QUARANTINED",
    "RELEASED",
    "AuditEntry",
    "HeldRecord",
    "NotQuarantined",
    "audit_log",
    "counts",
    "drop",
    "edit",
    "get_held",
    "list_held",
    "release",
    "waived_ids",
]

QUARANTINED, DROPPED = "quarantined", "dropped"
"""The ledger statuses of a held record and of a record an operator dropped."""
HELD, RELEASED = "held", "released"
"""States of a hold (beside ``dropped``)."""
OPERATIONS = ("release", "edit", "drop")
VALUE_LIMIT = 4000
"""Characters of a held value kept (as JSON text)."""

H, L, A = quarantine_holds, ledger, quarantine_audit


class NotQuarantined(FerryError):
    """An operation named a record that is not quarantined (unknown, or already released or
    dropped). ``record_ids`` lists them; nothing was changed."""

    def __init__(self, scheme_id: str, record_ids: Sequence[str], statuses: Mapping[str, str]) -> None:
        self.scheme_id = scheme_id
        self.record_ids = list(record_ids)
        shown = ", ".join(f"{rid} ({statuses.get(rid, 'not in the ledger')})" for rid in self.record_ids[:10])
        more = f" and {len(self.record_ids) - 10} more" if len(self.record_ids) > 10 else ""
        super().__init__(
            f"scheme {scheme_id}: not quarantined: {shown}{more}; nothing was changed\n"
            f"  hint: ferry quarantine list --scheme {scheme_id}"
        )


@dataclass(frozen=True)
class HeldRecord:
    """A quarantined (or dropped) ledger row with why it is held."""

    scheme_id: str
    record_id: str
    number: str | None
    status: str
    rule: str | None
    side: str | None
    path: str | None
    value: Any
    reason: str | None
    run_id: int | None
    held_at: datetime | None
    content: dict[str, Any]
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as ISO text)."""
        out = dict(self.__dict__)
        out["held_at"] = self.held_at.isoformat() if self.held_at else None
        return out


@dataclass(frozen=True)
class AuditEntry:
    """One operator action on one quarantined record."""

    id: int
    scheme_id: str
    record_id: str
    operation: str
    who: str
    at: datetime
    status_before: str | None
    status_after: str | None
    content_before: dict[str, Any] | None
    content_after: dict[str, Any] | None
    rule: str | None
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as ISO text)."""
        out = dict(self.__dict__)
        out["at"] = self.at.isoformat()
        return out


# -- used by the store's own writes (collect and deliver) ----------------------------------------


def _value_text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return clip(text, VALUE_LIMIT)


def hold_rows(
    conn: sa.Connection,
    scheme_id: str,
    holds: Mapping[str, Hold],
    record_ids: Sequence[str],
    run_id: int | None,
    now: datetime,
    *,
    set_status: bool = True,
) -> None:
    """Mark ``record_ids`` quarantined (unless ``set_status`` is false: the delivery results
    did) and keep each one's hold, inside the caller's transaction."""
    for rid in record_ids:
        hold = holds[rid]
        if set_status:
            conn.execute(
                sa.update(L)
                .where(L.c.scheme_id == scheme_id, L.c.record_id == rid)
                .values(
                    status=QUARANTINED,
                    last_error=hold.message(),
                    next_attempt_at=None,
                    run_id=run_id if run_id is not None else L.c.run_id,
                    updated_at=now,
                )
            )
        values = {
            "scheme_id": scheme_id,
            "record_id": rid,
            "rule": clip(hold.rule, 191),
            "side": hold.side,
            "path": clip(hold.path, 255),
            "value": _value_text(hold.value),
            "reason": clip(hold.reason, VALUE_LIMIT),
            "run_id": run_id,
            "held_at": now,
            "state": HELD,
            "content_hash": None,
        }
        upsert(conn, H, values, update=[k for k in values if k not in ("scheme_id", "record_id")])


def waived(conn: sa.Connection, scheme_id: str, digests: Mapping[str, str]) -> set[str]:
    """Of ``digests`` (record id -> content hash), the ids an operator released with exactly
    that content: the rules let it pass (release means deliver as is)."""
    found: set[str] = set()
    for part in chunks(list(digests)):
        rows = conn.execute(
            sa.select(H.c.record_id, H.c.content_hash).where(
                H.c.scheme_id == scheme_id, H.c.record_id.in_(part), H.c.state == RELEASED
            )
        )
        found.update(rid for rid, digest in rows if digest is not None and digests.get(rid) == digest)
    return found


def waived_ids(store: Store, scheme_id: str, digests: Mapping[str, str]) -> set[str]:
    """:func:`waived` in its own read transaction (for a deliverer judging claimed rows)."""
    if not digests:
        return set()
    with store.transaction() as conn:
        return waived(conn, scheme_id, digests)


# -- reading -----------------------------------------------------------------------------------


_COLUMNS = (
    L.c.scheme_id,
    L.c.record_id,
    L.c.number,
    L.c.status,
    H.c.rule,
    H.c.side,
    H.c.path,
    H.c.value,
    H.c.reason,
    H.c.run_id,
    H.c.held_at,
    L.c.content,
    L.c.last_error,
)


def _held(row: Sequence[Any]) -> HeldRecord:
    values = list(row)
    values[7] = loads(values[7]) if values[7] is not None else None
    values[11] = loads(values[11])
    return HeldRecord(*values)


def _joined() -> Any:
    return L.outerjoin(H, sa.and_(H.c.scheme_id == L.c.scheme_id, H.c.record_id == L.c.record_id))


def list_held(
    store: Store,
    *,
    scheme_id: str | None = None,
    rule: str | None = None,
    status: str = QUARANTINED,
    limit: int = 100,
    offset: int = 0,
) -> list[HeldRecord]:
    """Quarantined rows (or ``status="dropped"``), the most recently held first; filtered by
    scheme and by the rule that holds them."""
    stmt = sa.select(*_COLUMNS).select_from(_joined()).where(L.c.status == status)
    if scheme_id is not None:
        stmt = stmt.where(L.c.scheme_id == scheme_id)
    if rule is not None:
        stmt = stmt.where(H.c.rule == rule)
    stmt = stmt.order_by(L.c.updated_at.desc(), L.c.record_id).limit(limit).offset(offset)
    with store.transaction() as conn:
        return [_held(row) for row in conn.execute(stmt)]


def get_held(store: Store, scheme_id: str, record_id: str) -> HeldRecord | None:
    """One ledger row with its hold (any status; the hold's fields are ``None`` without one)."""
    stmt = sa.select(*_COLUMNS).select_from(_joined())
    stmt = stmt.where(L.c.scheme_id == scheme_id, L.c.record_id == record_id)
    with store.transaction() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else _held(row)


def counts(store: Store, *, scheme_id: str | None = None) -> dict[tuple[str, str, str], int]:
    """``{(scheme_id, rule, status): rows}`` of the quarantined and dropped rows."""
    stmt = (
        sa.select(L.c.scheme_id, sa.func.coalesce(H.c.rule, ""), L.c.status, sa.func.count())
        .select_from(_joined())
        .where(L.c.status.in_((QUARANTINED, DROPPED)))
        .group_by(L.c.scheme_id, H.c.rule, L.c.status)
    )
    if scheme_id is not None:
        stmt = stmt.where(L.c.scheme_id == scheme_id)
    with store.transaction() as conn:
        return {(sid, rule, status): int(n) for sid, rule, status, n in conn.execute(stmt)}


def audit_log(
    store: Store, *, scheme_id: str | None = None, record_id: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The newest audit rows first."""
    stmt = sa.select(A).order_by(A.c.id.desc()).limit(limit)
    if scheme_id is not None:
        stmt = stmt.where(A.c.scheme_id == scheme_id)
    if record_id is not None:
        stmt = stmt.where(A.c.record_id == record_id)
    with store.transaction() as conn:
        rows = conn.execute(stmt).mappings().all()
    out = []
    for row in rows:
        values = dict(row)
        for key in ("content_before", "content_after"):
            values[key] = loads(values[key]) if values[key] is not None else None
        out.append(AuditEntry(**values))
    return out


# -- operations --------------------------------------------------------------------------------


def _current(
    conn: sa.Connection, scheme_id: str, record_ids: Sequence[str]
) -> dict[str, tuple[str, str, str | None]]:
    """``{record_id: (status, content text, rule)}``, the rows locked for the operation."""
    found: dict[str, tuple[str, str, str | None]] = {}
    for part in chunks(list(record_ids)):
        stmt = (
            sa.select(L.c.record_id, L.c.status, L.c.content, H.c.rule)
            .select_from(_joined())
            .where(L.c.scheme_id == scheme_id, L.c.record_id.in_(part))
        )
        if conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update(of=L)
        found.update({rid: (status, content, rule) for rid, status, content, rule in conn.execute(stmt)})
    return found


def _require_held(
    scheme_id: str, record_ids: Sequence[str], current: Mapping[str, tuple[str, str, str | None]]
) -> None:
    wrong = [rid for rid in record_ids if current.get(rid, ("",))[0] != QUARANTINED]
    if wrong:
        raise NotQuarantined(scheme_id, wrong, {rid: current[rid][0] for rid in wrong if rid in current})


def _audit(
    conn: sa.Connection, scheme_id: str, rid: str, operation: str, who: str, now: datetime, **values: Any
) -> None:
    conn.execute(
        sa.insert(A).values(
            scheme_id=scheme_id, record_id=rid, operation=operation, who=who[:191], at=now, **values
        )
    )


def _release_rows(conn: sa.Connection, scheme_id: str, rid: str, digest: str | None, now: datetime) -> None:
    conn.execute(
        sa.update(L)
        .where(L.c.scheme_id == scheme_id, L.c.record_id == rid)
        .values(status="pending", attempts=0, requeue=False, next_attempt_at=now, updated_at=now)
    )
    if digest is None:
        digest = conn.execute(
            sa.select(L.c.content_hash).where(L.c.scheme_id == scheme_id, L.c.record_id == rid)
        ).scalar_one()
    conn.execute(
        sa.update(H)
        .where(H.c.scheme_id == scheme_id, H.c.record_id == rid)
        .values(state=RELEASED, content_hash=digest)
    )


def _who(who: str) -> str:
    if not who or not who.strip():
        raise ValueError("who must name the operator (the OS user, or --user)")
    return who.strip()


def release(
    store: Store, scheme_id: str, record_ids: Sequence[str], *, who: str, reason: str | None = None
) -> int:
    """Send quarantined rows back to ``pending`` to be delivered as they are; audited. Returns
    how many were released.

    Raises:
        NotQuarantined: One of ``record_ids`` is not quarantined (nothing is changed).
        ValueError: ``who`` is empty.
    """
    who, ids = _who(who), list(dict.fromkeys(record_ids))
    now = utcnow()
    with store.transaction(write=True) as conn:
        current = _current(conn, scheme_id, ids)
        _require_held(scheme_id, ids, current)
        for rid in ids:
            _release_rows(conn, scheme_id, rid, None, now)
            status, _, rule = current[rid]
            _audit(
                conn,
                scheme_id,
                rid,
                "release",
                who,
                now,
                status_before=status,
                status_after="pending",
                rule=rule,
                reason=reason,
            )
    return len(ids)


def edit(
    store: Store,
    scheme_id: str,
    record_id: str,
    content: Mapping[str, Any],
    *,
    who: str,
    reason: str | None = None,
) -> None:
    """Replace a quarantined row's content, then release it (deliver the edited content as
    it is); audited with the content before and after.

    Raises:
        NotQuarantined: The record is not quarantined (nothing is changed).
        ValueError: ``who`` is empty, or ``content`` is not an object with a JSON form.
    """
    who = _who(who)
    if not isinstance(content, Mapping):
        raise ValueError(f"record {record_id}: the edited content must be a JSON object")
    try:
        text, digest = encode_content(dict(content))
    except TypeError as exc:
        raise ValueError(f"record {record_id}: the edited content has no JSON form: {exc}") from exc
    now = utcnow()
    with store.transaction(write=True) as conn:
        current = _current(conn, scheme_id, [record_id])
        _require_held(scheme_id, [record_id], current)
        status, before, rule = current[record_id]
        conn.execute(
            sa.update(L)
            .where(L.c.scheme_id == scheme_id, L.c.record_id == record_id)
            .values(content=text, content_hash=digest)
        )
        _release_rows(conn, scheme_id, record_id, digest, now)
        _audit(
            conn, scheme_id, record_id, "edit", who, now,
            status_before=status, status_after="pending", content_before=before, content_after=text,
            rule=rule, reason=reason,
        )  # fmt: skip


def drop(store: Store, scheme_id: str, record_ids: Sequence[str], *, who: str, reason: str) -> int:
    """Drop quarantined rows for good: status ``dropped`` with ``last_error`` saying who dropped
    them and why (kept and counted, never deleted); audited. Returns how many.

    Raises:
        NotQuarantined: One of ``record_ids`` is not quarantined (nothing is changed).
        ValueError: ``who`` or ``reason`` is empty.
    """
    who, ids = _who(who), list(dict.fromkeys(record_ids))
    if not reason or not reason.strip():
        raise ValueError("drop needs a reason (it is kept with the record and in the audit)")
    now = utcnow()
    with store.transaction(write=True) as conn:
        current = _current(conn, scheme_id, ids)
        _require_held(scheme_id, ids, current)
        for rid in ids:
            status, _, rule = current[rid]
            conn.execute(
                sa.update(L)
                .where(L.c.scheme_id == scheme_id, L.c.record_id == rid)
                .values(status=DROPPED, last_error=f"dropped by {who}: {reason}", updated_at=now)
            )
            conn.execute(
                sa.update(H).where(H.c.scheme_id == scheme_id, H.c.record_id == rid).values(state=DROPPED)
            )
            _audit(
                conn,
                scheme_id,
                rid,
                "drop",
                who,
                now,
                status_before=status,
                status_after=DROPPED,
                rule=rule,
                reason=reason,
            )
    return len(ids)
