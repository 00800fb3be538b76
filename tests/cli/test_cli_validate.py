"""``ferry validate``: every problem of every file, each with its path and hint; exit 0 or 2."""

from __future__ import annotations

import json

import pytest

INVALID_SCHEME_PATHS = [
    "window.step",
    "settings.on_change",
    "colour",
    "source.request[0].type",
    "source.condition[0][0].logic",
    "target.connection",
]


def test_valid_scheme_passes_with_exit_0(ferry, shop):
    result = ferry("validate", shop.scheme(), store=None)

    assert result.exit_code == 0, result.output
    assert f"OK {shop.scheme()}: scheme 'cli-products'" in result.output
    assert "1 file: 1 valid, 0 invalid" in result.output


def test_invalid_scheme_lists_every_issue_with_path_and_hint_and_exits_2(ferry, shop):
    result = ferry("validate", shop.scheme("invalid.yaml"), store=None)

    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0] == f"INVALID {shop.scheme('invalid.yaml')}: 6 errors"
    for path in INVALID_SCHEME_PATHS:
        at = next(i for i, line in enumerate(lines) if line.startswith(f"  {path}: "))
        assert lines[at + 1].startswith("    hint: "), (path, lines[at + 1])
    assert "  window.step: invalid duration 'soon'" in lines
    assert "  colour: unknown key 'colour'" in lines
    assert "1 file: 0 valid, 1 invalid (6 errors)" in result.output


def test_bare_metadata_is_validated_on_its_own(ferry, shop):
    result = ferry(
        "validate", shop.scheme("products.source.json"), shop.scheme("invalid.source.json"), store=None
    )

    assert result.exit_code == 2
    assert f"OK {shop.scheme('products.source.json')}: source metadata" in result.output
    assert f"INVALID {shop.scheme('invalid.source.json')}: 2 errors" in result.output
    assert "  source.condition[0][0].logic: unknown condition operator 'approximately'" in result.output
    assert "2 files: 1 valid, 1 invalid (2 errors)" in result.output


def test_every_file_is_reported_even_after_an_invalid_one(ferry, shop):
    result = ferry("validate", shop.scheme("invalid.yaml"), shop.scheme(), store=None)

    assert result.exit_code == 2
    assert "INVALID" in result.output and "OK " in result.output
    assert "2 files: 1 valid, 1 invalid" in result.output


def test_missing_file_is_an_invalid_input(ferry, tmp_path):
    missing = tmp_path / "nope.yaml"

    result = ferry("validate", str(missing), store=None)

    assert result.exit_code == 2
    assert f"INVALID {missing}: 1 error" in result.output
    assert "file not found" in result.output


def test_syntax_error_names_line_and_column(ferry, tmp_path):
    broken = tmp_path / "broken.source.json"
    broken.write_text('{"api": "x", "effect": "QUERY",\n  "request": [ }', encoding="utf-8")

    result = ferry("validate", str(broken), store=None)

    assert result.exit_code == 2
    assert "line 2" in result.output


def test_connection_passwords_are_masked(ferry, shop, tmp_path):
    scheme = tmp_path / "secret.yaml"
    scheme.write_text(
        "id: secret\nname: Secret\n"
        f"source: {{connection: shop, metadata: {json.dumps(str(shop.schemes / 'products.source.json'))}}}\n"
        f"target: {{connection: erp, metadata: {json.dumps(str(shop.schemes / 'products.target.json'))}}}\n"
        "connections:\n"
        "  shop: {type: sql, url: 'sqlite:///x.db'}\n"
        "  erp: {type: sql, url: 'mysql+pymysql://app:S3cr3t-pw@db.example:3306/erp'}\n",
        encoding="utf-8",
    )

    result = ferry("validate", str(scheme), store=None)

    assert result.exit_code == 0, result.output
    assert "S3cr3t-pw" not in result.output
    assert "mysql+pymysql://app:***@db.example:3306/erp" in result.output


@pytest.mark.parametrize("args", [pytest.param([], id="no-files")])
def test_validate_needs_at_least_one_file(ferry, args):
    result = ferry("validate", *args, store=None)

    assert result.exit_code == 2
