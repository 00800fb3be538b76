"""Chaos: a vendor source with 10,000 records, every fault, killed runs -- zero lost, zero duplicated.

So far two vendor sources run here (KuaiMai -> MariaDB, KIS materials -> the ledger); the
others follow as they are made fast enough for CI.

Per scenario the example scheme runs as real ``ferry run`` processes against the sandbox served
over HTTP. The storm: 10% 5xx/timeouts, throttling (the vendor allows less than Ferry is told),
token expiry, records modified while paging, late arrivals, duplicates across pages, writes whose
answer is lost, five SIGKILLs at random moments and the MariaDB connections killed server-side.
Then the vendors calm down, Ferry catches up (incremental runs and omissionRemedy sweeps), and
the target must equal the source exactly.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pymysql
import pytest
import yaml
from harness import (
    MARIADB,
    DbKiller,
    Faults,
    Outcome,
    anchor_now,
    base_env,
    converge,
    ledger_totals,
    record_outcome,
    serve,
    storm,
)

from ferry.sandbox import Sandbox, world
from ferry.sandbox.seeds import SEEDS, examples_dir, sandbox_env

SIZE = 10_000
LAG = 3.0
SEED = {seed.key: seed for seed in SEEDS}
STORM = dict(
    error_rate=0.1, token_expiry_calls=40, drift_rate=0.01, late_rate=0.01, late_after_calls=40,
    duplicate_rate=0.05, lost_write_rate=0.05, rate_per_second=40, rate_per_minute=0, seed=11,
)  # fmt: skip


@dataclass
class Scenario:
    name: str
    seed: str
    simulators: list[str]
    remedy: dict[str, str]
    """takeOverRequest field -> value: the omissionRemedy sweep reaches 3 hours back."""
    expected: Callable[[Sandbox], dict[Any, Any]]
    actual: Callable[[Sandbox, str | None, Path], list[tuple[Any, Any]]]
    """``(key, content)`` per target row (a key seen twice is a duplicate)."""
    connection: str = ""
    connection_extra: dict[str, Any] = field(default_factory=dict)
    mariadb: bool = False
    step: str = "30m"


def kuaimai_expected(sandbox: Sandbox) -> dict[Any, Any]:
    return {
        (str(order["id"]), item["outerId"]): (
            order["tid"],
            int(order["status"]),
            order["modified"],
            item["receivableCount"],
        )
        for order in sandbox["kuaimai"].aftersales.all()  # type: ignore[attr-defined]
        for item in order["items"]
    }


def kuaimai_actual(sandbox: Sandbox, database: str | None, ledger: Path) -> list[tuple[Any, Any]]:
    conn = pymysql.connect(**MARIADB, database=database)
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, outer_id, tid, status, modified, qty FROM aftersale_list_query")
        return [((r[0], r[1]), tuple(r[2:])) for r in cur.fetchall()]
    finally:
        conn.close()


def kis_expected(sandbox: Sandbox) -> dict[Any, Any]:
    return {str(row["FItemID"]): row["F_103"] for row in sandbox["kis"].material_data.all()}  # type: ignore[attr-defined]


def ledger_actual(sandbox: Sandbox, database: str | None, ledger: Path) -> list[tuple[Any, Any]]:
    import sqlite3

    with sqlite3.connect(ledger) as con:
        rows = con.execute(
            "SELECT record_id, content FROM ledger WHERE scheme_id = 'kis-material' AND status = 'finished'"
        ).fetchall()
    return [(rid, json.loads(content)["F_103"]) for rid, content in rows]


SCENARIOS = [
    Scenario(
        "kuaimai -> mariadb (001)",
        "001",
        ["kuaimai"],
        {"startModified": "{{HOURS_AGO_3|datetime}}"},
        kuaimai_expected,
        kuaimai_actual,
        connection="kuaimai",
        connection_extra={"refresh_token": "${KUAIMAI_REFRESH_TOKEN}", "rate_per_second": 50},
        mariadb=True,
    ),
    Scenario(
        "kis materials -> ledger (002's lookup)",
        "kis-material",
        ["kis"],
        {"ItemsOfPage": "{{PAGINATION_PAGE_SIZE}}"},
        kis_expected,
        ledger_actual,
        connection="kis",
        step="3650d",
    ),
]


def prepare(tmp: Path, scenario: Scenario, start: str) -> Path:
    seed = SEED[scenario.seed]
    folder = tmp / "scheme"
    shutil.copytree(examples_dir() / seed.folder, folder)
    scheme_file = folder / seed.file
    scheme = yaml.safe_load(scheme_file.read_text(encoding="utf-8"))
    source_file = folder / scheme["source"]["metadata"]
    window = {"start": start, "step": scenario.step, "lookback": "2m", "lag": f"{int(LAG)}s"}
    if "max_span" in scheme.get("window", {}):
        window["max_span"] = scheme["window"]["max_span"]
    scheme["window"] = window
    scheme.setdefault("settings", {})["retry"] = ["1s"] * 8
    scheme_file.write_text(yaml.safe_dump(scheme, allow_unicode=True), encoding="utf-8")
    source = json.loads(source_file.read_text(encoding="utf-8"))
    source["omissionRemedy"] = {
        "crontab": "*/30 * * * *",
        "takeOverRequest": [
            {"field": k, "label": "补漏", "type": "string", "value": v} for k, v in scenario.remedy.items()
        ],
    }
    source_file.write_text(json.dumps(source, ensure_ascii=False), encoding="utf-8")
    connections = yaml.safe_load((folder / "connections.yaml").read_text(encoding="utf-8"))
    connections[scenario.connection].update(scenario.connection_extra)
    (folder / "connections.yaml").write_text(
        yaml.safe_dump(connections, allow_unicode=True), encoding="utf-8"
    )
    return scheme_file


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.seed)
def test_every_record_arrives_exactly_once(
    scenario: Scenario, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from ferry.sandbox.kuaimai import KuaimaiSimulator

    started = time.monotonic()
    old = anchor_now(timedelta(hours=2))
    try:
        sandbox = Sandbox.default(size=SIZE, only=scenario.simulators, faults=Faults(**STORM))
        start = (world.ANCHOR - world.SPAN - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    finally:
        world.set_anchor(*old)
    database = None
    extra_env: dict[str, str] = {"KUAIMAI_REFRESH_TOKEN": KuaimaiSimulator.REFRESH_TOKEN}
    if scenario.mariadb:
        url = request.getfixturevalue("mariadb_url")
        database = url.rsplit("/", 1)[1].split("?")[0]
        conn = pymysql.connect(**MARIADB, database=database, autocommit=True)
        conn.cursor().execute((examples_dir() / SEED[scenario.seed].folder / "schema.sql").read_text())
        conn.close()
        extra_env |= {"BI_MYSQL_URL": url, "MOM_MYSQL_URL": url}
    server = serve(sandbox)
    killer = DbKiller(database) if database else None
    scheme_id = ""
    try:
        scheme = prepare(tmp_path, scenario, start)
        scheme_id = yaml.safe_load(scheme.read_text(encoding="utf-8"))["id"]
        env = base_env(tmp_path, {**sandbox_env(sandbox, server.urls()), **extra_env})
        if killer:
            killer.start()
        kills = storm(scheme, env, tmp_path, kills=5, rng=random.Random(7))
        if killer:
            killer.stop.set()
            killer.join()
        for sim in sandbox:
            sim.calm()  # the storm is over: the source holds still, Ferry catches up
        converge(scheme, env, tmp_path, tmp_path / "ferry.db", scheme_id, lag=LAG)
    finally:
        if killer:
            killer.stop.set()
        server.stop()
    want = scenario.expected(sandbox)
    got: dict[Any, Any] = {}
    duplicated: list[Any] = []
    for key, content in scenario.actual(sandbox, database, tmp_path / "ferry.db"):
        if key in got:
            duplicated.append(key)
        got[key] = content
    dead, retries = ledger_totals(tmp_path / "ferry.db", scheme_id)
    faults = 0
    for sim in sandbox:
        faults += sum(1 for c in sim.calls if c.fault)
        for data in sim.datasets():
            faults += len(data.drifted) + len(data.late) + len(data.duplicated)
    outcome = Outcome(
        scenario=scenario.name,
        records=len(want),
        faults=faults,
        retries=retries,
        kills=kills,
        db_kills=killer.kills if killer else 0,
        lost=sorted(set(want) - set(got)),
        duplicated=duplicated + sorted(set(got) - set(want)),
        dead=dead,
        seconds=time.monotonic() - started,
    )
    record_outcome(outcome)
    assert kills >= 5 and faults > 0
    assert outcome.lost == [], outcome.lost[:10]
    assert outcome.duplicated == [], outcome.duplicated[:10]
    assert dead == 0
    assert got == want, "every target record must carry the source's content"
