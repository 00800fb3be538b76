"""One paginator for every paging source: how a page is asked for, and how the last one is known.

A source connector holds one :class:`Paginator` (``connector.pager``) and pages through it::

    fields = pager.request_fields(state)        # {"page_size": 30, "page_index": 2}: over the request
    answer = call(api, {**request, **fields})
    following = pager.after(state, records, total=answer.total, has_more=answer.has_next)
    return Page(records, following, answer.total)   # following is None on the last page

The collector never sees the paginator: it starts each window at ``PageState(index=0,
page_size=...)``, renders ``state.variables(limits.page_base)`` into the request and follows
``page.next`` until it is ``None`` (:mod:`ferry.engine.collector`).

How a page is addressed:

=============================  ==============================================  =====================
:class:`PageNumberPaginator`   page ``base + state.index`` (``base`` 0 or 1)   JuShuiTan, KuaiMai, WDT,
                                                                               KIS, OKKI
:class:`OffsetPaginator`       row ``state.offset``                            K3Cloud, SQL
:class:`CursorPaginator`       the token the previous answer returned          HTTP ``cursor``
:class:`SinglePagePaginator`   not paged: one request                          HTTP ``none``
=============================  ==============================================  =====================

Every paginator caps the page size at the vendor's cap (:meth:`Paginator.page_size`; the cap
also applies to a state built with a larger size) and ends paging on an empty page, whatever its
rule, so an API that keeps answering cannot make paging go on forever. A page with records is
the last when the paginator's :data:`LastPageRule` says so; the rules are small functions of what
the answer said (:class:`PageFacts`), combined with :func:`first_known` or :func:`any_of`:

============================  ==============================================================
:func:`short_page`            fewer records than the page size
:func:`pages_reach_total`     the pages asked for so far cover the reported total:
                              ``(index + 1) * page_size >= total``
:func:`rows_reach_total`      the rows read so far reach the reported total:
                              ``offset + records >= total``
:func:`last_numbered_page`    this page's number reaches the reported page count
:func:`no_more_flag`          the vendor's "has next" flag is false
:func:`only_empty_page`       never: only an empty page ends paging
============================  ==============================================================

A :class:`CursorPaginator` also ends when the answer carries no next cursor, and refuses a next
cursor equal to the current one (the API would serve the same page forever).

What paging cannot see: when records enter or leave the result set while it is paged, an
offset or page number points at a shifted position, so a page repeats a record or skips one.
A connector that reports the total lets the collector notice the shortfall and read the window
again (``settings.verify_totals``); a cursor does not shift at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from ferry.connectors.base import PageState
from ferry.errors import RetriableError

__all__ = [
    "CursorPaginator",
    "LastPageRule",
    "OffsetPaginator",
    "PageFacts",
    "PageNumberPaginator",
    "Paginator",
    "SinglePagePaginator",
    "any_of",
    "first_known",
    "last_numbered_page",
    "no_more_flag",
    "only_empty_page",
    "pages_reach_total",
    "rows_reach_total",
    "short_page",
]


@dataclass(frozen=True)
class PageFacts:
    """What one page's answer says about paging; ``None`` where the answer does not say."""

    state: PageState
    """The state the page was asked for."""
    size: int
    """The page size asked for (capped)."""
    count: int
    """Records on the page (rows the vendor served, repeated or rejected ones included)."""
    total: int | None = None
    """Records in the whole result set, as the vendor reports it."""
    pages: int | None = None
    """Pages in the whole result set, as the vendor reports it."""
    has_more: bool | None = None
    """The vendor's "another page follows" flag."""


LastPageRule = Callable[[PageFacts], bool | None]
"""Whether a page with records was the last: ``True`` it was, ``False`` more follow, ``None`` this
rule cannot tell from the answer (paging goes on; an empty page ends it)."""


def short_page(facts: PageFacts) -> bool:
    """The page holds fewer records than were asked for."""
    return facts.count < facts.size


def pages_reach_total(facts: PageFacts) -> bool | None:
    """The pages asked for so far cover the total: ``(index + 1) * size >= total``."""
    if facts.total is None:
        return None
    return (facts.state.index + 1) * facts.size >= facts.total


def rows_reach_total(facts: PageFacts) -> bool | None:
    """The rows read so far reach the total: ``offset + count >= total``."""
    if facts.total is None:
        return None
    return facts.state.offset + facts.count >= facts.total


def last_numbered_page(facts: PageFacts) -> bool | None:
    """This is page ``pages`` (counting from 1) or later of the reported page count."""
    if facts.pages is None:
        return None
    return facts.state.index + 1 >= facts.pages


def no_more_flag(facts: PageFacts) -> bool | None:
    """The vendor's has-more flag: false means last, true means more."""
    if facts.has_more is None:
        return None
    return not facts.has_more


def only_empty_page(facts: PageFacts) -> bool:
    """Never the last page: paging goes on until a page comes back empty."""
    return False


def first_known(*rules: LastPageRule) -> LastPageRule:
    """The first rule that can tell decides, both ways (a has-next flag, else a page count ...)."""

    def rule(facts: PageFacts) -> bool | None:
        for each in rules:
            verdict = each(facts)
            if verdict is not None:
                return verdict
        return None

    return rule


def any_of(*rules: LastPageRule) -> LastPageRule:
    """Last as soon as any rule says so (a short page, a false flag or a total reached)."""

    def rule(facts: PageFacts) -> bool:
        return any(each(facts) for each in rules)

    return rule


