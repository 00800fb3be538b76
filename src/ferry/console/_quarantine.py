"""The quarantine screen: records that data-quality rules hold, and an operator's actions on them.

Built once for the page (``/quarantine``) and the JSON API (``/api/quarantine``), over the
store's :mod:`ferry.store.quarantine`: list held records by scheme and by rule with counts per
scheme and rule, release (deliver as is), edit the content then release, drop with a reason, and
the audit log. Every action is audited in the store under the logged-in console user. After a
release or an edit the record is ``pending``: the scheme's next run delivers it, or at once
with ``deliver`` (the same deliver-only run a replay starts, :func:`ferry.console._views.start_run`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from ferry._text import clip
from ferry.console._context import Console
from ferry.console._i18n import say
from ferry.console._limits import MAX_REPLAY_KEYS, Key
from ferry.console._models import ActionResult, RecordKey
from ferry.console._views import start_run
from ferry.store import quarantine
from ferry.store.quarantine import AuditEntry, HeldRecord, NotQuarantined

__all__ = [
    "AuditModel",
    "BadContent",
    "BulkDropRequest",
    "BulkReleaseRequest",
    "Change",
    "DropRequest",
    "EditRequest",
    "HeldModel",
    "HeldPage",
    "NoSuchRecord",
    "NotQuarantined",
    "QuarantineResult",
    "ReleaseRequest",
    "RuleCount",
    "audit",
    "changes",
    "drop",
    "edit",
    "held",
    "held_page",
    "one",
    "parse_content",
    "release",
    "rule_counts",
]

SHOWN_VALUE = 200
"""Characters of a held value or a changed field shown in a list."""
MAX_REASON = 2000


class HeldModel(BaseModel):
    """A quarantined (or dropped) record: the rule that holds it, where and why."""

    scheme_id: str
    record_id: str
    number: str | None = None
    status: str
    rule: str | None = None
    side: str | None = Field(None, description="source (collect time) or target (the mapped payload).")
    path: str | None = None
    value: Any = None
    reason: str | None = None
    run_id: int | None = None
    held_at: datetime | None = None
    last_error: str | None = None
    content: dict[str, Any] = Field(default_factory=dict)


class RuleCount(BaseModel):
    """Held and dropped records of one scheme and rule."""

    scheme_id: str
    rule: str = Field(description="The rule's name (empty for a record held without one).")
    quarantined: int = 0
    dropped: int = 0


class HeldPage(BaseModel):
    records: list[HeldModel]
    counts: list[RuleCount]
    offset: int
    limit: int
    more: bool


class Change(BaseModel):
    """One field an edit changed (a dotted path; values as JSON text, cut short)."""

    path: str
    before: str | None
    after: str | None


class AuditModel(BaseModel):
    """One operator action on one record."""

    id: int
    scheme_id: str
    record_id: str
    operation: str
    who: str
    at: datetime
    status_before: str | None = None
    status_after: str | None = None
    rule: str | None = None
    reason: str | None = None
    content_before: dict[str, Any] | None = None
    content_after: dict[str, Any] | None = None
    changes: list[Change] = Field(default_factory=list, description="The fields an edit changed.")


Reason = Annotated[str | None, Field(max_length=MAX_REASON, description="Why (kept in the audit).")]
Deliver = Annotated[bool, Field(description="Start delivering the scheme's pending records right away.")]


class ReleaseRequest(BaseModel):
    reason: Reason = None
    deliver: Deliver = True


class EditRequest(BaseModel):
    content: Any = Field(
        description="The record's new content: a JSON object, or its JSON text (as the page's form sends it)."
    )
    reason: Reason = None
    deliver: Deliver = True


class DropRequest(BaseModel):
    reason: str = Field(
        max_length=MAX_REASON, description="Why (required; kept with the record and in the audit)."
    )


class BulkReleaseRequest(ReleaseRequest):
    records: list[RecordKey] = Field(min_length=1, max_length=MAX_REPLAY_KEYS)


class BulkDropRequest(DropRequest):
    records: list[RecordKey] = Field(min_length=1, max_length=MAX_REPLAY_KEYS)


class QuarantineResult(ActionResult):
    count: int = Field(0, description="Records released, edited or dropped.")
    started: list[ActionResult] = Field(
        default_factory=list, description="The deliveries started afterwards, one per scheme."
    )


class BadContent(ValueError):
    """Edited content that is not a JSON object; ``str()`` says where it breaks."""


class NoSuchRecord(LookupError):
    """The record is not in the ledger."""

    def __init__(self, scheme_id: str, record_id: str) -> None:
        super().__init__(f"scheme {scheme_id}: no record {record_id!r} in the ledger")


# -- reading -----------------------------------------------------------------------------------


def held_model(record: HeldRecord) -> HeldModel:
    return HeldModel.model_validate(record.__dict__)


def held(console: Console, scheme_id: str, record_id: str) -> HeldModel | None:
    """One ledger row with its hold (any status), or ``None``."""
    record = quarantine.get_held(console.store, scheme_id, record_id)
    return None if record is None else held_model(record)


def rule_counts(console: Console, scheme_id: str | None = None) -> list[RuleCount]:
    """Held and dropped records per scheme and rule, by scheme then rule."""
    rows: dict[tuple[str, str], RuleCount] = {}
    for (sid, rule, status), count in quarantine.counts(console.store, scheme_id=scheme_id).items():
        row = rows.setdefault((sid, rule), RuleCount(scheme_id=sid, rule=rule))
        if status == quarantine.QUARANTINED:
            row.quarantined += count
        else:
            row.dropped += count
    return [rows[key] for key in sorted(rows)]


def held_page(
    console: Console,
    *,
    scheme_id: str | None = None,
    rule: str | None = None,
    status: str = quarantine.QUARANTINED,
    limit: int = 50,
    offset: int = 0,
) -> HeldPage:
    """One page of held (or dropped) records, the most recently held first, and the counts."""
    found = quarantine.list_held(
        console.store, scheme_id=scheme_id, rule=rule, status=status, limit=limit + 1, offset=offset
    )
    return HeldPage(
        records=[held_model(r) for r in found[:limit]],
        counts=rule_counts(console),
        offset=offset,
        limit=limit,
        more=len(found) > limit,
    )


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": leaf}`` of a JSON object (lists are leaves)."""
    if not isinstance(value, Mapping):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, child in value.items():
        out.update(_flat(child, f"{prefix}.{key}" if prefix else str(key)))
    return out if out or not prefix else {prefix: {}}


