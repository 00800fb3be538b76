"""``ferry run`` and ``ferry runs show`` say which target fields a placeholder found nothing
for, in how many records: a typo on a nullable column that the database accepts silently."""

from __future__ import annotations

import json
from pathlib import Path

UNTIL = "2024-06-01 00:00:00"
HEAD = "placeholders that found nothing (a typo in the scheme, or a field the source does not send):"


def _typo(shop_schemes: Path) -> None:
    target = shop_schemes / "products.target.json"
    target.write_text(
        target.read_text(encoding="utf-8").replace('"{sku_name}"', '"{skuName}"'), encoding="utf-8"
    )


def test_a_typo_on_a_nullable_column_is_reported_in_the_run_summary(ferry, shop, store):
    _typo(shop.schemes)

    result = ferry("run", shop.scheme(), "--until", UNTIL)

    assert result.exit_code == 0, result.output  # the records went in: sku_name is nullable
    assert [name for _, _, name in shop.copied()] == [None, None, None]
    lines = result.output.splitlines()
    at = lines.index(HEAD)
    assert lines[at + 1] == "  sku_name: missing in 3 of 3 records"
    assert store.get_run(1)["placeholders"] == {"mapped": 3, "missing": {"sku_name": 3}}


def test_runs_show_repeats_the_misses_and_its_json_holds_them(ferry, shop):
    _typo(shop.schemes)
    ferry("run", shop.scheme(), "--until", UNTIL)

    shown = ferry("runs", "show", "1")
    as_json = ferry("runs", "show", "1", "--json")

    assert shown.exit_code == 0, shown.output
    assert f"  {HEAD}\n    sku_name: missing in 3 of 3 records\n" in shown.output
    assert json.loads(as_json.output)["placeholders"] == {"mapped": 3, "missing": {"sku_name": 3}}


def test_a_correct_scheme_reports_no_miss(ferry, shop):
    shop.add_product("B1", "IC-B1", None)  # a null name is a value, not a miss

    result = ferry("run", shop.scheme(), "--until", UNTIL)

    assert result.exit_code == 0, result.output
    assert "found nothing" not in result.output
    assert "missing in" not in ferry("runs", "show", "1").output