@runtime_checkable
class Paginator(Protocol):
    """How one source asks for its pages and knows its last one (see the module docstring)."""

    def first(self, page_size: int) -> PageState:
        """The state of a window's first page, asking ``page_size`` records (capped)."""
        ...

    def page_size(self, state: PageState) -> int:
        """The page size ``state`` asks for: ``state.page_size``, at least 1, at most the cap."""
        ...

    def request_fields(self, state: PageState) -> dict[str, Any]:
        """The paging fields to send for ``state``; they override same-named request fields."""
        ...

    def after(
        self,
        state: PageState,
        records: Sized,
        *,
        total: int | None = None,
        pages: int | None = None,
        has_more: bool | None = None,
        cursor: Any = None,
    ) -> PageState | None:
        """The state of the page after ``state``'s, or ``None`` when that was the last page.

        ``records`` is the page as served; ``total``, ``pages``, ``has_more`` and ``cursor`` are
        what the answer said (``None``: nothing).

        Raises:
            RetriableError: A cursor paginator got back the cursor it sent: paging would loop.
        """
        ...


@dataclass(frozen=True, kw_only=True)
class _Paging:
    """What every paginator shares: the size field, the cap and the last-page rule."""

    size_param: str | None = None
    """Field carrying the page size (``None``: not sent)."""
    cap: int | None = None
    """Largest page size the vendor accepts (``None``: no cap)."""
    last: LastPageRule = short_page
    """Whether a page with records was the last."""

    def first(self, page_size: int) -> PageState:
        """See :meth:`Paginator.first`."""
        return PageState(index=0, page_size=self.page_size(PageState(page_size=page_size)))

    def page_size(self, state: PageState) -> int:
        """See :meth:`Paginator.page_size`."""
        size = max(1, int(state.page_size))
        return min(size, self.cap) if self.cap else size

    def request_fields(self, state: PageState) -> dict[str, Any]:
        """See :meth:`Paginator.request_fields`: the size, then where the page starts."""
        fields: dict[str, Any] = {self.size_param: self.page_size(state)} if self.size_param else {}
        fields.update(self._position(state))
        return fields

    def after(
        self,
        state: PageState,
        records: Sized,
        *,
        total: int | None = None,
        pages: int | None = None,
        has_more: bool | None = None,
        cursor: Any = None,
    ) -> PageState | None:
        """See :meth:`Paginator.after`."""
        count = len(records)
        if count == 0:
            return None
        size = self.page_size(state)
        following = self._next_cursor(state, cursor)
        if following is _END:
            return None
        if self.last(PageFacts(state, size, count, total=total, pages=pages, has_more=has_more)):
            return None
        return PageState(
            index=state.index + 1,
            page_size=size,
            offset=state.offset + self._step(size, count),
            cursor=following,
        )

    def _position(self, state: PageState) -> dict[str, Any]:
        return {}

    def _step(self, size: int, count: int) -> int:
        """How far ``state.offset`` moves past a page: the records it held."""
        return count

    def _next_cursor(self, state: PageState, cursor: Any) -> Any:
        return None


_END = object()
"""The answer carried no next cursor: the page was the last."""


@dataclass(frozen=True, kw_only=True)
class PageNumberPaginator(_Paging):
    """Pages by number: ``page_param = base + state.index``, ``size_param = page size``.

    ``PageNumberPaginator(page_param="page_no", size_param="page_size", base=0, cap=100,
    last=first_known(pages_reach_total, short_page))`` is WangDianTong's.
    """

    page_param: str = "page"
    base: int = 1
    """Number of the first page: 0 or 1."""

    def _position(self, state: PageState) -> dict[str, Any]:
        return {self.page_param: self.base + state.index}


@dataclass(frozen=True, kw_only=True)
class OffsetPaginator(_Paging):
    """Pages by row offset: ``offset_param = state.offset``, ``size_param = page size``.

    ``advance`` says how far the offset moves past a page: by the records it held, or by the
    page size (K3Cloud: ``StartRow`` is a position, so a row the vendor repeats from the
    previous page must not push the next page one row further).
    """

    offset_param: str = "offset"
    advance: Literal["records", "size"] = "records"

    def _position(self, state: PageState) -> dict[str, Any]:
        return {self.offset_param: state.offset}

    def _step(self, size: int, count: int) -> int:
        return size if self.advance == "size" else count


@dataclass(frozen=True, kw_only=True)
class CursorPaginator(_Paging):
    """Pages by the token the previous answer returned: ``cursor_param = state.cursor``.

    The first page sends no cursor. An answer without a next cursor (``None`` or ``""``) was the
    last page; a next cursor equal to the one sent is an error, not a loop.
    """

    cursor_param: str = "cursor"

    def _position(self, state: PageState) -> dict[str, Any]:
        return {} if state.cursor is None else {self.cursor_param: state.cursor}

    def _next_cursor(self, state: PageState, cursor: Any) -> Any:
        if cursor is None or cursor == "":
            return _END
        if cursor == state.cursor:
            raise RetriableError(f"the next cursor equals the current one ({cursor!r}); paging would loop")
        return cursor


@dataclass(frozen=True, kw_only=True)
class SinglePagePaginator(_Paging):
    """An endpoint that is not paged: no paging field is sent and the first page is the last."""

    def request_fields(self, state: PageState) -> dict[str, Any]:
        """Nothing: the endpoint takes no paging field."""
        return {}

    def after(
        self,
        state: PageState,
        records: Sized,
        *,
        total: int | None = None,
        pages: int | None = None,
        has_more: bool | None = None,
        cursor: Any = None,
    ) -> PageState | None:
        """``None``: there is no other page."""
        return None
