"""``ferry quality report``: the report's table, its per-rule table and its JSON, from a real run
of a fixture scheme with a quarantine rule and a warn rule."""

from __future__ import annotations

import json

from ferry.store import Store, quarantine

QUALITY = """
quality:
  source:
    - {name: price-min, field: price, range: {min: 1}, action: quarantine}
    - {name: name-short, field: sku_name, length: {max: 4}, action: warn}
"""


def _run(ferry, shop) -> str:
    path = shop.schemes / "quality.yaml"
    path.write_text((shop.schemes / "products.yaml").read_text(encoding="utf-8") + QUALITY, encoding="utf-8")
    ran = ferry("run", str(path))
    assert ran.exit_code == 0, ran.output
    return str(path)


def test_report_json_has_balanced_buckets_and_the_rule_of_each_hold(ferry, shop, store: Store) -> None:
    _run(ferry, shop)
    assert quarantine.drop(store, "cli-products", ["A3"], who="alice", reason="discontinued") == 1

    out = ferry("quality", "report", "--scheme", "cli-products", "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["by"] == "run" and len(doc["rows"]) == 1
    row = doc["rows"][0]
    buckets = {
        k: row[k] for k in ("source_total", "filtered", "collected", "due", "quarantined", "delivered")
    }
    assert buckets == {
        "source_total": 3, "filtered": 0, "collected": 3, "due": 3, "quarantined": 2, "delivered": 1,
    }  # fmt: skip
    assert (row["failed"], row["pending"], row["dropped"], row["warned"], row["balanced"]) == (
        0,
        0,
        1,
        1,
        True,
    )
    assert row["rules"] == {
        "name-short": {"warned": 1, "quarantined": 0, "failed": 0, "dropped": 0},
        "price-min": {"warned": 0, "quarantined": 2, "failed": 0, "dropped": 1},
    }

    days = json.loads(ferry("quality", "report", "--by", "day", "--json").output)
    assert [(r["scheme_id"], r["runs"], r["quarantined"]) for r in days["rows"]] == [("cli-products", 1, 2)]
    none = json.loads(
        ferry("quality", "report", "--since", "2000-01-01", "--until", "2000-01-02", "--json").output
    )
    assert none == {"by": "run", "rows": []}


def test_report_text_shows_the_buckets_and_the_rules(ferry, shop) -> None:
    _run(ferry, shop)
    out = ferry("quality", "report", "--by", "day")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    header = next(line for line in lines if "source total" in line)
    for column in ("day", "filtered", "collected", "quarantined", "delivered", "failed", "dropped"):
        assert column in header
    row = next(line for line in lines if line.lstrip().startswith("cli-products"))
    assert row.split()[2:] == [
        "1",
        "3",
        "0",
        "3",
        "3",
        "2",
        "1",
        "0",
        "0",
        "0",
        "1",
    ]  # 1 run, then the buckets
    rules = [line.split() for line in lines if "price-min" in line or "name-short" in line]
    assert [r[2:] for r in rules] == [["name-short", "0", "0", "1", "0"], ["price-min", "2", "0", "0", "0"]]
    assert "do not balance" not in out.output
    by_run = ferry("quality", "report").output
    assert "succeeded" in by_run and "started" in by_run


def test_report_refuses_an_unknown_grouping_and_says_when_nothing_ran(ferry) -> None:
    bad = ferry("quality", "report", "--by", "week")
    assert bad.exit_code == 2 and "--by: must be one of run, day (got 'week')" in bad.output
    empty = ferry("quality", "report", "--scheme", "nothing")
    assert empty.exit_code == 0 and "no finished runs of scheme 'nothing' in that time" in empty.output
