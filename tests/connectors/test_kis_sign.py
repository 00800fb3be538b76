"""KIS-Signature (docs/vendor-protocols.md §2.3): SHA-256 hex of state + session_id + trace + secret + timestamp.

docs/vendor-protocols.md publishes no KIS vector, so these are COMPUTED: each expected digest was produced
outside Python with coreutils, ``printf '%s' '<concatenation>' | sha256sum``, from the
documented concatenation order. They do not touch the sandbox.
"""

from __future__ import annotations

import pytest

from ferry.connectors._kis_sign import KIS_VERSION, kis_headers, kis_signature

VECTORS = [
    pytest.param(
        (
            "a1b2c3d4e5f6",
            "sid_0123456789abcdef",
            "8d7c6b5a-1e2f-4a3b-9c8d-7e6f5a4b3c2d",
            "s3cr3t-sess10n",
            "1717200000",
        ),
        "6aea334895339bd2c10c0144eed6db3a40b8e044fe3d440b1f92a5a0bb066627",
        id="uuid-trace",
    ),
    pytest.param(
        ("kis-state", "session-1", "trace-1", "secret-1", "1700000000"),
        "8bd0395716d21ea29b91c62c630220e79f83656ab984be6dfd3491a3fd7485da",
        id="plain",
    ),
    pytest.param(
        ("机器01", "sid-9", "trace-9", "密钥", "1717200000"),
        "d190c5e4f7308b9b84ec1f36ee97cb5dd273db3fde51ef84ac81bf2d9397e384",
        id="utf8",
    ),
]


@pytest.mark.parametrize(("values", "expected"), VECTORS)
def test_signature_matches_the_computed_vector(values, expected):
    assert kis_signature(*values) == expected


def test_signature_depends_on_the_documented_order():
    state, session, trace, secret, stamp = ("kis-state", "session-1", "trace-1", "secret-1", "1700000000")
    swapped = kis_signature(session, state, trace, secret, stamp)
    assert swapped != "8bd0395716d21ea29b91c62c630220e79f83656ab984be6dfd3491a3fd7485da"


def test_signed_business_headers_carry_the_signature_and_routing():
    headers = kis_headers(
        state="kis-state",
        trace_id="trace-1",
        timestamp=1_700_000_000,
        session_id="session-1",
        session_secret="secret-1",
        auth_data="AUTH",
        gw_router_addr="gw-1",
    )
    assert headers == {
        "Kis-State": "kis-state",
        "Kis-Timestamp": "1700000000",
        "Kis-Traceid": "trace-1",
        "Kis-Ver": KIS_VERSION,
        "KIS-Signature": "8bd0395716d21ea29b91c62c630220e79f83656ab984be6dfd3491a3fd7485da",
        "Kis-Authdata": "AUTH",
        "X-Gw-Router-Addr": "gw-1",
    }


def test_token_call_headers_are_unsigned():
    headers = kis_headers(state="s", trace_id="t", timestamp=1_700_000_000)
    assert set(headers) == {"Kis-State", "Kis-Timestamp", "Kis-Traceid", "Kis-Ver"}
    assert headers["Kis-Ver"] == "1.0"
