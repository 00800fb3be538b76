"""Value objects the store hands out and takes in, and the vocabularies of its states."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "API_CALL_STATUSES",
    "RECORD_STATUSES",
    "RESULT_STATUSES",
    "RUN_KINDS",
    "RUN_STATUSES",
    "Hold",
    "LedgerRow",
    "RecordResult",
    "Replayed",
    "UpsertResult",
    "Waiting",
    "selects_everything",
]

RECORD_STATUSES = ("pending", "queued", "finished", "error", "dead", "quarantined", "dropped")
"""Ledger row states: ``pending -> queued -> finished``, or ``-> error`` (retried) ``-> dead``;
``quarantined`` when a quality rule holds it (outside the retry ladder, never claimed or
replayed) until an operator releases it (``pending``) or drops it (``dropped``, final);
see :mod:`ferry.store.quarantine`."""
RESULT_STATUSES = ("finished", "error", "dead", "quarantined")
"""States a delivery result may set."""
RUN_KINDS = ("run", "collect", "deliver", "replay")
RUN_STATUSES = ("running", "succeeded", "partial", "failed")
API_CALL_STATUSES = ("ok", "error", "throttled")
"""An API call answered (``ok``), failed (``error``), or was told to slow down (``throttled``:
the vendor's rate limit; Ferry waited and tried again, so it is not an API error)."""

ResultStatus = Literal["finished", "error", "dead", "quarantined"]

WILDCARDS = frozenset("*%?_")
"""Characters that stand for "anything" in one search syntax or another (ours, SQL, glob)."""


def selects_everything(pattern: str | None) -> bool:
    """Whether an id or number ``pattern`` is no filter at all: ``None``, blank, or made only of
    wildcards and spaces (``*``, ``%``, ``**``, ``" * "``).

    The one rule searches and replays share: a search treats such a pattern as absent, and a
    replay refuses it, so no spelling of "everything" passes for a filter.
    """
    return pattern is None or all(char in WILDCARDS or char.isspace() for char in pattern)


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One source record of one scheme, as the ledger holds it.

    ``next_attempt_at`` is the row's *due time*: when it became ``pending`` (so the oldest
    pending rows are delivered first) or, for an ``error`` row, when it may be retried.
    ``run_id`` is the last run that touched the row (collected or delivered it).
    """

    scheme_id: str
    record_id: str
    number: str | None
    content: dict[str, Any]
    content_hash: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    target_response: str | None
    window_start: datetime | None
    window_end: datetime | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    run_id: int | None = None


class Replayed(int):
    """How many rows a replay sent back to ``pending`` (an ``int``), and in :attr:`kept` how many
    dead letters of collection it matched and left as they are: a record without an id or that
    could not be read has nothing to deliver again (its fix is at the source)."""

    kept: int

    def __new__(cls, replayed: int, kept: int = 0) -> Replayed:
        self = super().__new__(cls, replayed)
        self.kept = kept
        return self


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What one :meth:`Store.upsert_records` call did, counted over distinct record ids.

    The ids given as ``dead_letters`` are stored but counted in none of these: a dead letter
    is not a record to deliver. ``new`` ids were inserted as ``pending``. Every known id is either ``changed`` (content
    hash differs from the stored one) or ``unchanged``. ``redelivered`` counts the known ids
    scheduled for delivery again (set back to ``pending``, or flagged to be redelivered
    after the delivery in flight when ``queued``).
    """

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    redelivered: int = 0
    quarantined: int = 0
    """Of the new and redelivered ids, those held by a source quality rule (``holds``): stored
    ``quarantined`` instead of ``pending``, never claimed."""
    held: tuple[str, ...] = field(default=(), repr=False)
    """The ids counted in :attr:`quarantined` (their holds name the rules that held them)."""

    @property
    def total(self) -> int:
        """Distinct record ids in the call."""
        return self.new + self.changed + self.unchanged


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a quality rule holds a record (kept in the store beside the ``quarantined`` row).

    Attributes:
        rule: The rule's name (``quality.source[2]`` when unnamed; ``map:<table>`` for a value
            map, ``drift`` for schema drift).
        path: Where the value sits in the record (source) or the payload (target).
        value: The value that broke the rule (stored as JSON, clipped).
        reason: What the rule says (``value must be at least 0``).
        side: ``source`` (held at collect) or ``target`` (held at deliver).
    """

    rule: str
    path: str
    value: Any
    reason: str
    side: str = "target"

    def message(self) -> str:
        """The row's ``last_error``: ``quarantined by <rule>: <path> = <value>: <reason>``."""
        from ferry._text import shown

        return f"quarantined by {self.rule}: {self.path} = {shown(self.value, 80)}: {self.reason}"


@dataclass(frozen=True, slots=True)
class RecordResult:
    """The outcome of delivering one ledger record.

    Attributes:
        record_id: The ledger row the result is for.
        status: ``finished`` (target acknowledged), ``error`` (retry at ``next_attempt_at``)
            or ``dead`` (no more retries).
        response: The target's answer; non-``str`` values are stored as JSON. Kept to 64 KB.
        error: Why the delivery failed (``error``/``dead``). Kept to 64 KB.
        next_attempt_at: When an ``error`` row may be retried (tz-aware); ``None`` means now.
            Ignored for ``finished`` and ``dead``.
        run_id: The delivering run, recorded on the row.
        hold: With status ``quarantined``: the rule that holds the record (kept in the store
            for ``ferry quarantine list``; ``error`` defaults to its message).
    """

    record_id: str
    status: ResultStatus
    response: Any = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    run_id: int | None = None
    hold: Hold | None = None


@dataclass(frozen=True, slots=True)
class Waiting:
    """What a scheme's ledger still holds undelivered (:meth:`Store.waiting`).

    Attributes:
        pending: Rows not delivered yet (``pending``, and ``queued`` ones in flight or left
            by a killed run).
        error: Rows that failed and wait for a retry on their ladder.
        dead: Dead letters (failed their last attempt, or could not be delivered at all).
        failing_since: The oldest run that last touched one of the ``error``/``dead`` rows
            (``None`` when there are none).
    """

    pending: int = 0
    error: int = 0
    dead: int = 0
    failing_since: int | None = None
    quarantined: int = 0
    """Rows a quality rule holds for an operator (``ferry quarantine list``)."""

    @property
    def failing(self) -> int:
        """Rows still failing: ``error`` + ``dead``."""
        return self.error + self.dead
