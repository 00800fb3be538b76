"""Placeholders checked against real records, against the KuaiMai simulator over HTTP.

Seed 001 (KuaiMai after-sales -> MySQL, beatFlat items) is copied with its window starting four
days before the sandbox's history, so its first windows are empty, as a new user's are.
``ferry preview`` walks to the first window with records (or the one --since/--until choose),
and ``ferry preview``, ``ferry validate --sample`` and ``ferry check`` warn about a placeholder
no sampled record has, naming its scheme path and the nearest path the records do have.
``ferry preview --fill-response`` writes the sampled fields into the source metadata.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ferry.cli.main import app
from ferry.engine.sample import MAX_WINDOWS
from ferry.sandbox import Sandbox
from ferry.sandbox.seeds import examples_dir, examples_env
from ferry.sandbox.server import SandboxServer
from ferry.scheme.loader import load_scheme

BI = "001-kuaimai-aftersale-to-mysql"
TYPO = "target.request[6].value: placeholder {{items.outerID}} is in no sampled record"
FIRST_WITH_RECORDS = "[2024-05-01 23:50:00, 2024-05-02 23:50:00)"
"""The sandbox's history starts 2024-05-02 00:00 (Shanghai); windows are 1d, 10m lookback."""


@pytest.fixture(scope="module")
def urls() -> Iterator[tuple[Sandbox, dict[str, str]]]:
    simulators = Sandbox.default(size=20, only=["kuaimai"])
    with SandboxServer(simulators) as server:
        yield simulators, server.urls()


@pytest.fixture
def env(urls: tuple[Sandbox, dict[str, str]], tmp_path: Path) -> dict[str, str]:
    return {
        **examples_env(urls[0], urls[1]),
        "BI_MYSQL_URL": "mysql+pymysql://root@127.0.0.1:3306/not_connected_by_preview",
        "FERRY_STORE_URL": f"sqlite:///{tmp_path / 'ferry.db'}",
        "COLUMNS": "400",
    }


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """Seed 001 copied, its window starting 2024-04-28 (four empty windows before the data)."""
    folder = tmp_path / BI
    shutil.copytree(examples_dir() / BI, folder)
    scheme = folder / "scheme.yaml"
    text = scheme.read_text(encoding="utf-8")
    scheme.write_text(
        text.replace('start: "2024-01-01 00:00:00"', 'start: "2024-04-28 00:00:00"'), encoding="utf-8"
    )
    return scheme


def typo(scheme: Path, old: str = "{{items.outerId}}", new: str = "{{items.outerID}}") -> Path:
    target = scheme.parent / "target.json"
    text = target.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new), encoding="utf-8")
    return scheme


def ferry(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def hint_after(output: str, line_start: str) -> str:
    lines = output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(line_start))
    return lines[at + 1].strip()


# -- the placeholder check ------------------------------------------------------------------------


def test_preview_warns_about_a_typo_with_its_path_and_the_field_the_records_have(env, seed):
    result = ferry(env, "preview", str(typo(seed)))

    assert result.exit_code == 0, result.output
    assert f"WARNING {BI}: 1 placeholder in no record of" in result.output
    assert TYPO in result.output
    assert hint_after(result.output, TYPO) == "hint: did you mean items.outerId?"
    assert '"outer_id": null' in result.output  # what the typo does to every record


def test_correct_placeholders_do_not_warn(env, seed):
    result = ferry(env, "preview", str(seed), "--limit", "3")

    assert result.exit_code == 0, result.output
    assert f"OK {BI}: every placeholder is in" in result.output
    assert "WARNING" not in result.output
    assert '"outer_id": "SKU' in result.output


def test_a_bare_typo_suggests_the_nearest_field(env, seed):
    result = ferry(env, "preview", str(typo(seed, "{tid}", "{tidd}")))

    line = "target.request[1].value: placeholder {tidd} is in no sampled record"
    assert line in result.output
    assert hint_after(result.output, line) == "hint: did you mean tid?"
    assert "target.request[6]" not in result.output


def test_preview_json_lists_the_warnings(env, seed):
    result = ferry(env, "preview", str(typo(seed)), "--json")

    doc = json.loads(result.stdout)
    assert doc["warnings"] == [
        {
            "path": "target.request[6].value",
            "message": "placeholder {{items.outerID}} is in no sampled record (it maps to null in every record)",
            "hint": "did you mean items.outerId?",
        }
    ]


def test_validate_sample_live_warns_and_stays_valid(env, seed):
    result = ferry(env, "validate", "--sample", "live", str(typo(seed)))

    assert result.exit_code == 0, result.output
    assert f"WARNING {BI}: 1 placeholder in no record of" in result.output
    assert TYPO in result.output
    assert "1 file: 1 valid, 0 invalid" in result.output


