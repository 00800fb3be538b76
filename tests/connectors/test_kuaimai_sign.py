"""KuaiMai request signing against the document's vectors (docs/vendor-protocols.md §3.3), no sandbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ferry.connectors._kuaimai_sign import sign, signed_form, signing_text, timestamp

SECRET = "helloworld"
OFFICIAL = {
    "appKey": "123456",
    "format": "json",
    "method": "open.system.time.get",
    "session": "test",
    "timestamp": "2020-09-21 16:58:00",
    "version": "1.0",
}
OFFICIAL_AT = datetime(2020, 9, 21, 8, 58, tzinfo=UTC).timestamp()
"""2020-09-21 16:58:00 in Beijing time."""

VECTORS = [
    pytest.param(
        "hmac-sha256",
        "7905D5EF37CA177B9219DBFA603F773A7616F424D545E731AAFBB992408F6CEE",
        id="hmac-sha256-official-verified",
    ),
    pytest.param("hmac", "33F8A0DBB3DB1E60E210A7307DD15075", id="hmac-md5-computed"),
    pytest.param("md5", "F1D3BB43123A50C78EBCB84CD301A340", id="md5-computed"),
]


@pytest.mark.parametrize(("method", "expected"), VECTORS)
def test_document_vectors_sign_to_the_published_upper_hex(method: str, expected: str) -> None:
    assert sign({**OFFICIAL, "sign_method": method}, SECRET, method) == expected


def test_signed_text_is_sorted_key_value_pairs_without_separators() -> None:
    text = signing_text({**OFFICIAL, "sign_method": "hmac-sha256", "sign": "ignored", "absent": None})
    assert text == (
        "appKey123456formatjsonmethodopen.system.time.getsessiontest"
        "sign_methodhmac-sha256timestamp2020-09-21 16:58:00version1.0"
    )


@pytest.mark.parametrize(("method", "expected"), VECTORS)
def test_signed_form_of_the_official_call_carries_the_document_signature(method: str, expected: str) -> None:
    form = signed_form(
        method="open.system.time.get",
        app_key="123456",
        session="test",
        secret=SECRET,
        sign_method=method,
        business={},
        at=OFFICIAL_AT,
    )
    assert form == {**OFFICIAL, "sign_method": method, "sign": expected}


def test_business_parameters_cannot_replace_the_common_ones() -> None:
    form = signed_form(
        method="erp.aftersale.list.query",
        app_key="app",
        session="s1",
        secret=SECRET,
        sign_method="hmac",
        business={"method": "other", "session": "s2", "sign": "X", "pageNo": "2"},
        at=OFFICIAL_AT,
    )
    assert (form["method"], form["session"], form["pageNo"]) == ("erp.aftersale.list.query", "s1", "2")
    assert form["sign"] == sign(form, SECRET, "hmac")


def test_a_changed_parameter_changes_the_signature() -> None:
    base = {**OFFICIAL, "sign_method": "hmac"}
    assert sign(base, SECRET) != sign({**base, "session": "other"}, SECRET)
    assert sign(base, SECRET) != sign(base, "another-secret")


def test_timestamp_is_beijing_time_to_the_second() -> None:
    assert timestamp(OFFICIAL_AT) == "2020-09-21 16:58:00"


def test_unknown_sign_method_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: hmac, md5, hmac-sha256"):
        sign(OFFICIAL, SECRET, "sha1")
