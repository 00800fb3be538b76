"""Value maps (值映射) read by the scheme loader: each file format, the scheme's own `maps:`,
and every problem reported at ``maps.<name>`` (or at the value that names an unknown map)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import Workbook
from typer.testing import CliRunner

from ferry.cli.main import app
from ferry.errors import Issue, SchemeError
from ferry.expr import EvalContext
from ferry.scheme.loader import load_scheme
from ferry.scheme.model import Scheme
from ferry.transform.plan import compile_scheme

SHOPS = {"101": "Shop A", "102": "Shop B"}


def scheme_file(folder: Path, value: str = "_map shops {shop}", maps: Any = None, **extra: Any) -> Path:
    scheme: dict[str, Any] = {
        "id": "shop-orders",
        "name": "orders",
        "source": {
            "connection": {"type": "sql", "url": "sqlite://"},
            "metadata": {"api": "/orders", "effect": "QUERY", "id": "id", "request": []},
        },
        "target": {
            "connection": {"type": "http", "base_url": "http://example.invalid"},
            "metadata": {
                "api": "/orders",
                "effect": "EXECUTE",
                "request": [{"field": "shop_name", "value": value}],
                **extra,
            },
        },
    }
    if maps is not None:
        scheme["maps"] = maps
    path = folder / "scheme.yaml"
    path.write_text(yaml.safe_dump(scheme, allow_unicode=True), encoding="utf-8")
    return path


def mapped(scheme: Scheme, shop: Any) -> Any:
    return compile_scheme(scheme).target.request.map(EvalContext(row={"shop": shop}))["shop_name"]


def issues(path: Path) -> list[Issue]:
    with pytest.raises(SchemeError) as caught:
        load_scheme(path)
    return caught.value.issues


def one_issue(path: Path) -> Issue:
    found = issues(path)
    assert len(found) == 1, [str(i) for i in found]
    return found[0]


def write_xlsx(path: Path, rows: list[list[Any]], sheets: tuple[str, ...] = ("Sheet1",)) -> None:
    book = Workbook()
    book.active.title = sheets[0]
    for name in sheets[1:]:
        book.create_sheet(name)
    sheet = book[sheets[-1]]
    for row in rows:
        sheet.append(row)
    book.save(path)


def maps_dir(folder: Path) -> Path:
    (folder / "maps").mkdir(exist_ok=True)
    return folder / "maps"


# -- each file format ------------------------------------------------------------------------


def test_a_csv_beside_the_scheme_is_a_map_named_after_the_file(tmp_path: Path) -> None:
    (maps_dir(tmp_path) / "shops.csv").write_text("\ufeffcode,name\n101,Shop A\n 102 ,Shop B\n\n", "utf-8")

    scheme = load_scheme(scheme_file(tmp_path))

    table = scheme.value_maps["shops"]
    assert dict(table.entries) == SHOPS and table.origin == "maps/shops.csv"
    assert [mapped(scheme, v) for v in (101, "102", 103, None)] == ["Shop A", "Shop B", 103, None]


def test_a_csv_picks_its_columns_by_header(tmp_path: Path) -> None:
    (tmp_path / "ref.csv").write_text("name,region,code\nShop A,East,101\nShop B,West,102\n", "utf-8")
    maps = {"shops": {"file": "ref.csv", "from": "code", "to": "region"}}

    scheme = load_scheme(scheme_file(tmp_path, maps=maps))

    assert dict(scheme.value_maps["shops"].entries) == {"101": "East", "102": "West"}


def test_an_xlsx_matches_numbers_as_text_and_reads_a_named_sheet(tmp_path: Path) -> None:
    write_xlsx(
        tmp_path / "shops.xlsx",
        [["code", "name"], [101.0, "Shop A"], ["102", "Shop B"], [None, None], [103, 7.0]],
        sheets=("Notes", "门店"),
    )
    maps = {"shops": {"file": "shops.xlsx", "sheet": "门店"}}

    scheme = load_scheme(scheme_file(tmp_path, maps=maps))

    assert dict(scheme.value_maps["shops"].entries) == {"101": "Shop A", "102": "Shop B", "103": 7}
    assert [mapped(scheme, v) for v in ("101", 101, 102.0, "103")] == ["Shop A", "Shop A", "Shop B", 7]


def test_an_xlsx_beside_the_scheme_reads_its_first_sheet(tmp_path: Path) -> None:
    write_xlsx(maps_dir(tmp_path) / "shops.xlsx", [["code", "name"], [101, "Shop A"], [102, "Shop B"]])

    scheme = load_scheme(scheme_file(tmp_path))

    assert dict(scheme.value_maps["shops"].entries) == SHOPS


def test_a_yaml_map_keeps_the_type_of_its_values(tmp_path: Path) -> None:
    (maps_dir(tmp_path) / "shops.yml").write_text("101: Shop A\n'102': {name: Shop B, id: 2}\n", "utf-8")

    scheme = load_scheme(scheme_file(tmp_path))

    assert mapped(scheme, 102) == {"name": "Shop B", "id": 2}
    assert mapped(scheme, "101") == "Shop A"


def test_inline_entries_with_a_default_for_unmatched_values(tmp_path: Path) -> None:
    maps = {"shops": {"entries": SHOPS, "unmatched": {"default": "未知"}}}

    scheme = load_scheme(scheme_file(tmp_path, maps=maps))

    assert [mapped(scheme, v) for v in (101, 999)] == ["Shop A", "未知"]
    assert scheme.value_maps["shops"].origin == "inline"


def test_a_field_overrides_the_unmatched_policy_of_its_map(tmp_path: Path) -> None:
    maps = {"shops": {"entries": SHOPS, "unmatched": "quarantine"}}

    scheme = load_scheme(scheme_file(tmp_path, "_map shops {shop} default=other shop", maps=maps))

    assert mapped(scheme, 999) == "other shop"


def test_a_scheme_entry_without_file_sets_the_policy_of_the_file_beside_it(tmp_path: Path) -> None:
    (maps_dir(tmp_path) / "shops.csv").write_text("code,name\n101,Shop A\n", "utf-8")

    scheme = load_scheme(scheme_file(tmp_path, maps={"shops": {"unmatched": {"default": None}}}))

    assert mapped(scheme, 999) is None and mapped(scheme, 101) == "Shop A"


# -- problems, each with its path ------------------------------------------------------------


def test_a_missing_file_is_reported_at_the_maps_file(tmp_path: Path) -> None:
    issue = one_issue(scheme_file(tmp_path, maps={"shops": "maps/shops.csv"}))

    assert issue.path == "maps.shops.file"
    assert issue.message.startswith("file not found: ") and issue.message.endswith("maps/shops.csv")


def test_an_unknown_column_names_the_header(tmp_path: Path) -> None:
    (tmp_path / "shops.csv").write_text("code,name\n101,Shop A\n", "utf-8")

    issue = one_issue(scheme_file(tmp_path, maps={"shops": {"file": "shops.csv", "to": "nmae"}}))

    assert issue.path == "maps.shops.to"
    assert issue.message == "no column 'nmae' (did you mean 'name'?)"
    assert issue.hint == "the first row names the columns: 'code', 'name'"


def test_a_one_column_csv_is_not_a_map(tmp_path: Path) -> None:
    (maps_dir(tmp_path) / "shops.csv").write_text("code\n101\n", "utf-8")

    issue = one_issue(scheme_file(tmp_path, "{shop}"))

    assert issue.path == "maps.shops"
    assert issue.message == "the table needs two columns, the key and the value; its first row has 1"


def test_a_duplicate_key_names_both_rows(tmp_path: Path) -> None:
    write_xlsx(maps_dir(tmp_path) / "shops.xlsx", [["code", "name"], [101, "A"], [102, "B"], ["101 ", "C"]])

    issue = one_issue(scheme_file(tmp_path))

    assert (issue.path, issue.message) == ("maps.shops", "key '101' appears twice: row 2 and row 4")


def test_a_duplicate_key_in_yaml_names_both_lines(tmp_path: Path) -> None:
    (maps_dir(tmp_path) / "shops.yaml").write_text("101: A\n102: B\n'101': C\n", "utf-8")

    issue = one_issue(scheme_file(tmp_path))

    assert issue.message == "key '101' appears twice: line 1 and line 3"


def test_an_empty_map_is_an_error(tmp_path: Path) -> None:
    (maps_dir(tmp_path) / "shops.csv").write_text("code,name\n\n", "utf-8")

    issue = one_issue(scheme_file(tmp_path))

    assert (issue.path, issue.message) == ("maps.shops", "the value map is empty")


def test_an_empty_key_beside_a_value_names_its_row(tmp_path: Path) -> None:
    (maps_dir(tmp_path) / "shops.csv").write_text("code,name\n101,A\n,B\n", "utf-8")

    issue = one_issue(scheme_file(tmp_path))

    assert issue.message == "row 3: the key is empty (its value is 'B')"


def test_a_gbk_csv_is_reported_not_guessed(tmp_path: Path) -> None:
    (maps_dir(tmp_path) / "shops.csv").write_bytes("code,name\n101,门店甲\n".encode("gbk"))

    issue = one_issue(scheme_file(tmp_path))

    assert issue.path == "maps.shops"
    assert issue.message.startswith("shops.csv is not UTF-8 (") and issue.message.endswith(
        "reads as GBK/GB18030"
    )
    assert issue.hint == "save it as UTF-8 (Excel: Save As > CSV UTF-8), or as .xlsx"


def test_an_unknown_sheet_lists_the_sheets(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "shops.xlsx", [["code", "name"], [101, "A"]], sheets=("One", "Two"))

    issue = one_issue(scheme_file(tmp_path, maps={"shops": {"file": "shops.xlsx", "sheet": "Three"}}))

    assert (issue.path, issue.message, issue.hint) == (
        "maps.shops.sheet",
        "no sheet 'Three' in shops.xlsx",
        "its sheets: One, Two",
    )


def test_an_unknown_map_in_a_value_says_did_you_mean(tmp_path: Path) -> None:
    maps = {"shops": {"entries": SHOPS}, "regions": {"entries": {"E": "East"}}}

    issue = one_issue(scheme_file(tmp_path, "_map shop {shop}", maps=maps))

    assert issue.path == "target.request[0].value"
    assert issue.message == "unknown value map 'shop' (did you mean 'shops'?) (col 6)"
    assert issue.hint is not None and issue.hint.startswith("known value maps: regions, shops")


def test_quarantine_outside_target_request_is_refused(tmp_path: Path) -> None:
    path = scheme_file(
        tmp_path,
        maps={"shops": {"entries": SHOPS}},
        otherRequest=[{"field": "shop", "value": "_map shops {shop} unmatched=quarantine"}],
    )

    issue = one_issue(path)

    assert issue.path == "target.otherRequest[0].value"
    assert issue.message.startswith(
        "unmatched quarantine holds a record, and only target.request maps records"
    )


def test_file_and_entries_together_are_refused(tmp_path: Path) -> None:
    issue = one_issue(scheme_file(tmp_path, maps={"shops": {"file": "x.csv", "entries": SHOPS}}))

    assert (issue.path, issue.message) == ("maps.shops", "give either file or entries, not both")


def test_an_unknown_policy_is_a_model_error(tmp_path: Path) -> None:
    found = issues(scheme_file(tmp_path, maps={"shops": {"entries": SHOPS, "unmatched": "drop"}}))

    assert any(i.path.startswith("maps.shops.unmatched") for i in found), [str(i) for i in found]


def test_ferry_validate_lists_the_maps_with_their_entries(tmp_path: Path) -> None:
    (maps_dir(tmp_path) / "shops.csv").write_text("code,name\n101,Shop A\n102,Shop B\n", "utf-8")
    path = scheme_file(tmp_path, maps={"shops": {"unmatched": "quarantine"}})
    digest = load_scheme(path).value_maps["shops"].version

    result = CliRunner().invoke(app, ["validate", str(path)])

    assert result.exit_code == 0, result.output
    assert (
        f"  value map shops: 2 entries from maps/shops.csv, unmatched quarantine ({digest})" in result.output
    )
