"""Paging rules of the generic HTTP connector: which parameters to send, and whether more follow."""

from __future__ import annotations

from typing import Any

from ferry.connectors._dotted import MISSING, get_path
from ferry.connectors.base import PageState
from ferry.connectors.specs import HttpConnection
from ferry.errors import RetriableError

__all__ = ["effective_page_size", "next_state", "paging_params"]

_TRUE_WORDS = frozenset({"1", "true", "yes", "y", "t"})


def effective_page_size(spec: HttpConnection, state: PageState) -> int:
    """``state.page_size`` capped at ``paging.max_page_size`` (never below 1)."""
    size = max(1, int(state.page_size))
    cap = spec.paging.max_page_size
    return min(size, cap) if cap else size


def paging_params(spec: HttpConnection, state: PageState, size: int) -> dict[str, Any]:
    """The paging parameters for ``state``; they override same-named request parameters.

    page: ``page_param = start + state.index``; offset: ``offset_param = state.offset``;
    cursor: ``cursor_param = state.cursor`` (omitted on the first page); all three also send
    ``size_param = size``. Style ``none`` sends nothing.
    """
    paging = spec.paging
    if paging.style == "none":
        return {}
    params: dict[str, Any] = {paging.size_param: size}
    if paging.style == "page":
        params[paging.page_param] = paging.start + state.index
    elif paging.style == "offset":
        params[paging.offset_param] = state.offset
    elif state.cursor is not None:
        params[paging.cursor_param] = state.cursor
    return params


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return bool(value)


def next_state(
    spec: HttpConnection,
    *,
    document: Any,
    records: list[dict[str, Any]],
    state: PageState,
    size: int,
    total: int | None,
    where: str,
) -> PageState | None:
    """Decide from the response whether another page follows, and where it starts.

    An empty page always ends paging. For the cursor style a missing/empty next cursor also
    ends it, and a cursor equal to the current one is an error (the API would loop forever).

    Raises:
        RetriableError: The response lacks the field the last-page rule needs (``total`` or
            ``flag``), or the cursor did not advance. ``where`` prefixes the message.
    """
    if spec.paging.style == "none" or not records:
        return None
    count = len(records)
    rule = spec.last_page
    if rule.rule == "short_page":
        last = count < size
    elif rule.rule == "empty":
        last = False
    elif rule.rule == "total":
        if total is None:
            raise RetriableError(
                f"{where}: response has no total at {spec.total_path!r} (last_page rule total)"
            )
        last = state.offset + count >= total
    else:
        flag = get_path(document, rule.flag_path)
        if flag is MISSING:
            raise RetriableError(f"{where}: response has no flag at {rule.flag_path!r} (last_page rule flag)")
        more = _truthy(flag) if rule.flag_means == "more" else not _truthy(flag)
        last = not more
    cursor = None
    if spec.paging.style == "cursor":
        cursor = get_path(document, spec.paging.cursor_path)
        if cursor is MISSING or cursor is None or cursor == "":
            return None
        if cursor == state.cursor:
            raise RetriableError(
                f"{where}: the next cursor equals the current one ({cursor!r}); paging would loop"
            )
    if last:
        return None
    return PageState(
        index=state.index + 1, page_size=state.page_size, offset=state.offset + count, cursor=cursor
    )
