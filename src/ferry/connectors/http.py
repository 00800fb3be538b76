"""The generic JSON-over-HTTP connector (source and target).

As a source, ``fetch`` sends the rendered request (GET: query parameters; POST: a JSON or form
body, per the connection's ``body``) with the paging parameters on top, checks the answer's
status (``status_path``/``status_ok``), reads the records at ``records_path`` and applies the
``last_page`` rule. A scheme's source metadata can set all three with QEasy's ``otherResponse``
(``StatusKey``/``StatusValue``, ``DataKey``, ``PageKey``; see :mod:`ferry.scheme._response`). As a target, ``write`` POSTs the packed
body as JSON. Every failure is classified, never retried here (the engine owns retries):

==========================  ========================================================
401 / 403                   ``ConfigError`` (connection named, response text quoted)
429                         ``ThrottledError`` with ``retry_after`` from Retry-After
408, 5xx, timeouts,         ``RetriableError``
connection errors
invalid JSON, missing       ``RetriableError`` quoting the start of the body (and, for
``records_path``            the records, how to say where they are)
a 2xx answer whose          throttling words: ``ThrottledError``; busy or 5xx words:
``status_path`` is not      ``RetriableError``; credentials words: ``ConfigError``; any
``status_ok``               other: ``ConfigError`` (the vendor's status and message quoted)
a record that is not an     the record's place holds a ``Rejected`` (the collector stores
object or cannot be read    it as a dead letter); the rest of the page is read
other 4xx                   source: ``ConfigError``; target: ``Outcome(ok=False)`` per record
==========================  ========================================================

As a target, a 2xx answer acknowledges every record of the call, unless the connection's
``write_ack`` names what the answer must hold (a success code, the id of each record): then a
record the answer does not acknowledge is ``Outcome(ok=False)`` quoting the answer.

Messages quote at most 300 characters of the response and never a credential. Redirects are
followed on the connection's own host only; a redirect to another host fails the call with a
``ConfigError`` naming both hosts, so no credential header or query token leaves the configured
host (:mod:`ferry.connectors._http_client`).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

import httpx
import orjson

from ferry._json import DecodeError
from ferry._redact import redact
from ferry.connectors._dotted import MISSING, get_path
from ferry.connectors._http_ack import acknowledged
from ferry.connectors._http_client import open_client
from ferry.connectors._http_paging import next_state, paginator_for
from ferry.connectors._http_status import check_status, records_hint
from ferry.connectors._lenient import decode_page, reject_non_objects
from ferry.connectors.base import Delivery, Limits, Outcome, Page, PageState
from ferry.connectors.specs import HttpConnection
from ferry.errors import ConfigError, RetriableError, ThrottledError

__all__ = ["HttpConnector"]

_QUOTE_LIMIT = 300


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_json_default)


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _dumps(value).decode()
    return str(value)


def _flat_params(values: Mapping[str, Any]) -> dict[str, str]:
    """Query/form parameters as text: ``None`` dropped, bools ``true``/``false``, containers JSON."""
    return {str(key): _param_text(value) for key, value in values.items() if value is not None}


def _retry_after(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class HttpConnector:
    """Source and target for a generic JSON API described by an :class:`HttpConnection`."""

    def __init__(self, spec: HttpConnection, *, transport: httpx.BaseTransport | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.limits = Limits(
            max_window=timedelta(seconds=spec.max_window_seconds) if spec.max_window_seconds else None,
            max_page_size=spec.paging.max_page_size,
            default_page_size=spec.paging.page_size,
            page_base=spec.paging.start,
            rate_per_second=spec.rate_per_second,
        )
        self.pager = paginator_for(spec)
        """The connection's ``paging`` and ``last_page`` (:mod:`ferry.connectors._http_paging`)."""
        self._label = spec.label()
        self._secrets = spec.secret_values()
        self._secret_names = spec.secret_names()
        headers = {"Accept": "application/json"}
        headers |= {name: value.get_secret_value() for name, value in spec.headers.items()}
        self._auth_params: dict[str, str] = {}
        auth = spec.auth
        if auth is not None:
            secret = auth.value.get_secret_value()
            if auth.type == "bearer":
                headers["Authorization"] = f"Bearer {secret}"
            elif auth.type == "header":
                headers[auth.name] = secret
            else:
                self._auth_params[auth.name] = secret
        self._client = open_client(
            self._label, base_url=spec.base_url, headers=headers, timeout=spec.timeout, transport=transport
        )

    # -- source ---------------------------------------------------------------------------

    def fetch(self, api: str, method: str, request: Mapping[str, Any], state: PageState) -> Page:
        """Fetch one page of records; see the module docstring for paging and errors."""
        values = {**request, **self.pager.request_fields(state)}
        response = self._send(method, api, values)
        where = f"{self._label}: {method.upper()} {api}"
        if response.is_success:
            document = self._parse(response, where)
        else:
            self._raise_for_status(response, where)
        if self.spec.status_path is not None:
            check_status(self.spec, document, where, self._quote)
        records = self._records(document, response, where)
        total = self._total(document)
        following = next_state(
            self.spec, self.pager, document=document, records=records, state=state, total=total, where=where
        )
        return Page(records=records, next=following, total=total)

    def _records(self, document: Any, response: httpx.Response, where: str) -> list[Any]:
        """The records at ``records_path``; a missing path or a value that is not a list is a
        ``RetriableError`` naming both ways to say where the records are."""
        path = self.spec.records_path
        records = get_path(document, path)
        if records is MISSING or (records is not None and not isinstance(records, list)):
            what = (
                f"response has no records at {path!r}"
                if records is MISSING
                else f"records at {path or '(body)'!r} are not a list"
            )
            raise RetriableError(
                f"{where}: {what}: {self._quote(response.text)}\n  hint: {records_hint(document)}"
            )
        if records is None:
            return []
        if not all(isinstance(r, dict) for r in records):
            return reject_non_objects(records)
        return records

    def _total(self, document: Any) -> int | None:
        if not self.spec.total_path:
            return None
        value = get_path(document, self.spec.total_path)
        try:
            return int(value) if value is not MISSING and value is not None else None
        except (TypeError, ValueError):
            return None

    def _send(self, method: str, api: str, values: Mapping[str, Any]) -> httpx.Response:
        verb = method.upper() or "GET"
        params: dict[str, str] = dict(self._auth_params)
        kwargs: dict[str, Any] = {}
        if verb in ("GET", "DELETE", "HEAD"):
            params.update(_flat_params(values))
        elif self.spec.body == "form":
            kwargs["data"] = _flat_params(values)
        else:
            kwargs["content"] = _dumps(dict(values))
            kwargs["headers"] = {"Content-Type": "application/json"}
        return self._request(verb, api, params=params, **kwargs)

    def _request(self, verb: str, api: str, **kwargs: Any) -> httpx.Response:
        where = f"{self._label}: {verb} {api}"
        try:
            return self._client.request(verb, api, **kwargs)
        except httpx.TimeoutException as exc:
            raise RetriableError(f"{where} timed out after {self.spec.timeout:g}s") from exc
        except httpx.TransportError as exc:
            raise RetriableError(f"{where} failed: {type(exc).__name__}: {self._redact(str(exc))}") from exc
        except httpx.InvalidURL as exc:
            raise ConfigError(f"{where}: invalid URL: {exc}") from exc

    def _parse(self, response: httpx.Response, where: str) -> Any:
        try:
            return decode_page(response.content, self.spec.records_path)
        except DecodeError as exc:
            raise RetriableError(
                f"{where}: response is not valid JSON (HTTP {response.status_code}): {self._quote(response.text)}"
            ) from exc

    def _raise_for_status(self, response: httpx.Response, where: str) -> NoReturn:
        """Raise the error class for a non-2xx response (see the module table)."""
        status = response.status_code
        text = self._quote(response.text)
        if status in (401, 403):
            raise ConfigError(
                f"{where}: HTTP {status}, credentials rejected: {text}\n  hint: check the auth settings"
            )
        if status == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            raise ThrottledError(f"{where}: HTTP 429, throttled: {text}", retry_after=retry_after)
        if status == 408 or status >= 500 or status < 400:
            raise RetriableError(f"{where}: HTTP {status}: {text}")
        raise ConfigError(f"{where}: HTTP {status}, request rejected: {text}")

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets, names=self._secret_names)

    def _quote(self, text: str) -> str:
        text = self._redact(text)
        return repr(text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "...")

    # -- target ---------------------------------------------------------------------------

    def write(self, delivery: Delivery) -> Sequence[Outcome]:
        """POST (or PUT/PATCH per ``delivery.method``) ``delivery.body`` as JSON to ``delivery.api``.

        2xx: every record ok, with the parsed response, unless the connection's ``write_ack``
        asks more of the answer (a success code, the id the API promises; see
        :mod:`ferry.connectors._http_ack`): a record it does not acknowledge is ``ok=False``
        quoting the answer. Other 4xx (not 401/403/408/429): every record ``ok=False`` with the
        status and response text. Everything else raises as in :meth:`fetch`.
        """
        verb = delivery.method.upper() if delivery.method.upper() in ("PUT", "PATCH") else "POST"
        where = f"{self._label}: {verb} {delivery.api}"
        response = self._request(
            verb,
            delivery.api,
            params=dict(self._auth_params),
            content=_dumps(delivery.body),
            headers={"Content-Type": "application/json"},
        )
        status = response.status_code
        if response.is_success:
            try:
                body: Any = orjson.loads(response.content) if response.content else None
            except orjson.JSONDecodeError:
                body = response.text[:_QUOTE_LIMIT]
            return acknowledged(self.spec.write_ack, delivery, body, f"{where}: HTTP {status}", self._quote)
        if 400 <= status < 500 and status not in (401, 403, 408, 429):
            error = f"HTTP {status}: {self._quote(response.text)}"
            return [Outcome(record_id=rid, ok=False, error=error) for rid in delivery.record_ids]
        self._raise_for_status(response, where)

    def close(self) -> None:
        """Close the HTTP client and its connections."""
        self._client.close()

    def __enter__(self) -> HttpConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def vendor_time(self) -> datetime | None:
        """``None``: this connector reads no vendor clock from its answers (their ``Date``
        header), so the collector holds no window's cursor back."""
        return None
