"""The two WangDianTong signatures reproduce docs/vendor-protocols.md's vectors (§5.3 and §5.7).

Both vectors in the document are COMPUTED (re-implementations cross-checked with the cuifan53
SDK); the document publishes no VERIFIED vector for WangDianTong. These tests need no sandbox.
"""

from __future__ import annotations

from ferry.connectors._wdt_sign import qimen_sign, wdt_pack, wdt_sign

DIRECT_PARAMS = {
    "sid": "demo",
    "appkey": "demo-test",
    "timestamp": "1700000000",
    "start_time": "2023-11-14 00:00:00",
    "end_time": "2023-11-14 23:59:59",
    "status": "95",
    "page_no": "0",
    "page_size": "40",
    "shop_no": "店铺01",
}
DIRECT_PACKED = (
    "06-appkey:0009-demo-test;08-end_time:0019-2023-11-14 23:59:59;07-page_no:0001-0;"
    "09-page_size:0002-40;07-shop_no:0004-店铺01;03-sid:0004-demo;"
    "10-start_time:0019-2023-11-14 00:00:00;06-status:0002-95;09-timestamp:0010-1700000000"
)
QIMEN_PARAMS = {
    "method": "wdt.stockout.order.query.trade",
    "app_key": "12345678",
    "target_app_key": "23204092",
    "sid": "demo",
    "format": "json",
    "v": "2.0",
    "sign_method": "md5",
    "timestamp": "2023-11-14 12:00:00",
    "start_time": "2023-11-14 00:00:00",
    "end_time": "2023-11-14 23:59:59",
    "page_no": "0",
    "page_size": "40",
}


def test_direct_packing_matches_the_computed_vector():
    assert wdt_pack(DIRECT_PARAMS) == DIRECT_PACKED


def test_direct_sign_matches_the_computed_vector():
    assert wdt_sign(DIRECT_PARAMS, "demo-secret") == "9662289adafd3c7cc7e63ddda5f48284"


def test_direct_lengths_count_characters_not_bytes():
    assert wdt_pack({"shop_no": "旺店通"}) == "07-shop_no:0003-旺店通"


def test_direct_lengths_of_10000_or_more_print_with_more_digits():
    assert wdt_pack({"k": "x" * 10000}) == "01-k:10000-" + "x" * 10000


def test_direct_sign_ignores_a_sign_parameter_and_keeps_empty_values():
    signed = wdt_sign(DIRECT_PARAMS, "demo-secret")

    assert wdt_sign({**DIRECT_PARAMS, "sign": signed}, "demo-secret") == signed
    assert wdt_sign({**DIRECT_PARAMS, "src_tid": ""}, "demo-secret") != signed


def test_qimen_sign_matches_the_computed_vector():
    assert qimen_sign(QIMEN_PARAMS, "qm-secret") == "7610A93B0E8E046D5F61816A74232DA7"


def test_qimen_sign_ignores_a_sign_parameter_and_empty_values():
    signed = qimen_sign(QIMEN_PARAMS, "qm-secret")

    assert qimen_sign({**QIMEN_PARAMS, "sign": signed, "src_tid": ""}, "qm-secret") == signed
    assert qimen_sign({**QIMEN_PARAMS, "src_tid": "1"}, "qm-secret") != signed


def test_the_secret_changes_both_signatures():
    assert wdt_sign(DIRECT_PARAMS, "other") != wdt_sign(DIRECT_PARAMS, "demo-secret")
    assert qimen_sign(QIMEN_PARAMS, "other") != qimen_sign(QIMEN_PARAMS, "qm-secret")
