"""K3Cloud signature functions pinned to the vectors of docs/vendor-protocols.md §1.3 (no sandbox)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ferry.connectors._k3cloud_sign import (
    api_sign_text,
    app_data,
    decode_app_secret,
    hmac_hex_base64,
    login_sign,
    sign_path,
    signed_headers,
    split_app_id,
)

# The COMPUTED vector of §1.3.C (the SDK's own BuildHeader run with time.time patched).
APP_ID = "123456_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
APP_SECRET = "fakeappsecret0123456789abcdef0123"
ACCT_ID = "64f0a1b2c3d4e5"
URL = "http://127.0.0.1:8080/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc"
SIGNED_PATH = "%2Fk3cloud%2FKingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc"
CLIENT_SECRET = "MDE3N2I2PzBrPzg4OD45N3IhK3B1InIk"
API_SIGNATURE = "N2M1YmZlZTUyZjc5YTRjMzU0MjkxMWVjODQ0YWEwZjQ0NzQyNWZjZjcwNGFhNzg0MzMxOGI5ZmI4YjNlMzUxOA=="
KD_APPDATA = "NjRmMGExYjJjM2Q0ZTUsZGVtbywyMDUyLDEwMA=="
KD_SIGNATURE = "YzFjOWExNzA1MGM1NTAwYzk3MjdmMWFhNzQwZThiMWE3MzZlNTgwYTMzMGU4NWViNzc1MjBlMWMyMDU2NWFhNA=="


def vector_headers() -> dict[str, str]:
    return signed_headers(
        url=URL,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        acct_id=ACCT_ID,
        username="demo",
        lcid=2052,
        org_num=100,
        timestamp="1700000000",
        nonce="1700000000",
    )


def test_client_secret_is_decoded_from_the_app_id_as_in_the_vector() -> None:
    assert split_app_id(APP_ID) == ("123456", CLIENT_SECRET)


def test_decoding_xors_with_the_rot13_of_the_sdk_key() -> None:
    # Independent re-derivation: rot13("0054s397p6234378o09pn7q3r5qropr7") is the documented key.
    key = b"0054f397c6234378b09ca7d3e5debce7"
    raw = bytes(range(24))
    expected = base64.b64encode(bytes(b ^ key[i] for i, b in enumerate(raw))).decode()
    assert decode_app_secret(base64.b64encode(raw).decode()) == expected == CLIENT_SECRET


@pytest.mark.parametrize(
    "app_id",
    [
        pytest.param("123456_short", id="second-half-not-32-chars"),
        pytest.param("no-underscore", id="no-client-id"),
        pytest.param("1_2_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", id="two-underscores"),
    ],
)
def test_malformed_app_id_gives_an_empty_client_secret(app_id: str) -> None:
    assert split_app_id(app_id)[1] == ""


def test_path_is_url_encoded_with_slashes_escaped() -> None:
    assert sign_path(URL) == SIGNED_PATH
    assert sign_path("https://erp.example.com/k3cloud/a b.kdsvc") == "%2Fk3cloud%2Fa%20b.kdsvc"


def test_api_sign_text_matches_the_vector() -> None:
    assert api_sign_text(SIGNED_PATH, "1700000000", "1700000000") == (
        f"POST\n{SIGNED_PATH}\n\nx-api-nonce:1700000000\nx-api-timestamp:1700000000\n"
    )


def test_signed_headers_match_the_computed_vector() -> None:
    headers = vector_headers()
    assert headers == {
        "X-Api-ClientID": "123456",
        "X-Api-Auth-Version": "2.0",
        "x-api-timestamp": "1700000000",
        "x-api-nonce": "1700000000",
        "x-api-signheaders": "x-api-timestamp,x-api-nonce",
        "X-Api-Signature": API_SIGNATURE,
        "X-Kd-Appkey": APP_ID,
        "X-Kd-Appdata": KD_APPDATA,
        "X-Kd-Signature": KD_SIGNATURE,
    }


def test_signatures_are_base64_of_the_lowercase_hex_digest() -> None:
    signature = hmac_hex_base64("message", "key")
    hex_text = base64.b64decode(signature).decode()
    assert len(signature) == 88 and signature.endswith("==")
    assert hex_text == hex_text.lower() and len(hex_text) == 64


def test_app_data_joins_acct_user_lcid_and_org() -> None:
    assert app_data(ACCT_ID, "demo", 2052, 100) == "64f0a1b2c3d4e5,demo,2052,100"
    assert base64.b64decode(KD_APPDATA).decode() == app_data(ACCT_ID, "demo", 2052, 100)


def test_changing_the_timestamp_changes_only_the_api_signature() -> None:
    later = signed_headers(
        url=URL,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        acct_id=ACCT_ID,
        username="demo",
        lcid=2052,
        org_num=100,
        timestamp="1700000001",
        nonce="1700000001",
    )
    assert later["X-Api-Signature"] != API_SIGNATURE
    assert later["X-Kd-Signature"] == KD_SIGNATURE


def test_login_sign_matches_its_computed_vector() -> None:
    # COMPUTED here (the document has no LoginBySign vector): the §1.3.C inputs at ts 1700000000.
    assert (
        login_sign(ACCT_ID, "demo", APP_ID, APP_SECRET, "1700000000")
        == "b56c9f89f10770830ef2b6ecd0682d7240ae5415558a6a8fcbc395ceb51dd9bf"
    )


def test_login_sign_is_sha256_of_the_sorted_values() -> None:
    values = [ACCT_ID, "demo", APP_ID, APP_SECRET, "1700000000"]
    joined = "123456_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX" + "1700000000" + ACCT_ID + "demo" + APP_SECRET
    assert "".join(sorted(values)) == joined
    assert login_sign(*values) == hashlib.sha256(joined.encode()).hexdigest()


def test_login_sign_sorts_like_javascript_by_utf16_code_units() -> None:
    # U+1F600 is the surrogate pair D83D DE00, which JS sorts before U+FF21; code-point order
    # (Python's default) would put it after.
    emoji, fullwidth = "\U0001f600", "\uff21"
    expected = hashlib.sha256(("abc" + emoji + fullwidth).encode()).hexdigest()
    assert login_sign(fullwidth, emoji, "c", "b", "a") == expected
    assert (
        login_sign(fullwidth, emoji, "c", "b", "a")
        != hashlib.sha256(("abc" + fullwidth + emoji).encode()).hexdigest()
    )
