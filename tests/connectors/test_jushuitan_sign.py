"""JuShuiTan v2 signature against the published vectors (docs/vendor-protocols.md §4.3), no sandbox involved.

VERIFIED vectors come from ``ieu/jst-java`` ``DefaultJstDigestTest.java``; COMPUTED ones were
produced for this test with coreutils ``md5sum`` over the hand-written string to sign.
"""

from __future__ import annotations

import re

import pytest

from ferry.connectors._jushuitan_sign import biz_text, random_code, sign

SECRET = "e9c5ca33fecb404b8e6cdbd0ef4a6d25"
APP_KEY = "5b53060f23d84ddf9703056e84fa5a2d"
TOKEN = "d7b01bf0842a4742a9450e21ffd95f60"
TS = "1639128407"

BUSINESS = {
    "app_key": APP_KEY,
    "access_token": TOKEN,
    "timestamp": TS,
    "version": "2",
    "charset": "utf-8",
    "biz": '{"page_index":"1","page_size":"100","nicks":["老板"]}',
}
INIT_TOKEN = {
    "app_key": APP_KEY,
    "timestamp": TS,
    "grant_type": "authorization_code",
    "charset": "utf-8",
    "code": "123456",
}
REFRESH_TOKEN = {
    "app_key": APP_KEY,
    "timestamp": TS,
    "grant_type": "refresh_token",
    "charset": "utf-8",
    "refresh_token": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "scope": "all",
}
SEED_002_BIZ = {
    "modified_begin": "2024-05-01 00:00:00",
    "modified_end": "2024-05-08 00:00:00",
    "status": "Confirmed",
    "date_type": "0",
    "types": ["其它退货"],
    "page_index": 1,
    "page_size": 30,
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(BUSINESS, "395f5a78b446be465ac03a02491296c7", id="verified-business-call"),
        pytest.param(INIT_TOKEN, "05e3a51e19e0883afd1882ccd309e0b9", id="verified-getInitToken"),
        pytest.param(REFRESH_TOKEN, "cc220fbf0f0261775a4bcd2f58508cad", id="computed-refreshToken"),
        pytest.param(
            {**BUSINESS, "timestamp": "1714492800", "biz": biz_text(SEED_002_BIZ)},
            "cdbc2dac17d10a2382e19b868ff5feac",
            id="computed-seed-002-query",
        ),
    ],
)
def test_signature_matches_the_vector(params, expected):
    assert sign(SECRET, params) == expected


def test_the_sign_field_itself_and_empty_values_are_not_signed():
    padded = {**BUSINESS, "sign": "whatever", "empty": "", "missing": None}
    assert sign(SECRET, padded) == "395f5a78b446be465ac03a02491296c7"


def test_any_changed_value_changes_the_signature():
    assert sign(SECRET, {**BUSINESS, "timestamp": "1639128408"}) != "395f5a78b446be465ac03a02491296c7"
    assert sign("0" * 32, BUSINESS) != "395f5a78b446be465ac03a02491296c7"


def test_biz_is_compact_utf8_json_in_the_given_key_order():
    assert biz_text({"page_index": "1", "page_size": "100", "nicks": ["老板"]}) == BUSINESS["biz"]
    assert biz_text(SEED_002_BIZ) == (
        '{"modified_begin":"2024-05-01 00:00:00","modified_end":"2024-05-08 00:00:00",'
        '"status":"Confirmed","date_type":"0","types":["其它退货"],"page_index":1,"page_size":30}'
    )


def test_init_token_code_is_six_alphanumeric_characters():
    codes = {random_code() for _ in range(20)}
    assert all(re.fullmatch(r"[A-Za-z0-9]{6}", code) for code in codes)
    assert len(codes) > 1
