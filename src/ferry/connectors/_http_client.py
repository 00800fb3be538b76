"""The one place connectors build their HTTP client: redirects never leave the configured host.

httpx drops ``Authorization`` when a redirect leaves the origin, but it sends on every other
header (a custom ``X-Api-Key``, a vendor's signed headers), and the redirect target may carry
a query-string token or signature the server copied into ``Location``. So a connector's
client follows a redirect only to the same scheme, host and port (or from ``http`` to
``https`` on the same host). A redirect anywhere else fails the call with a
:class:`~ferry.errors.ConfigError` naming both hosts, before a byte is sent to the other one::

    client = open_client(spec.label(), base_url=spec.base_url, timeout=30, transport=None)
    client.get("/orders")   # a 302 to https://elsewhere.example -> ConfigError
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from ferry.errors import ConfigError

__all__ = ["open_client", "origin"]


def open_client(
    label: str,
    *,
    base_url: str,
    timeout: float,
    transport: httpx.BaseTransport | None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Client:
    """An ``httpx.Client`` that follows redirects on its own host only (see the module doc).

    Args:
        label: The connection's safe label, for the error (``http connection 'shop'``).
        base_url: The API root every request is relative to.
        timeout: Seconds before a request times out.
        transport: An ``httpx.BaseTransport`` (the sandbox, a test's mock) or ``None``.
        headers: Headers sent on every request (credentials included).
    """
    return httpx.Client(
        base_url=base_url,
        headers=dict(headers or {}),
        timeout=timeout,
        transport=transport,
        follow_redirects=True,
        event_hooks={"response": [_stay_on_host(label)]},
    )


def origin(url: httpx.URL) -> str:
    """``scheme://host[:port]`` of ``url`` (no path, query or credentials)."""
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}"


def _same_host(source: httpx.URL, target: httpx.URL) -> bool:
    if source.host != target.host:
        return False
    if (source.scheme, source.port) == (target.scheme, target.port):
        return True
    return (source.scheme, target.scheme) == ("http", "https") and source.port is None and target.port is None


def _stay_on_host(label: str) -> Callable[[httpx.Response], None]:
    def check(response: httpx.Response) -> None:
        if not response.has_redirect_location:
            return
        source = response.request.url
        try:
            target = source.join(response.headers["Location"])
        except httpx.InvalidURL:
            return  # httpx refuses to follow it and raises its own error
        if _same_host(source, target):
            return
        raise ConfigError(
            f"{label}: {response.request.method} {source.path}: HTTP {response.status_code} redirects "
            f"from {origin(source)} to {origin(target)}; Ferry follows redirects on the same host only, "
            "so no credential is sent to another host\n"
            "  hint: if the API has moved, set the connection's base_url to its new address"
        )

    return check
