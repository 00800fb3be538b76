"""``ferry preview`` (writes nothing) and ``ferry schema`` (valid JSON Schema)."""

from __future__ import annotations

import json


def test_preview_shows_request_mapped_records_and_deliveries(ferry, shop, store):
    result = ferry("preview", shop.scheme(), "--limit", "2")

    assert result.exit_code == 0, result.output
    out = result.output
    assert "source: sql connection 'shop_db'" in out
    assert "Source request for window [" in out
    assert "Mapped records (2):" in out
    assert "record A1" in out and "record A2" in out and "record A3" not in out
    assert '"sku_name": "螺丝 M3"' in out  # Chinese as-is, not \u-escaped
    assert "Deliveries (1):" in out
    assert "delivery 1: SQL batchexecute -> records A1, A2" in out
    assert '"main_sql": "REPLACE INTO product_copy (sku_id, item_code, sku_name) VALUES"' in out


def test_preview_writes_nothing(ferry, shop, store):
    ferry("preview", shop.scheme())

    assert store.find_records("cli-products") == []
    assert store.get_cursor("cli-products") is None
    assert shop.copied() == []


def test_preview_lists_mapping_failures_and_exits_1(ferry, shop):
    shop.add_product("B1", None, "无编码")

    result = ferry("preview", shop.scheme(), "--limit", "10")

    assert result.exit_code == 1, result.output
    assert "Mapping failures (1):" in result.output
    failure = next(line for line in result.output.splitlines() if line.startswith("  B1: "))
    assert "item_code" in failure


def test_preview_json_is_one_document(ferry, shop):
    result = ferry("preview", shop.scheme(), "--json")

    doc = json.loads(result.output)
    assert doc["scheme"] == "cli-products"
    assert doc["from"] == "source"
    assert [r["id"] for r in doc["records"]] == ["A1", "A2", "A3"]
    assert doc["records"][0]["payload"] == {"sku_id": "A1", "item_code": "IC-A1", "sku_name": "螺丝 M3"}
    assert doc["deliveries"][0]["record_ids"] == ["A1", "A2", "A3"]
    assert doc["failures"] == []
    assert "螺丝" in result.output


def test_preview_from_ledger_maps_stored_records(ferry, shop):
    ferry("run", shop.scheme(), "--collect-only", "--until", "2024-06-01 00:00:00")

    result = ferry("preview", shop.scheme(), "--from-ledger", "--json", "--limit", "2")

    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["from"] == "ledger"
    assert doc["request"] is None
    assert len(doc["records"]) == 2


def test_preview_of_an_invalid_scheme_exits_2(ferry, shop):
    result = ferry("preview", shop.scheme("invalid.yaml"))

    assert result.exit_code == 2
    assert "window.step" in result.output


def test_preview_limit_must_be_positive(ferry, shop):
    assert ferry("preview", shop.scheme(), "--limit", "0").exit_code == 2


# -- schema --------------------------------------------------------------------------------------


def test_schema_prints_the_scheme_file_schema(ferry):
    result = ferry("schema", store=None)

    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert {"id", "name", "source", "target", "connections", "window", "settings"} <= set(doc["properties"])
    assert "source_meta" not in doc["properties"]


def test_schema_for_source_and_target_metadata(ferry):
    source = json.loads(ferry("schema", "--metadata", "source", store=None).output)
    target = json.loads(ferry("schema", "--metadata", "target", store=None).output)

    assert {"api", "effect", "request", "condition", "beatFlat", "id"} <= set(source["properties"])
    assert {"api", "effect", "request", "otherRequest", "operation"} <= set(target["properties"])
    assert "beatFlat" not in target["properties"]


def test_schema_is_written_to_a_file(ferry, tmp_path):
    out = tmp_path / "scheme.schema.json"

    result = ferry("schema", "-o", str(out), store=None)

    assert result.exit_code == 0
    assert f"wrote the scheme JSON Schema to {out}" in result.output
    assert "properties" in json.loads(out.read_text(encoding="utf-8"))


def test_schema_to_an_unwritable_place_exits_2(ferry, tmp_path):
    result = ferry("schema", "-o", str(tmp_path / "no" / "such" / "dir.json"), store=None)

    assert result.exit_code == 2
    assert "cannot write" in result.output


def test_schema_unknown_side_exits_2(ferry):
    assert ferry("schema", "--metadata", "middle", store=None).exit_code == 2
