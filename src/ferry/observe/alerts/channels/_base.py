"""What every channel shares: the :class:`Channel` protocol and the HTTP POST with error mapping.

A channel turns a :class:`~ferry.observe.alerts.messages.Message` into one request to one
receiver and raises when the receiver did not take it: :class:`~ferry.errors.ConfigError` when
retrying cannot help (bad signature, unknown robot, refused login), else
:class:`~ferry.errors.RetriableError` (5xx, throttled, unreachable). The monitor records either
as a failed notice and sends it again on its next evaluation. Error texts never hold the
webhook URL, a token, a signing secret or a password: they are masked before they leave.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, Protocol

import httpx

from ferry.errors import ConfigError, FerryError, RetriableError
from ferry.observe.alerts.messages import Message, redact_text

__all__ = ["Channel", "HttpChannel"]


class Channel(Protocol):
    """One place notices go to."""

    name: str
    type: str

    def describe(self) -> str:
        """A label safe to show (type and host, never the token)."""
        ...

    def send(self, message: Message) -> None:
        """Deliver ``message`` or raise ``ConfigError``/``RetriableError`` saying why not."""
        ...


class HttpChannel:
    """Base of the robots and the generic webhook: one JSON POST per notice."""

    type = "http"

    def __init__(
        self,
        name: str,
        url: str,
        secrets: list[str],
        *,
        timeout: float,
        client: httpx.Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._url = url
        self._secrets = [s for s in secrets if s]
        self._timeout = timeout
        self._client = client
        self._clock = clock

    def describe(self) -> str:
        """``dingtalk channel 'ops' (oapi.dingtalk.com)``."""
        try:
            host = httpx.URL(self._url).host or "?"
        except (httpx.InvalidURL, TypeError):
            host = "?"
        return f"{self.type} channel {self.name!r} ({host})"

    def redact(self, text: str) -> str:
        """``text`` with this channel's URL, tokens and secrets masked."""
        return redact_text(text, [self._url, *self._secrets])

    def post(
        self,
        payload: Any,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST ``payload`` as JSON; a transport problem or an HTTP error status raises."""
        label = self.describe()
        try:
            url = httpx.URL(self._url)
            if params:
                url = url.copy_merge_params(dict(params))
            response = self._client.post(
                url, json=payload, headers=dict(headers or {}), timeout=self._timeout
            )
        except httpx.TimeoutException:
            raise RetriableError(f"{label}: no answer within {self._timeout:g}s") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise RetriableError(self.redact(f"{label}: cannot send: {type(exc).__name__}: {exc}")) from None
        if response.status_code >= 400:
            body = self.redact(response.text[:300].strip())
            error = (
                RetriableError
                if response.status_code in (408, 429) or response.status_code >= 500
                else ConfigError
            )
            raise error(f"{label}: HTTP {response.status_code}" + (f": {body}" if body else ""))
        return response

    def answer(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON object a robot answered; anything else (an HTML page from a proxy) raises."""
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            text = self.redact(response.text[:200].strip()) or "(empty body)"
            raise RetriableError(
                f"{self.describe()}: unexpected answer (HTTP {response.status_code}): {text}"
            )
        return data

    def vendor_error(self, code: Any, text: Any, fatal: AbstractSet[int]) -> FerryError:
        """The error for a robot's non-zero code: ``ConfigError`` if it is in ``fatal``."""
        message = self.redact(f"{self.describe()}: errcode {code}: {text}")
        try:
            numeric = int(code)
        except (TypeError, ValueError):
            numeric = -1
        return ConfigError(message) if numeric in fatal else RetriableError(message)
