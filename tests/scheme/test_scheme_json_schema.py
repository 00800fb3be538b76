"""``ferry schema``: the JSON Schema of the scheme file and of QEasy metadata."""

from __future__ import annotations

import json

import pytest

from ferry.scheme import metadata_json_schema, scheme_json_schema


def test_scheme_schema_embeds_both_metadata_models_under_the_sides() -> None:
    schema = scheme_json_schema()
    defs = schema["$defs"]
    assert schema["properties"]["source"] == {"$ref": "#/$defs/SourceSide"}
    source_meta = defs["SourceSide"]["properties"]["metadata"]["anyOf"]
    assert source_meta[0] == {"$ref": "#/$defs/SourceMetadata"}
    assert source_meta[1]["type"] == "string"
    assert defs["TargetSide"]["properties"]["metadata"]["anyOf"][0] == {"$ref": "#/$defs/TargetMetadata"}
    assert "beatFlat" in defs["SourceMetadata"]["properties"]
    assert "distributionOrg" in defs["TargetMetadata"]["properties"]
    json.dumps(schema)  # serialisable as is


def test_scheme_schema_carries_field_descriptions_and_hides_loader_attributes() -> None:
    schema = scheme_json_schema()
    props = schema["properties"]
    assert props["id"]["description"].startswith("Stable id")
    assert schema["$defs"]["FieldSpec"]["properties"]["value"]["description"].startswith(
        "Constant or expression"
    )
    for internal in ("source_meta", "target_meta", "base_dir", "source_connection", "target_connection"):
        assert internal not in props
    assert schema["additionalProperties"] is False


def test_durations_are_described_the_way_users_write_them() -> None:
    window = scheme_json_schema()["$defs"]["WindowSpec"]["properties"]
    step = window["step"]
    assert step["default"] == "1d"
    assert {"type": "number", "minimum": 0} in step["anyOf"]
    assert window["lookback"]["default"] == "0s"


@pytest.mark.parametrize("side", ["source", "target"])
def test_metadata_schema_per_side(side: str) -> None:
    schema = metadata_json_schema(side)  # type: ignore[arg-type]
    assert schema["title"] == f"QEasy {side} metadata"
    assert "api" in schema["required"]
    assert ("condition" in schema["properties"]) is (side == "source")


def test_metadata_schema_rejects_an_unknown_side() -> None:
    with pytest.raises(ValueError, match="side must be 'source' or 'target'"):
        metadata_json_schema("both")  # type: ignore[arg-type]