def test_validate_without_sample_fetches_nothing_and_does_not_warn(env, seed, urls):
    kuaimai = urls[0]["kuaimai"]
    calls = len(kuaimai.calls)

    result = ferry(env, "validate", str(typo(seed)))

    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.output
    assert len(kuaimai.calls) == calls


def test_validate_sample_ledger_checks_the_stored_rows(env, seed):
    ferry(env, "run", str(seed), "--collect-only", "--until", "2024-05-04 00:00:00")
    typo(seed)

    result = ferry(env, "validate", "--sample", "ledger", str(seed))

    assert result.exit_code == 0, result.output
    assert f"WARNING {BI}: 1 placeholder in no record of" in result.output
    assert "ledger rows" in result.output
    assert TYPO in result.output
    assert hint_after(result.output, TYPO) == "hint: did you mean items.outerId?"


def test_validate_sample_ledger_of_an_empty_ledger_says_nothing_was_checked(env, seed):
    result = ferry(env, "validate", "--sample", "ledger", str(typo(seed)))

    assert result.exit_code == 0, result.output
    assert f"NOT CHECKED {BI}: placeholders: the ledger holds no row of this scheme yet" in result.output


def test_validate_sample_of_an_unreachable_source_exits_1(env, seed):
    result = ferry(
        {**env, "KUAIMAI_URL": "http://127.0.0.1:9/router"}, "validate", "--sample", "live", str(seed)
    )

    assert result.exit_code == 1, result.output
    assert f"SAMPLE FAILED {BI}:" in result.output


def test_check_warns_about_the_typo_after_its_checks(env, seed, mariadb_url):
    result = ferry({**env, "BI_MYSQL_URL": mariadb_url}, "check", "--create-tables", str(typo(seed)))

    assert result.exit_code == 0, result.output
    assert "2 checks passed" in result.output
    assert f"WARNING {BI}: 1 placeholder in no record of" in result.output
    assert hint_after(result.output, TYPO) == "hint: did you mean items.outerId?"


def test_check_sample_off_does_not_sample(env, seed, mariadb_url):
    result = ferry(
        {**env, "BI_MYSQL_URL": mariadb_url}, "check", "--create-tables", "--sample", "off", str(typo(seed))
    )

    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.output


def test_a_field_declared_in_response_is_known_without_a_sample(env, seed):
    source = seed.parent / "source.json"
    meta = json.loads(source.read_text(encoding="utf-8"))
    meta["response"] = [
        {"field": "items", "type": "array", "children": [{"field": "warehouseCode", "type": "string"}]}
    ]
    source.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    typo(seed, "{{items.title}}", "{{items.warehouseCode}}")
    typo(seed, "{{items.outerId}}", "{{items.binCode}}")

    result = ferry(env, "preview", str(seed))

    assert "target.request[6].value: placeholder {{items.binCode}} is in no sampled record" in result.output
    assert "placeholder {{items.warehouseCode}}" not in result.output
    assert f"WARNING {BI}: 1 placeholder in no record of" in result.output


# -- which window ---------------------------------------------------------------------------------


def test_preview_walks_past_empty_windows_to_the_first_with_records(env, seed):
    result = ferry(env, "preview", str(seed))

    assert result.exit_code == 0, result.output
    assert "4 empty windows skipped, from 2024-04-27 23:50:00 to 2024-05-01 23:50:00" in result.output
    assert f"Source request for window {FIRST_WITH_RECORDS}:" in result.output
    assert "(none)" not in result.output
    doc = json.loads(ferry(env, "preview", str(seed), "--json").stdout)
    assert len(doc["empty_windows"]) == 4
    assert doc["records"], "the first window with records is mapped"


def test_preview_says_how_many_windows_were_empty_when_none_had_records(env, seed):
    result = ferry(env, "preview", str(seed), "--max-windows", "2")

    assert result.exit_code == 0, result.output
    assert "2 empty windows asked, from 2024-04-27 23:50:00 to 2024-04-29 23:50:00" in result.output
    assert "Mapped records (0):" in result.output
    assert (
        f"NOT CHECKED {BI}: placeholders: no records in the windows asked (2 empty windows asked"
        in result.output
    )


def test_preview_since_until_picks_exactly_that_window(env, seed):
    result = ferry(
        env, "preview", str(seed), "--since", "2024-05-09", "--until", "2024-05-12", "--json", "--limit", "50"
    )

    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["window"] == {"start": "2024-05-09 00:00:00+08:00", "end": "2024-05-12 00:00:00+08:00"}
    assert doc["empty_windows"] == []
    assert doc["request"]["startModified"] == "2024-05-09 00:00:00"
    assert doc["request"]["endModified"] == "2024-05-12 00:00:00"
    modified = sorted({r["payload"]["modified"] for r in doc["records"]})
    assert modified == ["2024-05-09 12:00:01", "2024-05-11 00:00:01"]  # the sandbox's two in it


