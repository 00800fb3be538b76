"""QEasy ``otherResponse`` on an http source: where the records, the status and the page number are.

::

    "otherResponse": [
      {"field": "DataKey", "value": "data/list"},      # the records' path, "/"-separated
      {"field": "StatusKey", "value": "code"},         # a 2xx answer whose code is not ...
      {"field": "StatusValue", "value": "0"},          # ... 0 is an error quoting its message
      {"field": "PageKey", "value": "pageNo"}          # the request field of the page number
    ]

The generic QEasy adapters read the list path from ``otherResponse[0].value`` when the first
item is none of these (``{"field": "list", "value": "rows"}``). :func:`with_layout` resolves the
layout onto the scheme's :class:`~ferry.connectors.specs.HttpConnection` (``records_path``,
``status_path``/``status_ok``, ``paging.page_param``) for the compiled plan, so a QEasy source
that declares where its records are runs with no path on the connection. Other connection types
read their vendor's answers themselves: there ``otherResponse`` is a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ferry.connectors.specs import ConnectionSpec, HttpConnection, status_text
from ferry.errors import ConfigError, Issue
from ferry.scheme.metadata import FieldSpec, SourceMetadata
from ferry.scheme.model import Scheme

__all__ = ["ResponseLayout", "connection_warnings", "layout_issues", "response_layout", "with_layout"]

NAMED = ("DataKey", "StatusKey", "StatusValue", "PageKey")
"""The ``otherResponse`` fields Ferry reads (any name in the first item is a list path)."""


@dataclass(frozen=True, slots=True)
class ResponseLayout:
    """What an http source's ``otherResponse`` says, each part ``None`` when not declared."""

    records_path: str | None
    """Dotted path of the records (``DataKey``, or the first item's value)."""
    status_path: str | None
    """Dotted path of the status (``StatusKey``)."""
    status_ok: str | None
    """The status that means success, as text (``StatusValue``)."""
    page_param: str | None
    """The request field carrying the page number (``PageKey``)."""


def _text(value: Any) -> str | None:
    """A path or name written in the metadata, or ``None`` when empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _path(value: Any) -> str | None:
    """``data/list`` (QEasy) or ``data.list`` -> ``data.list``."""
    text = _text(value)
    return ".".join(part for part in text.replace("/", ".").split(".") if part) if text else None


def _named(meta: SourceMetadata) -> dict[str, FieldSpec]:
    return {f.field: f for f in meta.otherResponse if f.field in NAMED}


def _list_item(meta: SourceMetadata) -> FieldSpec | None:
    """The first item when it is not one of :data:`NAMED`: the generic adapters' list path."""
    first = meta.otherResponse[0] if meta.otherResponse else None
    return first if first is not None and first.field not in NAMED else None


def response_layout(meta: SourceMetadata) -> ResponseLayout | None:
    """The layout ``meta.otherResponse`` declares, or ``None`` without one."""
    if not meta.otherResponse:
        return None
    named = _named(meta)
    data = named.get("DataKey") or _list_item(meta)
    status, ok, page = (named.get(k) for k in ("StatusKey", "StatusValue", "PageKey"))
    return ResponseLayout(
        records_path=_path(data.value) if data is not None else None,
        status_path=_path(status.value) if status is not None else None,
        status_ok=status_text(ok.value) if ok is not None and ok.value is not None else None,
        page_param=_text(page.value) if page is not None else None,
    )


def layout_issues(meta: SourceMetadata, prefix: str) -> list[Issue]:
    """Errors of ``otherResponse``: a named item without a value, a status key without the
    value that means success (or the other way round)."""
    named = {f.field: i for i, f in enumerate(meta.otherResponse) if f.field in NAMED}
    issues = [
        Issue(
            f"{prefix}.otherResponse[{i}].value",
            f"{name} needs a value",
            None,
            'write e.g. {"field": "DataKey", "value": "data/list"}',
        )
        for name, i in named.items()
        if name != "StatusValue" and _text(meta.otherResponse[i].value) is None
    ]
    issues += _status_pair_issues(named, prefix)
    first = _list_item(meta)
    if first is not None and _text(first.value) is None:
        issues.append(
            Issue(
                f"{prefix}.otherResponse[0].value",
                "the first otherResponse item names the records' path, but has no value",
                None,
                'write e.g. {"field": "DataKey", "value": "data/list"}',
            )
        )
    return issues


def _status_pair_issues(named: dict[str, int], prefix: str) -> list[Issue]:
    """``StatusKey`` without ``StatusValue``, or the other way round (``named``: name -> index)."""
    return [
        Issue(
            f"{prefix}.otherResponse[{named[have]}]",
            f"{have} needs {need} beside it",
            None,
            'write both, e.g. {"field": "StatusKey", "value": "code"} and {"field": "StatusValue", "value": "0"}',
        )
        for have, need in (("StatusKey", "StatusValue"), ("StatusValue", "StatusKey"))
        if have in named and need not in named
    ]


def _start(meta: SourceMetadata, param: str) -> int | None:
    """The first page number: the request's own constant value of the page field, if any."""
    field = next((f for f in meta.request if f.field == param), None)
    value = _text(field.value) if field is not None else None
    return int(value) if value is not None and value.isdigit() else None


def with_layout(connection: ConnectionSpec, meta: SourceMetadata) -> ConnectionSpec:
    """``connection`` with the records path, status and page field of ``meta.otherResponse``
    in place of its own (an http connection; any other is returned as it is).

    Raises:
        ConfigError: ``PageKey`` on a connection that pages by offset or cursor.
    """
    layout = response_layout(meta) if isinstance(connection, HttpConnection) else None
    if layout is None:
        return connection
    assert isinstance(connection, HttpConnection)
    update: dict[str, Any] = {}
    if layout.records_path is not None:
        update["records_path"] = layout.records_path
    if layout.status_path is not None and layout.status_ok is not None:
        update["status_path"], update["status_ok"] = layout.status_path, layout.status_ok
    if layout.page_param is not None:
        update["paging"] = _paging(connection, layout.page_param, _start(meta, layout.page_param))
    return connection.model_copy(update=update)


def _paging(connection: HttpConnection, param: str, start: int | None) -> Any:
    paging = connection.paging
    if paging.style in ("offset", "cursor"):
        raise ConfigError(
            f"source.otherResponse: PageKey {param!r} asks for page numbers, but "
            f"{connection.label()} pages by {paging.style}\n"
            "  hint: remove PageKey from otherResponse, or set paging: {style: page} on the connection"
        )
    changes: dict[str, Any] = {"style": "page", "page_param": param}
    if start is not None:
        changes["start"] = start
    return paging.model_copy(update=changes)


def connection_warnings(scheme: Scheme) -> list[Issue]:
    """A warning for ``otherResponse`` on a source whose connection is not http (its connector
    reads its vendor's answers itself)."""
    meta, connection = scheme.source_meta, scheme.source_connection
    if meta is None or connection is None or not meta.otherResponse or isinstance(connection, HttpConnection):
        return []
    return [
        Issue(
            "source.otherResponse",
            f"not supported by Ferry for a {connection.type} connection (in QEasy it tells a generic "
            "adapter where the records, the status and the page number are; Ferry's "
            f"{connection.type} connector reads its vendor's answers itself)",
            None,
            "remove otherResponse, or use an http connection to read the API generically",
            "warning",
        )
    ]