def _text(value: Any) -> str:
    return clip(json.dumps(value, ensure_ascii=False, default=str), SHOWN_VALUE)


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[Change]:
    """The fields that differ between two contents, by path (none unless both are given)."""
    if before is None or after is None:
        return []
    old, new = _flat(before), _flat(after)
    missing = object()
    out = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path, missing), new.get(path, missing)
        if a != b or type(a) is not type(b):
            out.append(
                Change(
                    path=path,
                    before=None if a is missing else _text(a),
                    after=None if b is missing else _text(b),
                )
            )
    return out


def audit_model(entry: AuditEntry) -> AuditModel:
    model = AuditModel.model_validate(entry.__dict__)
    model.changes = changes(entry.content_before, entry.content_after)
    return model


def audit(
    console: Console, *, scheme_id: str | None = None, record_id: str | None = None, limit: int = 100
) -> list[AuditModel]:
    """The newest audit rows first."""
    entries = quarantine.audit_log(console.store, scheme_id=scheme_id, record_id=record_id, limit=limit)
    return [audit_model(e) for e in entries]


# -- actions -----------------------------------------------------------------------------------


def parse_content(content: Any, record_id: str) -> dict[str, Any]:
    """Edited content as an object: an object as it is, or JSON text parsed.

    Raises:
        BadContent: The text is not JSON (the message names the line and column), or the
            value is not a JSON object.
    """
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except json.JSONDecodeError as exc:
            raise BadContent(
                f"record {record_id}: the content is not valid JSON: {exc.msg} "
                f"(line {exc.lineno}, column {exc.colno})"
            ) from None
    if not isinstance(content, dict):
        kind = type(content).__name__ if content is not None else "null"
        raise BadContent(f"record {record_id}: the content must be a JSON object {{...}}, got {kind}")
    return content


