"""What every vendor connector shares: the connection fields and one classified HTTP client.

A vendor connector subclasses :class:`VendorConnection` for its spec and uses
:class:`VendorClient` for its calls. The client translates transport failures once, at the
boundary (docs/architecture.md §5):

==============================  ==================================================
timeouts, connection errors     ``RetriableError``
HTTP 5xx, 408                   ``RetriableError`` (the engine backs off with jitter)
HTTP 429                        ``ThrottledError`` with ``Retry-After``
invalid JSON (HTML error page)  ``RetriableError`` quoting the start of the body
a redirect to another host      ``ConfigError`` naming both hosts (nothing is sent there)
a record that cannot be read    a ``Rejected`` in its place (``connectors._lenient``)
==============================  ==================================================

Vendor result codes inside a 200 answer are the connector's business: it maps them with
:meth:`VendorClient.config_error`, :meth:`VendorClient.throttled` and friends, which build
messages naming the connection and quoting the vendor's code and text, never a secret.
"""

from __future__ import annotations

import email.utils
import hashlib
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from pydantic import Field, PositiveFloat

from ferry._json import DecodeError
from ferry._redact import redact as redact_text
from ferry.connectors._http_client import open_client
from ferry.connectors._lenient import decode_page
from ferry.connectors.base import Limits
from ferry.connectors.specs import ConnectionSpec
from ferry.errors import AuthExpiredError, ConfigError, RetriableError, ThrottledError

__all__ = ["VendorClient", "VendorConnection", "VendorSource"]

QUOTE_LIMIT = 300


class VendorConnection(ConnectionSpec):
    """Fields every vendor connection has, besides its credentials."""

    base_url: str = Field(pattern=r"^https?://", description="The vendor's API root (or the sandbox's).")
    timeout: PositiveFloat = Field(30.0, description="Seconds before a request times out.")
    rate_per_second: PositiveFloat | None = Field(
        None, description="Override the vendor's documented call budget per second for these credentials."
    )
    rate_per_minute: PositiveFloat | None = Field(
        None, description="Override the vendor's documented call budget per minute for these credentials."
    )

    def budget_key(self) -> str:
        """Whose calls the vendor counts: type, then a digest of the endpoint and the app's
        identity (``kuaimai:3f0c...``). A digest, because the key is stored (the shared rate
        budget's table, Redis) and the endpoint and app key may come from ``${VAR}``s."""
        ident = next(
            (
                str(getattr(self, name))
                for name in ("app_key", "client_id", "sid", "acct_id", "username")
                if getattr(self, name, None)
            ),
            self.name,
        )
        who = f"{self.base_url.rstrip('/')}:{ident}".encode()
        return f"{self.type}:{hashlib.blake2b(who, digest_size=12).hexdigest()}"

    def limits(self, defaults: Limits) -> Limits:
        """``defaults`` (the vendor's documented limits) with this connection's overrides."""
        return Limits(
            max_window=defaults.max_window,
            max_page_size=defaults.max_page_size,
            default_page_size=defaults.default_page_size,
            page_base=defaults.page_base,
            rate_per_second=self.rate_per_second or defaults.rate_per_second,
            rate_per_minute=self.rate_per_minute or defaults.rate_per_minute,
        )


