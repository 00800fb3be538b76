"""Kingdee K3Cloud WebAPI signatures: pure functions, no I/O (docs/vendor-protocols.md §1.3).

Two algorithms, each pinned to vectors in ``tests/connectors/test_k3cloud_sign.py``:

* **LoginBySign** (§1.3.B): ``sign = sha256_hex("".join(sorted([acctId, username, appId,
  appSecret, timestamp])))``, the five values sorted as JavaScript's ``Array.sort`` sorts
  strings (UTF-16 code units), ``timestamp`` in Unix seconds.
* **Signed headers** (§1.3.C, the official Python SDK's ``BuildHeader``): per request,
  ``X-Api-Signature`` is an HMAC-SHA256 of the method, the URL-encoded path and the
  nonce/timestamp, keyed by the secret hidden in the second half of the AppID
  (:func:`decode_app_secret`); ``X-Kd-Signature`` is an HMAC-SHA256 of ``AppID + app_data``
  keyed by the AppSecret. Both are sent as base64 of the lower-case hex digest (the Python SDK;
  the document's [CONFLICT] notes that the C# SDK may send the bare hex, we follow the SDK whose
  code we have).
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import hmac
from urllib.parse import quote

__all__ = [
    "XOR_SOURCE",
    "api_sign_text",
    "app_data",
    "decode_app_secret",
    "hmac_hex_base64",
    "login_sign",
    "sign_path",
    "signed_headers",
    "split_app_id",
]

XOR_SOURCE = "0054s397p6234378o09pn7q3r5qropr7"
"""The SDK's 32-character XOR source; rot13 of it is the key that hides the client secret."""


def _rot13(text: str) -> str:
    return codecs.encode(text, "rot13")


def decode_app_secret(part: str, xor_source: str = XOR_SOURCE) -> str:
    """The client secret hidden in the second half of an AppID (SDK ``DecodeAppSecret``).

    ``base64(base64decode(part) XOR rot13(xor_source))``; an ``part`` that is not exactly 32
    characters gives ``""``, as in the SDK.
    """
    if len(part) != 32:
        return ""
    raw = base64.b64decode(part)
    key = _rot13(xor_source).encode("utf-8")
    return base64.b64encode(bytes(b ^ key[i] for i, b in enumerate(raw))).decode("ascii")


def split_app_id(app_id: str, xor_source: str = XOR_SOURCE) -> tuple[str, str]:
    """``(clientId, client_secret)`` from an AppID ``<clientId>_<32-char base64>``.

    An AppID that does not split into exactly two parts on ``_`` gives ``("", "")`` (SDK).
    """
    parts = app_id.split("_")
    if len(parts) != 2:
        return "", ""
    return parts[0], decode_app_secret(parts[1], xor_source)


def hmac_hex_base64(message: str, key: str) -> str:
    """``base64(lowercase_hex(HMAC-SHA256(key, message)))``: 88 characters (SDK ``HmacSHA256``)."""
    digest = hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode("utf-8")).decode("ascii")


def sign_path(url: str) -> str:
    """The request path as signed: from the first ``/`` after the host, URL-encoded, ``/`` -> ``%2F``.

    ``http://h/k3cloud/X.common.kdsvc`` -> ``%2Fk3cloud%2FX.common.kdsvc``.
    """
    path = url
    if url.startswith("http"):
        host_start = url.find("//") + 2 if "//" in url else 0
        slash = url.find("/", host_start)
        path = url[slash:] if slash >= 0 else "/"
    return quote(path, encoding="utf-8").replace("/", "%2F")


def api_sign_text(path: str, nonce: str, timestamp: str) -> str:
    """The text ``X-Api-Signature`` signs (``path`` as returned by :func:`sign_path`)."""
    return f"POST\n{path}\n\nx-api-nonce:{nonce}\nx-api-timestamp:{timestamp}\n"


def app_data(acct_id: str, username: str, lcid: int | str, org_num: int | str) -> str:
    """``acctId,userName,lcid,orgNum``: what ``X-Kd-Appdata`` carries (base64) and ``X-Kd-Signature`` signs."""
    return f"{acct_id},{username},{lcid},{org_num}"


def signed_headers(
    *,
    url: str,
    app_id: str,
    app_secret: str,
    acct_id: str,
    username: str,
    lcid: int | str,
    org_num: int | str,
    timestamp: str,
    nonce: str,
) -> dict[str, str]:
    """The SDK's per-request auth headers for a POST to ``url`` (names as in ``header_param.py``).

    ``timestamp`` is Unix seconds as text; the Python SDK uses the same text as ``nonce``.
    """
    client_id, client_secret = split_app_id(app_id)
    data = app_data(acct_id, username, lcid, org_num)
    return {
        "X-Api-ClientID": client_id,
        "X-Api-Auth-Version": "2.0",
        "x-api-timestamp": timestamp,
        "x-api-nonce": nonce,
        "x-api-signheaders": "x-api-timestamp,x-api-nonce",
        "X-Api-Signature": hmac_hex_base64(api_sign_text(sign_path(url), nonce, timestamp), client_secret),
        "X-Kd-Appkey": app_id,
        "X-Kd-Appdata": base64.b64encode(data.encode("utf-8")).decode("ascii"),
        "X-Kd-Signature": hmac_hex_base64(app_id + data, app_secret),
    }


def _utf16_key(text: str) -> bytes:
    return text.encode("utf-16-be")


def login_sign(acct_id: str, username: str, app_id: str, app_secret: str, timestamp: str) -> str:
    """The ``LoginBySign`` signature: lower-case hex SHA-256 of the five values sorted and joined.

    Sorted as JavaScript sorts strings (UTF-16 code units), which differs from Python's
    code-point order only for characters outside the Basic Multilingual Plane.
    """
    values = sorted([acct_id, username, app_id, app_secret, timestamp], key=_utf16_key)
    return hashlib.sha256("".join(values).encode("utf-8")).hexdigest()