def _by_scheme(keys: Iterable[RecordKey]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        grouped[key.scheme_id].append(key.record_id)
    return dict(sorted(grouped.items()))


def _reason(reason: str | None) -> str | None:
    return reason.strip() if reason and reason.strip() else None


def _deliveries(console: Console, scheme_ids: Sequence[str], deliver: bool) -> list[ActionResult]:
    return [start_run(console, sid, collect=False) for sid in scheme_ids] if deliver else []


def _result(key: str, params: Mapping[str, Any], count: int, started: list[ActionResult]) -> QuarantineResult:
    shown = {k: str(v) for k, v in params.items()}
    message = say(key, "en", shown)
    return QuarantineResult(ok=True, message=message, key=key, params=shown, count=count, started=started)


def release(
    console: Console, keys: Sequence[RecordKey], *, who: str, reason: str | None = None, deliver: bool = True
) -> QuarantineResult:
    """Release held records as they are (back to ``pending``), audited as ``who``; with
    ``deliver``, start delivering each scheme concerned.

    Raises:
        NotQuarantined: One of a scheme's records is not held (that scheme is left unchanged;
            schemes before it in id order are released).
    """
    grouped = _by_scheme(keys)
    count = 0
    for scheme_id, ids in grouped.items():
        count += quarantine.release(console.store, scheme_id, ids, who=who, reason=_reason(reason))
    started = _deliveries(console, list(grouped), deliver)
    schemes = ", ".join(grouped)
    return _result("msg.q_released", {"count": count, "scheme": schemes, "user": who}, count, started)


def edit(
    console: Console,
    scheme_id: str,
    record_id: str,
    content: Any,
    *,
    who: str,
    reason: str | None = None,
    deliver: bool = True,
) -> QuarantineResult:
    """Replace a held record's content (an object or its JSON text), then release it; audited
    with the content before and after.

    Raises:
        BadContent: ``content`` is not a JSON object.
        NoSuchRecord: The record is not in the ledger.
        NotQuarantined: The record is not held.
    """
    parsed = parse_content(content, record_id)
    if quarantine.get_held(console.store, scheme_id, record_id) is None:
        raise NoSuchRecord(scheme_id, record_id)
    try:
        quarantine.edit(console.store, scheme_id, record_id, parsed, who=who, reason=_reason(reason))
    except ValueError as exc:  # no JSON form (a value json cannot encode)
        raise BadContent(str(exc)) from None
    started = _deliveries(console, [scheme_id], deliver)
    params = {"record": record_id, "scheme": scheme_id, "user": who}
    return _result("msg.q_edited", params, 1, started)


def drop(console: Console, keys: Sequence[RecordKey], *, who: str, reason: str) -> QuarantineResult:
    """Drop held records for good with ``reason``, audited as ``who``.

    Raises:
        ValueError: ``reason`` is blank.
        NotQuarantined: One of a scheme's records is not held (that scheme is left unchanged).
    """
    if not reason or not reason.strip():
        raise ValueError("drop needs a reason: it is kept with the record and in the audit")
    grouped = _by_scheme(keys)
    count = 0
    for scheme_id, ids in grouped.items():
        count += quarantine.drop(console.store, scheme_id, ids, who=who, reason=reason.strip())
    params = {"count": count, "scheme": ", ".join(grouped), "user": who, "reason": reason.strip()}
    return _result("msg.q_dropped", params, count, [])


def one(scheme_id: Key, record_id: Key) -> list[RecordKey]:
    """A single record as a list of keys."""
    return [RecordKey(scheme_id=scheme_id, record_id=record_id)]
