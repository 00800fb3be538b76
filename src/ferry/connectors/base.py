"""The connector protocol: what the engine asks of a source and a target.

A *source* connector turns one rendered request (the scheme's ``request`` after variables
were substituted) into one :class:`Page` of raw records, and says which page comes next.
A *target* connector writes one :class:`Delivery` (a packed payload covering one or more
ledger records) and reports one :class:`Outcome` per record.

Connectors translate every foreign error at the boundary onto :mod:`ferry.errors`:
bad credentials -> ``ConfigError``; expired session -> ``AuthExpiredError``; throttling ->
``ThrottledError``; 5xx/timeouts -> ``RetriableError``; a record the target rejects ->
an ``Outcome`` with ``ok=False`` (never an exception that would sink the whole batch).

A record is delivered only when the target acknowledges it: a write whose answer does not name
the record (a save without its success entry, a create without the id the API promises, an
``UPDATE`` that matched no row) is ``ok=False`` quoting the answer, and climbs the retry ladder.
A write the target acknowledges without changing anything is ``ok=True, unchanged=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "Delivery",
    "Limits",
    "Login",
    "Outcome",
    "Page",
    "PageState",
    "Rejected",
    "SourceConnector",
    "TargetConnector",
]


@dataclass(frozen=True)
class Limits:
    """What the vendor allows; the engine splits windows and paces calls by these."""

    max_window: timedelta | None = None
    """Longest ``[start, end)`` one query may span (JuShuiTan: 7 days). ``None``: unlimited."""
    max_page_size: int | None = None
    """Largest page size the API accepts."""
    default_page_size: int = 100
    """Page size used when the scheme does not set one."""
    page_base: int = 1
    """Number of the first page (0 for WangDianTong, 1 for most)."""
    rate_per_second: float | None = None
    """Sustained call budget per second for one set of credentials. ``None``: unpaced."""
    rate_per_minute: float | None = None
    """Call budget per minute for one set of credentials (JuShuiTan: 100). ``None``: unpaced."""


@dataclass(frozen=True)
class PageState:
    """Where in a window's result set the next request starts."""

    index: int = 0
    """0-based ordinal of the page within the window."""
    page_size: int = 100
    offset: int = 0
    """Rows returned by earlier pages of this window."""
    cursor: Any = None
    """Opaque continuation token for cursor-paged APIs."""

    def variables(self, page_base: int) -> dict[str, int]:
        """The paging variables a scheme may reference in its request."""
        return {
            "PAGINATION_PAGE_SIZE": self.page_size,
            "PAGINATION_START_PAGE": self.index + page_base,
            "PAGINATION_START_ROW": self.offset,
        }


class Rejected(dict[str, Any]):
    """A source record that cannot be stored as it is, standing in its place in a page.

    It is an empty ``dict``, so a connector that passes records through needs no special case;
    it carries the record's raw bytes, why it was rejected and its position in the page. The
    collector stores it as a dead letter (see :mod:`ferry.engine.dead_letters`).
    """

    __slots__ = ("position", "raw", "reason")

    def __init__(self, raw: bytes, reason: str, position: int) -> None:
        super().__init__()
        self.raw = raw
        self.reason = reason
        self.position = position

    def __repr__(self) -> str:
        return f"Rejected(position={self.position}, reason={self.reason!r}, raw={self.raw[:60]!r})"


@dataclass
class Page:
    """One page of raw source records (a record that cannot be stored as it is: a :class:`Rejected`)."""

    records: list[dict[str, Any]]
    next: PageState | None
    """Where the following page starts, or ``None`` if this was the last page."""
    total: int | None = None
    """Total rows in the window when the API reports it (used for reconciliation)."""


@dataclass
class Delivery:
    """One target call: a packed body covering ``record_ids`` (in order)."""

    api: str
    method: str
    body: Any
    record_ids: list[str]
    options: dict[str, Any] = field(default_factory=dict)
    """The rendered ``otherRequest`` (e.g. ``main_sql``, ``limit``, ``FormId``)."""
    rows: list[Any] = field(default_factory=list)
    """Per-record payloads, in ``record_ids`` order (what the body was packed from)."""
    on_no_match: Literal["error", "ok"] = "error"
    """The scheme's ``settings.on_no_match``: a write whose key matched no row in the target (a SQL
    ``UPDATE`` or ``DELETE`` that found nothing) is an error that waits on the retry ladder
    (``error``), or acknowledged as it is and counted unchanged (``ok``)."""


@dataclass(slots=True)
class Outcome:
    """The target's verdict on one record."""

    record_id: str
    ok: bool
    response: Any = None
    error: str | None = None
    retriable: bool = False
    unchanged: bool = False
    """The target acknowledged the record but reported that nothing changed (e.g. an upsert with
    identical values): delivered, and counted ``delivered_unchanged``."""


@runtime_checkable
class SourceConnector(Protocol):
    """Reads pages of raw records."""

    name: str
    limits: Limits

    def fetch(self, api: str, method: str, request: Mapping[str, Any], state: PageState) -> Page:
        """Fetch one page. ``request`` is already rendered for ``state``.

        The connector applies its own paging parameters (page number, offset, cursor) on top
        of ``request`` and decides from the response whether another page follows.
        """
        ...

    def vendor_time(self) -> datetime | None:
        """The vendor's clock as its last response's ``Date`` header told it (tz-aware), or
        ``None`` for a source without one (a database, an API that sends no ``Date``).

        The collector keeps a window's cursor from passing this time less the scheme's lag
        (``settings.follow_vendor_clock``), so a vendor whose clock is behind Ferry's cannot
        stamp a later change into a window already read. ``None`` holds nothing back.
        """
        ...

    def close(self) -> None: ...


@runtime_checkable
class TargetConnector(Protocol):
    """Writes packed payloads."""

    name: str
    limits: Limits

    def write(self, delivery: Delivery) -> Sequence[Outcome]:
        """Write one delivery and return one outcome per ``delivery.record_ids`` entry.

        Must be idempotent per record: writing the same record twice leaves the target as
        if it was written once (upsert or update by key).
        """
        ...

    def close(self) -> None: ...


@runtime_checkable
class Login(Protocol):
    """A connector that logs in before it calls (``ferry check`` logs in without writing)."""

    def login(self) -> str:
        """Log in now, for real, and say how (``logged in (LoginByAppSecret)``).

        Raises:
            ConfigError: The vendor refused the credentials or the signature (its code and
                text quoted, the connection named, a hint).
        """
        ...
