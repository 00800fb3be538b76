"""JuShuiTan open API v2 request signing (docs/vendor-protocols.md §4.3).

``sign = lowercase hex MD5(app_secret + k1 + v1 + k2 + v2 ...)`` over every form field except
``sign``, keys in ASCII order, no separators. Empty values are left out, as the simulator and
the lenient official clients do. ``biz`` is signed verbatim, so the JSON text signed must be the
text sent: :func:`biz_text` renders it once and both the signature and the form use it.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["biz_text", "random_code", "sign"]

_CODE_ALPHABET = string.ascii_letters + string.digits


def sign(app_secret: str, params: Mapping[str, Any]) -> str:
    """The v2 signature of the form fields ``params`` (``sign`` itself and empty values skipped).

    >>> sign("s", {"b": "2", "a": "1", "sign": "x", "c": ""}) == _md5("sa1b2")
    True
    """
    text = app_secret + "".join(
        f"{key}{params[key]}" for key in sorted(params) if key != "sign" and _present(params[key])
    )
    return _md5(text)


def biz_text(biz: Mapping[str, Any]) -> str:
    """The ``biz`` JSON as sent: compact, UTF-8 (Chinese kept as is), keys in the given order."""
    return orjson.dumps(dict(biz), default=str).decode()


def random_code(length: int = 6) -> str:
    """A random alphanumeric ``code`` for ``/openWeb/auth/getInitToken`` (自有商城 apps)."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


def _present(value: Any) -> bool:
    return value is not None and str(value) != ""


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()
