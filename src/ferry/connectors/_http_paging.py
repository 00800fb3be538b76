"""Paging of the generic HTTP connector: its connection's ``paging`` and ``last_page`` as a
:class:`~ferry.connectors.paging.Paginator`, and what an answer says about the next page."""

from __future__ import annotations

from typing import Any

from ferry.connectors._dotted import MISSING, get_path
from ferry.connectors.base import PageState
from ferry.connectors.paging import (
    CursorPaginator,
    LastPageRule,
    OffsetPaginator,
    PageNumberPaginator,
    Paginator,
    SinglePagePaginator,
    no_more_flag,
    only_empty_page,
    rows_reach_total,
    short_page,
)
from ferry.connectors.specs import HttpConnection
from ferry.errors import RetriableError

__all__ = ["next_state", "paginator_for"]

_TRUE_WORDS = frozenset({"1", "true", "yes", "y", "t"})
_RULES: dict[str, LastPageRule] = {
    "short_page": short_page,
    "total": rows_reach_total,
    "empty": only_empty_page,
    "flag": no_more_flag,
}
"""``last_page.rule`` -> the rule: ``total`` compares the rows read with the total."""


def paginator_for(spec: HttpConnection) -> Paginator:
    """The paginator ``spec.paging`` and ``spec.last_page`` describe.

    page: ``page_param = start + state.index``; offset: ``offset_param = state.offset``;
    cursor: ``cursor_param = state.cursor`` (omitted on the first page); all three also send
    ``size_param = size``, the size capped at ``max_page_size``. Style ``none`` sends nothing.
    """
    paging = spec.paging
    common: dict[str, Any] = {
        "size_param": paging.size_param,
        "cap": paging.max_page_size,
        "last": _RULES[spec.last_page.rule],
    }
    if paging.style == "page":
        return PageNumberPaginator(page_param=paging.page_param, base=paging.start, **common)
    if paging.style == "offset":
        return OffsetPaginator(offset_param=paging.offset_param, **common)
    if paging.style == "cursor":
        return CursorPaginator(cursor_param=paging.cursor_param, **common)
    return SinglePagePaginator()


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return bool(value)


def _has_more(spec: HttpConnection, document: Any, where: str) -> bool | None:
    """The flag of ``last_page`` rule ``flag`` as "more pages follow" (``None`` for other rules)."""
    rule = spec.last_page
    if rule.rule != "flag":
        return None
    flag = get_path(document, rule.flag_path)
    if flag is MISSING:
        raise RetriableError(f"{where}: response has no flag at {rule.flag_path!r} (last_page rule flag)")
    return _truthy(flag) if rule.flag_means == "more" else not _truthy(flag)


def next_state(
    spec: HttpConnection,
    pager: Paginator,
    *,
    document: Any,
    records: list[dict[str, Any]],
    state: PageState,
    total: int | None,
    where: str,
) -> PageState | None:
    """Where the page after ``state`` starts, or ``None`` (``pager`` decides from the answer).

    An empty page always ends paging. For the cursor style a missing/empty next cursor also
    ends it, and a cursor equal to the current one is an error (the API would loop forever).

    Raises:
        RetriableError: The response lacks the field the last-page rule needs (``total`` or
            ``flag``), or the cursor did not advance. ``where`` prefixes the message.
    """
    if spec.paging.style == "none" or not records:
        return None
    if spec.last_page.rule == "total" and total is None:
        raise RetriableError(f"{where}: response has no total at {spec.total_path!r} (last_page rule total)")
    has_more = _has_more(spec, document, where)
    cursor = get_path(document, spec.paging.cursor_path) if spec.paging.style == "cursor" else None
    try:
        return pager.after(
            state, records, total=total, has_more=has_more, cursor=None if cursor is MISSING else cursor
        )
    except RetriableError as exc:
        raise RetriableError(f"{where}: {exc}") from exc
