"""K3Cloud authentication checks: login bodies and the SDK's signed headers (docs/vendor-protocols.md §1.3).

Pure functions over the demo account (:class:`Account`); the simulator decides what to answer.

* ``ValidateUser`` body: a named object (keys matched case-insensitively: ``acctid``,
  ``username``, ``password``, ``lcid``), ``{"parameters": [acctId, user, pwd, lcid]}``, or the
  legacy envelope whose ``parameters`` is a JSON *string* of that array.
* ``LoginByAppSecret``: ``parameters`` = ``[acctId, user, appId, appSecret, lcid]``.
* ``LoginBySign``: ``parameters`` = ``[acctId, user, appId, timestamp, sign, lcid]`` with
  ``sign = sha256_hex("".join(sorted([acctId, user, appId, appSecret, timestamp])))``.
* Signed headers (SDK ``BuildHeader``): ``X-Api-Signature`` = base64 of the lower-case hex
  HMAC-SHA256 of ``"POST\\n" + quoted_path + "\\n\\nx-api-nonce:" + nonce + "\\nx-api-timestamp:"
  + ts + "\\n"`` keyed by the client secret decoded from the AppID; ``X-Kd-Signature`` = the same
  encoding of HMAC-SHA256(AppSecret, AppID + app_data); ``X-Kd-Appdata`` = base64 of
  ``acctId,user,lcid,orgNum``. Both signatures are also accepted as bare hex (the C# SDK,
  §1.3.C [CONFLICT]); timestamps in seconds or milliseconds (§1.3.C step 2 [CONFLICT]).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

__all__ = [
    "LCIDS",
    "Account",
    "api_signature",
    "decode_app_secret",
    "kd_signature",
    "login_parameters",
    "login_sign",
    "signature_matches",
    "verify_signed_headers",
]

XOR_SOURCE = "0054s397p6234378o09pn7q3r5qropr7"
LCIDS = frozenset({"2052", "1033", "3076"})
"""Languages a data centre accepts (simplified Chinese, English, traditional Chinese)."""


@dataclass(frozen=True)
class Account:
    """The one user of the simulated data centre."""

    acct_id: str
    username: str
    password: str
    app_id: str
    app_secret: str


def decode_app_secret(part: str) -> str:
    """The client secret hidden in the AppID's second half (``""`` unless 32 characters)."""
    if len(part) != 32:
        return ""
    try:
        raw = base64.b64decode(part)
    except (binascii.Error, ValueError):
        return ""
    key = codecs.encode(XOR_SOURCE, "rot13").encode()
    return base64.b64encode(bytes(b ^ key[i % len(key)] for i, b in enumerate(raw))).decode()


def _hmac_hex(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def api_signature(app_id: str, path: str, nonce: str, timestamp: str) -> str:
    """``X-Api-Signature`` for a POST to ``path`` (the URL path, before quoting)."""
    client_sec = decode_app_secret(app_id.split("_", 1)[1]) if "_" in app_id else ""
    quoted = quote(path, encoding="utf-8").replace("/", "%2F")
    text = f"POST\n{quoted}\n\nx-api-nonce:{nonce}\nx-api-timestamp:{timestamp}\n"
    return _b64(_hmac_hex(client_sec, text))


def kd_signature(app_id: str, app_secret: str, app_data: str) -> str:
    """``X-Kd-Signature``: base64 of the hex HMAC-SHA256(AppSecret, AppID + app_data)."""
    return _b64(_hmac_hex(app_secret, app_id + app_data))


def signature_matches(sent: str, expected_b64: str) -> bool:
    """Whether ``sent`` is ``expected_b64`` or the bare hex inside it (constant time)."""
    hex_form = base64.b64decode(expected_b64).decode()
    return hmac.compare_digest(sent, expected_b64) or hmac.compare_digest(sent.lower(), hex_form)


def login_sign(acct_id: str, username: str, app_id: str, app_secret: str, timestamp: str) -> str:
    """The ``LoginBySign`` signature (values sorted as JavaScript sorts strings)."""
    values = sorted([acct_id, username, app_id, app_secret, timestamp], key=lambda s: s.encode("utf-16-be"))
    return hashlib.sha256("".join(values).encode()).hexdigest()


def _timestamp_seconds(text: str) -> float | None:
    if not text.isdigit():
        return None
    value = int(text)
    return value / 1000 if len(text) >= 13 else float(value)


def verify_signed_headers(
    headers: Mapping[str, str], path: str, account: Account, now: float, tolerance: float | None
) -> str | None:
    """``None`` when the ``X-Api-*``/``X-Kd-*`` headers authenticate ``account``, else why not.

    The reason is for the simulator's call log; the client only ever sees ``MsgCode`` 1.
    """
    app_id = headers.get("x-kd-appkey", "")
    timestamp = headers.get("x-api-timestamp", "")
    nonce = headers.get("x-api-nonce", "")
    if app_id != account.app_id:
        return "X-Kd-Appkey is not the application's AppID"
    if headers.get("x-api-clientid", "") != app_id.split("_", 1)[0]:
        return "X-Api-ClientID does not match the AppID"
    seconds = _timestamp_seconds(timestamp)
    if seconds is None:
        return "x-api-timestamp is not a Unix time"
    if tolerance is not None and abs(now - seconds) > tolerance:
        return f"x-api-timestamp is {int(now - seconds)} s away from the server clock"
    if not signature_matches(
        headers.get("x-api-signature", ""), api_signature(app_id, path, nonce, timestamp)
    ):
        return "X-Api-Signature does not match"
    try:
        app_data = base64.b64decode(headers.get("x-kd-appdata", ""), validate=True).decode()
    except (binascii.Error, ValueError):
        return "X-Kd-Appdata is not base64"
    expected = kd_signature(app_id, account.app_secret, app_data)
    if not signature_matches(headers.get("x-kd-signature", ""), expected):
        return "X-Kd-Signature does not match"
    parts = app_data.split(",")
    if len(parts) < 3:
        return "X-Kd-Appdata is not acctId,userName,lcid,orgNum"
    if parts[0] != account.acct_id:
        return "unknown data centre in X-Kd-Appdata"
    if parts[1] != account.username:
        return "unknown user in X-Kd-Appdata"
    if parts[2].strip() not in LCIDS:
        return "unsupported lcid in X-Kd-Appdata"
    return None


def login_parameters(body: Any, names: Sequence[str]) -> list[str] | None:
    """The login values in ``names`` order from any accepted body form, as text (``None``: unreadable).

    ``parameters`` may be a list or a JSON string of one; a named object is read by
    case-insensitive key (``acctID``/``acctid``).
    """
    if not isinstance(body, dict):
        return None
    lowered = {str(k).lower(): v for k, v in body.items()}
    params = lowered.get("parameters")
    if isinstance(params, str):
        try:
            params = orjson.loads(params)
        except orjson.JSONDecodeError:
            return None
    if isinstance(params, list):
        if len(params) < len(names):
            return None
        return ["" if v is None else str(v) for v in params[: len(names)]]
    if params is not None:
        return None
    values = [lowered.get(name.lower()) for name in names]
    return ["" if v is None else str(v) for v in values]