def test_preview_since_alone_walks_from_there_in_steps(env, seed):
    result = ferry(env, "preview", str(seed), "--since", "2024-05-20 12:00:00", "--json")

    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    asked = [*doc["empty_windows"], doc["window"]]
    assert asked[0]["start"] == "2024-05-20 12:00:00+08:00"
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(asked))
    assert all(w["end"][11:] == "12:00:00+08:00" for w in asked), "one-day steps from --since"
    assert doc["records"]


def test_preview_until_before_since_exits_2(env, seed):
    result = ferry(env, "preview", str(seed), "--since", "2024-05-11", "--until", "2024-05-10")

    assert result.exit_code == 2
    assert "must be after --since" in result.output


def test_preview_help_states_the_default_walk(env):
    result = ferry(env, "preview", "--help")

    assert f"[default: {MAX_WINDOWS}]" in " ".join(result.output.split())


# -- --fill-response ------------------------------------------------------------------------------


def test_fill_response_writes_fields_and_types_and_the_scheme_still_validates(env, seed):
    source = seed.parent / "source.json"
    before = source.read_text(encoding="utf-8")

    result = ferry(env, "preview", str(seed), "--fill-response", "--limit", "5")

    assert result.exit_code == 0, result.output
    assert f"to {source}" in result.output
    meta = json.loads(source.read_text(encoding="utf-8"))
    fields = {f["field"]: f for f in meta["response"]}
    assert fields["id"]["type"] == "int"
    assert fields["tid"]["type"] == "string"
    assert fields["modified"]["type"] == "datetime"
    assert fields["refundMoney"]["type"] == "float"
    assert {f["describe"] for f in meta["response"]} == {"_autoFillResponse"}
    items = fields["items"]
    assert items["type"] == "array"
    children = {c["field"]: c for c in items["children"]}
    assert children["outerId"]["type"] == "string"
    assert children["outerId"]["parent"] == "items"
    assert children["receivableCount"]["type"] == "int"
    # the rest of the file is as it was, line for line
    kept = [line for line in before.splitlines() if line.strip() not in ("}", "")]
    assert all(line in source.read_text(encoding="utf-8").splitlines() for line in kept[:-1])
    validated = ferry(env, "validate", str(seed))
    assert validated.exit_code == 0, validated.output
    assert load_scheme(seed, env=env).source_meta.response[0].describe == "_autoFillResponse"


def test_fill_response_keeps_declared_fields_and_jsonc_comments(env, seed):
    source = seed.parent / "source.json"
    meta = json.loads(source.read_text(encoding="utf-8"))
    jsonc = seed.parent / "source.jsonc"
    body = json.dumps(
        {**meta, "response": [{"field": "tid", "label": "平台订单号", "type": "string"}]},
        ensure_ascii=False,
        indent=2,
    )
    jsonc.write_text(
        "// 快麦售后单 source\n" + body.replace('"api":', '// the API\n  "api":', 1), encoding="utf-8"
    )
    seed.write_text(
        seed.read_text(encoding="utf-8").replace("metadata: source.json", "metadata: source.jsonc"),
        encoding="utf-8",
    )

    result = ferry(env, "preview", str(seed), "--fill-response")

    assert result.exit_code == 0, result.output
    assert "note:" not in result.output
    text = jsonc.read_text(encoding="utf-8")
    assert text.startswith("// 快麦售后单 source\n")
    assert "// the API\n" in text
    response = load_scheme(seed, env=env).source_meta.response
    tid = next(f for f in response if f.field == "tid")
    assert (tid.label, tid.describe) == ("平台订单号", None)
    assert next(f for f in response if f.field == "shopName").describe == "_autoFillResponse"


def test_fill_response_writes_inline_metadata_into_the_scheme_file(env, seed):
    meta = json.loads((seed.parent / "source.json").read_text(encoding="utf-8"))
    text = seed.read_text(encoding="utf-8")
    seed.write_text(
        text.replace("metadata: source.json}", "metadata: " + json.dumps(meta, ensure_ascii=False) + "}"),
        encoding="utf-8",
    )

    result = ferry(env, "preview", str(seed), "--fill-response")

    assert result.exit_code == 0, result.output
    assert f"to {seed}" in result.output
    after = seed.read_text(encoding="utf-8")
    assert after.startswith("# Seed 001")  # the comments of the scheme file are kept
    fields = {f.field: f.type for f in load_scheme(seed, env=env).source_meta.response}
    assert fields["items"] == "array" and fields["id"] == "int"
