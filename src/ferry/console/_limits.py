"""Bounds on everything a console request may send, shared by the JSON API and the pages.

Every parameter is checked where it is declared, before it reaches the store, so a hostile or
mistyped request is answered 4xx with the parameter's name, never 500:

- offsets and pages stop at :data:`MAX_OFFSET`; run ids are positive 64-bit integers;
- ids, numbers and scheme ids hold at most :data:`MAX_KEY` characters and no NUL;
- times lie in the years 1970 to 9998; a time without a zone is in the scheme's zone (the
  console's, Asia/Shanghai, when the request names no loaded scheme), see :func:`local_time`;
- a request body is at most :data:`MAX_BODY_BYTES` (:class:`BodyLimit` answers 413).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferry._text import shown
from ferry.scheme.model import SHANGHAI, Scheme

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_KEY",
    "MAX_OFFSET",
    "MAX_PAGE",
    "MAX_REPLAY_KEYS",
    "BadParameter",
    "BodyLimit",
    "Key",
    "Offset",
    "Page",
    "RowId",
    "Time",
    "local_time",
    "parse_time",
    "problems",
    "zone_of",
]

MAX_OFFSET = 10_000_000
"""Deepest offset a search may page to; narrow a search with ``since``/``until`` instead."""
MAX_PAGE = 200_000
"""Last page number of the records page (50 rows a page: :data:`MAX_OFFSET`)."""
MAX_KEY = 192
"""Longest id, number or scheme id a request may give: 191 characters and a trailing ``*``."""
MAX_REPLAY_KEYS = 10_000
"""Most records one replay may list."""
MAX_BODY_BYTES = 2 * 1024 * 1024
"""Largest request body accepted (a replay of :data:`MAX_REPLAY_KEYS` records fits)."""
_FIRST = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = datetime(9999, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)
TIME_RANGE = "must lie in the years 1970 to 9998"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


def _in_range(value: datetime) -> datetime:
    """A time of 1970 to 9998; one without a zone is checked a day inside, so any zone fits."""
    if value.tzinfo is None or value.utcoffset() is None:
        if not (_FIRST + _DAY).replace(tzinfo=None) <= value < (_LAST - _DAY).replace(tzinfo=None):
            raise ValueError(TIME_RANGE)
        return value
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(TIME_RANGE) from None
    if not _FIRST <= utc < _LAST:
        raise ValueError(TIME_RANGE)
    return value


Key = Annotated[str, Field(max_length=MAX_KEY), AfterValidator(_no_nul)]
"""A scheme id, record id or number (a prefix pattern ends with ``*``)."""
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
Page = Annotated[int, Field(ge=0, le=MAX_PAGE)]
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]
"""A run id: a positive 64-bit integer, as every store backend keeps it."""
Time = Annotated[datetime, AfterValidator(_in_range)]
"""A time of the years 1970 to 9998, with or without a zone (see :func:`local_time`)."""

_TIME = TypeAdapter(Time)


class BadParameter(ValueError):
    """A request parameter is out of bounds; ``str()`` names the parameter. The app answers
    it with 422 (the message page for a page, JSON for the API)."""


def parse_time(text: str | None, name: str) -> datetime | None:
    """A time typed in a page's form (``2024-06-01T10:00``), or ``None`` when blank.

    Raises:
        BadParameter: ``text`` is not a time of the years 1970 to 9998 (the message names ``name``).
    """
    if not text or not text.strip():
        return None
    try:
        return _TIME.validate_python(text.strip())
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise BadParameter(f"{name}: {message} (got {shown(text, 80)})") from None


def zone_of(schemes: Mapping[str, Scheme], scheme_id: str | None) -> ZoneInfo:
    """The zone of naive times in a request about ``scheme_id``: the scheme's own
    (``settings.timezone``), else the console's (Asia/Shanghai)."""
    scheme = schemes.get(scheme_id) if scheme_id else None
    return scheme.tz if scheme is not None else SHANGHAI


def local_time(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    """``value`` with ``zone`` attached when it has none (``None`` stays ``None``)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone)


def problems(errors: list[Any]) -> list[str]:
    """One line per validation error: ``offset: Input should be ... (got '-1')``."""
    lines = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("query", "path", "body")]
        where = ".".join(loc) or "request"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        got = f" (got {shown(error['input'], 80)})" if "input" in error and error["input"] is not None else ""
        lines.append(f"{where}: {message}{got}")
    return lines


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware answering 413 to a request whose body is over ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before the body is read; a body
    sent without one (chunked) is counted as it arrives and refused once over the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and (len(declared) > 18 or int(declared) > self.max_bytes):
            await self._refuse(send, f"{int(declared):,}" if len(declared) <= 18 else "over 10^18")
            return
        received = 0
        over = refused = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise _TooLarge
            return message

        async def replacing_send(message: Message) -> None:
            nonlocal refused
            if not over:
                await send(message)
            elif not refused and message["type"] == "http.response.start":
                refused = True  # the app answered the broken body (400): answer 413 instead
                await self._refuse(send, f"more than {self.max_bytes:,}")

        try:
            await self.app(scope, counting_receive, replacing_send)
        except _TooLarge:
            if not refused:
                await self._refuse(send, f"more than {self.max_bytes:,}")

    async def _refuse(self, send: Send, size: str) -> None:
        detail = f"request body too large: {size} bytes; the console accepts at most {self.max_bytes:,} bytes"
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