def _retry_after(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    parsed = email.utils.parsedate_to_datetime(header) if header else None
    if parsed is None:
        return None
    return max(0.0, parsed.timestamp() - time.time())


class VendorClient:
    """An ``httpx.Client`` for one connection whose failures arrive as Ferry errors.

    Args:
        spec: The connection (for its label, base URL, timeout and secrets).
        transport: An ``httpx.BaseTransport`` (the sandbox, or ``None`` for the network).
    """

    def __init__(self, spec: VendorConnection, *, transport: httpx.BaseTransport | None = None) -> None:
        self.spec = spec
        self.label = spec.label()
        self.secrets = [s for s in spec.secret_values() if len(s) >= 4]
        self.http = open_client(self.label, base_url=spec.base_url, timeout=spec.timeout, transport=transport)
        self.vendor_time: datetime | None = None
        """The vendor's clock as its last answer's ``Date`` header told it (tz-aware), if any."""

    def request(self, verb: str, url: str, *, api: str, **kwargs: Any) -> httpx.Response:
        """Send one request; transport failures and 5xx/408/429 raise (see the module table).

        ``api`` names the vendor operation in messages. Other statuses are returned as they are.
        """
        where = self.where(api)
        try:
            response = self.http.request(verb, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise RetriableError(f"{where}: timed out after {self.spec.timeout:g}s") from exc
        except httpx.TransportError as exc:
            raise RetriableError(f"{where}: {type(exc).__name__}: {self.redact(str(exc))}") from exc
        except httpx.InvalidURL as exc:
            raise ConfigError(f"{where}: invalid URL: {exc}") from exc
        self._note_date(response.headers.get("Date"))
        status = response.status_code
        if status == 429:
            raise ThrottledError(
                f"{where}: HTTP 429, throttled: {self.quote(response.text)}",
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status == 408 or status >= 500:
            raise RetriableError(f"{where}: HTTP {status}: {self.quote(response.text)}")
        return response

    def _note_date(self, header: str | None) -> None:
        if not header:
            return
        try:
            told = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            return  # a broken Date header tells nothing; the vendor's data still counts
        if told.tzinfo is not None:
            self.vendor_time = told

    def json(self, response: httpx.Response, *, api: str) -> Any:
        """The parsed JSON body (integers exact; a record that cannot be read is a ``Rejected``
        in its place); an HTML error page or broken JSON is a ``RetriableError``."""
        try:
            return decode_page(response.content)
        except DecodeError as exc:
            raise RetriableError(
                f"{self.where(api)}: response is not valid JSON (HTTP {response.status_code}): "
                f"{self.quote(response.text)}"
            ) from exc

    def where(self, api: str) -> str:
        """``kuaimai connection 'km': erp.aftersale.list.query``."""
        return f"{self.label}: {api}"

    def vendor_text(self, code: Any, message: Any) -> str:
        """``vendor code 100: 签名错误`` (redacted, truncated)."""
        return f"vendor code {code}: {self.quote(str(message), raw=True)}"

    def config_error(self, api: str, code: Any, message: Any, hint: str) -> ConfigError:
        """Bad credentials or signature: never retried; names the connection and quotes the vendor."""
        return ConfigError(f"{self.where(api)}: {self.vendor_text(code, message)}\n  hint: {hint}")

    def throttled(
        self, api: str, code: Any, message: Any, retry_after: float | None = None
    ) -> ThrottledError:
        """The vendor said "slow down"."""
        return ThrottledError(f"{self.where(api)}: throttled, {self.vendor_text(code, message)}", retry_after)

    def expired(self, api: str, code: Any, message: Any) -> AuthExpiredError:
        """The token or session expired even after logging in again."""
        return AuthExpiredError(f"{self.where(api)}: session expired, {self.vendor_text(code, message)}")

    def retriable(self, api: str, code: Any, message: Any) -> RetriableError:
        """A vendor-side transient failure (system busy, internal error)."""
        return RetriableError(f"{self.where(api)}: {self.vendor_text(code, message)}")

    def redact(self, text: str) -> str:
        """``text`` with every secret of the connection (and every remembered one) as ``***``."""
        return redact_text(text, self.secrets)

    def quote(self, text: str, *, raw: bool = False) -> str:
        """Redacted ``text``, cut to 300 characters; ``repr``-quoted unless ``raw``."""
        text = self.redact(text)
        text = text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT] + "..."
        return text if raw else repr(text)

    def close(self) -> None:
        """Close the underlying HTTP client."""
        self.http.close()


def window_limit(days: float | None = None, *, minutes: float | None = None) -> timedelta | None:
    """A window limit as a ``timedelta`` (``None`` when neither is given)."""
    if days is not None:
        return timedelta(days=days)
    if minutes is not None:
        return timedelta(minutes=minutes)
    return None


def form_text(values: Mapping[str, Any]) -> dict[str, str]:
    """Request values as form/query text: ``None`` dropped, bools lower-case, containers JSON."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[str(key)] = "true" if value else "false"
        elif isinstance(value, dict | list):
            out[str(key)] = orjson.dumps(value).decode()
        else:
            out[str(key)] = str(value)
    return out


class VendorSource:
    """Mixin of the vendor connectors: what the vendor's clock said (see ``clock_skew`` in
    the collector: a window's cursor never passes the vendor's own time)."""

    client: VendorClient

    def vendor_time(self) -> datetime | None:
        """The vendor's time from its last answer's ``Date`` header (second resolution)."""
        return self.client.vendor_time
