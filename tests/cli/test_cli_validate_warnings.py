"""``ferry validate`` prints metadata keys Ferry does not act on as warnings; they never make a
file invalid, and ``ferry run`` / ``ferry check`` print them once."""

from __future__ import annotations

import json
from pathlib import Path

UNTIL = "2024-06-01 00:00:00"


def with_keys(shop, **extra) -> str:  # type: ignore[no-untyped-def]
    """The fixture source metadata with ``extra`` keys, and the scheme that reads it."""
    folder = Path(shop.scheme()).parent
    meta = json.loads((folder / "products.source.json").read_text(encoding="utf-8"))
    meta.update(extra)
    (folder / "products.source.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return shop.scheme()


def test_a_valid_scheme_with_unsupported_and_unknown_keys_passes_with_warnings(ferry, shop) -> None:
    scheme = with_keys(
        shop,
        autoFillResponse=True,
        response=[{"field": "sku_id", "lable": "SKU", "type": "string"}],
    )

    result = ferry("validate", scheme, store=None)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"OK {scheme}: scheme 'cli-products'")
    assert (
        "  warning: source.autoFillResponse: not supported by Ferry "
        "(in QEasy it fills `response` with the fields of a real API answer)"
    ) in lines
    at = lines.index("  warning: source.response[0].lable: unknown key")
    assert lines[at + 1].startswith("    hint: did you mean `label`?")
    assert "1 file: 1 valid, 0 invalid; 2 warnings" in result.output


def test_an_invalid_file_shows_the_unknown_key_behind_its_error(ferry, shop) -> None:
    bad = Path(shop.scheme()).parent / "typo.source.json"
    bad.write_text(json.dumps({"api": "/orders", "effect": "QUERY", "Id": "order_id"}), encoding="utf-8")

    result = ferry("validate", str(bad), store=None)

    assert result.exit_code == 2
    assert f"INVALID {bad}: 1 error" in result.output
    assert "  source.id: source metadata has no id" in result.output
    assert "  warning: source.Id: unknown key" in result.output
    assert "did you mean `id`?" in result.output
    assert "1 file: 0 valid, 1 invalid (1 error); 1 warning" in result.output


def test_run_prints_each_warning_once_and_still_runs(ferry, shop) -> None:
    scheme = with_keys(shop, delay=5)

    result = ferry("run", scheme, "--until", UNTIL)

    assert result.exit_code == 0, result.output
    line = f"warning: {scheme}: source.delay: not supported by Ferry"
    assert result.stderr.count(line) == 1
    assert len(shop.copied()) == 3


def test_check_prints_the_warnings_too(ferry, shop) -> None:
    scheme = with_keys(shop, formatResponse=[])

    result = ferry("check", scheme)

    assert f"warning: {scheme}: source.formatResponse: not supported by Ferry" in result.stderr
