"""The two WangDianTong signatures: openapi2's length-prefixed MD5 and Qimen's TOP MD5.

Both are pure functions of the parameters and the secret, shared by the connector (which signs)
and the sandbox simulator (which verifies). docs/vendor-protocols.md §5.3 and §5.7 give the algorithms and
the test vectors that ``tests/connectors/test_wdt_sign.py`` pins.

Direct (企业版 openapi2, the official PHP ``WdtClient::packData``/``makeSign``)::

    pairs  = for each key in sorted order, skipping "sign":
             "%02d" % len(key) + "-" + key + ":" + "%04d" % len(value) + "-" + value
    sign   = md5(";".join(pairs) + appsecret), lower-case hex

``len`` counts characters, not bytes (PHP ``iconv_strlen``): ``店铺01`` has length 4. Empty values
are signed like any other (the official code keeps them).

Qimen (奇门, Taobao TOP ``sign_method=md5``)::

    sign = MD5(secret + "".join(key + value for key in sorted keys, skipping "sign") + secret),
           upper-case hex

TOP skips parameters whose value is empty; so does :func:`qimen_sign`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

__all__ = ["qimen_sign", "wdt_pack", "wdt_sign"]


def wdt_pack(params: Mapping[str, str]) -> str:
    """The text the openapi2 signature hashes (before the app secret is appended)."""
    return ";".join(
        f"{len(key):02d}-{key}:{len(value):04d}-{value}"
        for key, value in sorted(params.items())
        if key != "sign"
    )


def wdt_sign(params: Mapping[str, str], secret: str) -> str:
    """The openapi2 ``sign`` of ``params`` (lower-case hex MD5 of the packed text plus ``secret``)."""
    return hashlib.md5((wdt_pack(params) + secret).encode("utf-8")).hexdigest()


def qimen_sign(params: Mapping[str, str], secret: str) -> str:
    """The Qimen/TOP ``sign`` of ``params`` (upper-case hex MD5 of secret + sorted k+v + secret)."""
    body = "".join(f"{key}{value}" for key, value in sorted(params.items()) if key != "sign" and value != "")
    return hashlib.md5(f"{secret}{body}{secret}".encode()).hexdigest().upper()
