"""JuShuiTan result codes mapped onto Ferry's errors (docs/vendor-protocols.md §4.6).

======================  ====================================================================
0                       success
10 (invalid sign)       ``ConfigError``: app_key / app_secret are wrong
100 (token expired)     handled by the connector: renew the token once, retry the call once;
                        still 100 -> ``AuthExpiredError``
110 / 190 / 150         ``ConfigError`` (IP whitelist, API permission, ISV may not refresh)
140 (timestamp)         ``ConfigError``: this machine's clock is off by more than 15 minutes
199 (5 per second)      ``ThrottledError``, ``retry_after`` 1 s
200 (100 per minute)    ``ThrottledError``, ``retry_after`` = seconds to the next minute
"busy" texts, code < 0  ``RetriableError`` (系统繁忙, 稍后重试, 超时 ...)
anything else           ``ConfigError``: the vendor rejected the request's parameters
======================  ====================================================================
"""

from __future__ import annotations

from typing import Any

from ferry.connectors._vendor import VendorClient
from ferry.errors import FerryError

__all__ = ["EXPIRED", "OK", "error_for", "result_code"]

OK = 0
EXPIRED = 100

_CONFIG_HINTS = {
    10: "check app_key and app_secret: the vendor could not verify the request's MD5 signature",
    110: "add this machine's public IP to the app's whitelist on the JuShuiTan open platform",
    140: "this machine's clock differs from Beijing time by more than 15 minutes; sync it (NTP)",
    150: (
        "ISV (服务商) apps may not renew their access_token: authorize the app again and "
        "set the new access_token on the connection"
    ),
    190: "grant the app this API on the JuShuiTan open platform (无API权限)",
}
_TRANSIENT_WORDS = ("繁忙", "稍后", "超时", "系统异常", "服务异常", "busy", "timeout")


def result_code(body: Any) -> int | None:
    """The envelope's ``code`` as an int, or ``None`` when the body has no usable code."""
    code = body.get("code") if isinstance(body, dict) else None
    if code is None or isinstance(code, bool):
        return None
    try:
        return int(code)
    except (TypeError, ValueError):
        return None


def error_for(
    client: VendorClient, api: str, code: int, message: Any, *, now: float, rejected_hint: str
) -> FerryError:
    """The error for a non-zero ``code`` other than an expired token handled by the caller.

    ``now`` (epoch seconds) places the per-minute retry at the next minute; ``rejected_hint``
    is the hint for codes that mean "this request is wrong".
    """
    if code in _CONFIG_HINTS:
        return client.config_error(api, code, message, _CONFIG_HINTS[code])
    if code == 199:
        return client.throttled(api, code, message, retry_after=1.0)
    if code == 200:
        return client.throttled(api, code, message, retry_after=max(1.0, 60.0 - now % 60.0))
    if code == EXPIRED:
        return client.expired(api, code, message)
    text = str(message or "")
    if code < 0 or any(word in text.lower() for word in _TRANSIENT_WORDS):
        return client.retriable(api, code, message)
    return client.config_error(api, code, message, rejected_hint)
