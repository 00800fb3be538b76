"""KuaiMai (快麦) open API request signing (docs/vendor-protocols.md §3.3).

Every call is a flat form of common parameters (``method``, ``appKey``, ``session``,
``timestamp``, ``format``, ``version``, ``sign_method``) and business parameters, signed as:

1. take every parameter except ``sign`` whose value is not ``None``;
2. sort the keys in ascending ASCII order;
3. concatenate ``key + value`` with no separator;
4. ``md5``: ``MD5(secret + text + secret)``; ``hmac``: ``HMAC-MD5(secret, text)``;
   ``hmac-sha256``: ``HMAC-SHA256(secret, text)``;
5. upper-case hex.

``sign_method`` is itself a signed parameter, so the same call has a different signature under
each method. The official example (secret ``helloworld``, ``open.system.time.get``) gives
``7905D5EF37CA177B9219DBFA603F773A7616F424D545E731AAFBB992408F6CEE`` with ``hmac-sha256``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Literal, get_args

__all__ = [
    "BEIJING",
    "COMMON_KEYS",
    "SIGN_METHODS",
    "SignMethod",
    "sign",
    "signed_form",
    "signing_text",
    "timestamp",
]

SignMethod = Literal["hmac", "md5", "hmac-sha256"]
SIGN_METHODS: tuple[str, ...] = get_args(SignMethod)
"""The three documented ``sign_method`` values; ``hmac`` (HMAC-MD5) is the gateway's default."""

BEIJING = timezone(timedelta(hours=8))
"""The gateway reads ``timestamp`` as Beijing time (GMT+8)."""

COMMON_KEYS = frozenset(
    {"method", "appKey", "session", "timestamp", "format", "version", "sign_method", "sign"}
)
"""Parameters the gateway owns; a business parameter of the same name is dropped."""


def signing_text(params: Mapping[str, str | None]) -> str:
    """The text that is signed: ``key + value`` for every non-``None`` parameter but ``sign``, by key."""
    return "".join(
        f"{key}{params[key]}" for key in sorted(params) if key != "sign" and params[key] is not None
    )


def sign(params: Mapping[str, str | None], secret: str, method: str = "hmac") -> str:
    """The upper-case hex signature of ``params`` under ``method``.

    Raises:
        ValueError: ``method`` is not one of :data:`SIGN_METHODS`.
    """
    text = signing_text(params).encode("utf-8")
    key = secret.encode("utf-8")
    if method == "md5":
        digest = hashlib.md5(key + text + key).hexdigest()
    elif method == "hmac":
        digest = hmac.new(key, text, hashlib.md5).hexdigest()
    elif method == "hmac-sha256":
        digest = hmac.new(key, text, hashlib.sha256).hexdigest()
    else:
        raise ValueError(f"unknown KuaiMai sign_method {method!r}; known: {', '.join(SIGN_METHODS)}")
    return digest.upper()


def timestamp(at: float) -> str:
    """``at`` (seconds since the epoch) as the gateway's ``yyyy-MM-dd HH:mm:ss`` Beijing time."""
    return datetime.fromtimestamp(at, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def signed_form(
    *,
    method: str,
    app_key: str,
    session: str | None,
    secret: str,
    sign_method: str,
    business: Mapping[str, str],
    at: float,
) -> dict[str, str]:
    """The complete form of one call: common parameters, ``business`` and ``sign``.

    Business parameters never replace common ones (a scheme field named ``method`` or
    ``session`` is ignored), so a request cannot change what is authenticated.
    """
    common = {
        "method": method,
        "appKey": app_key,
        "timestamp": timestamp(at),
        "format": "json",
        "version": "1.0",
        "sign_method": sign_method,
    }
    if session:
        common["session"] = session
    form = {key: value for key, value in business.items() if key not in COMMON_KEYS}
    form.update(common)
    form["sign"] = sign(form, secret, sign_method)
    return form
