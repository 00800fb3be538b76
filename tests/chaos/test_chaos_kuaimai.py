"""Chaos: KuaiMai after-sales -> MariaDB (seed 001) under every fault, with kills, loses nothing."""

from __future__ import annotations

import json
import random
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pymysql
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
SCHEME_ID = "001-kuaimai-aftersale-to-mysql"
LAG = 3.0


def prepare(tmp: Path, start: str) -> Path:
    seed = next(s for s in SEEDS if s.key == "001")
    folder = tmp / "scheme"
    shutil.copytree(examples_dir() / seed.folder, folder)
    scheme = yaml.safe_load((folder / "scheme.yaml").read_text(encoding="utf-8"))
    scheme["window"] = {"start": start, "step": "30m", "lookback": "2m", "lag": f"{int(LAG)}s"}
    scheme["settings"]["retry"] = ["1s"] * 8
    (folder / "scheme.yaml").write_text(yaml.safe_dump(scheme, allow_unicode=True), encoding="utf-8")
    source = json.loads((folder / "source.json").read_text(encoding="utf-8"))
    source["omissionRemedy"] = {
        "crontab": "*/30 * * * *",
        "takeOverRequest": [
            {
                "field": "startModified",
                "label": "补漏起始",
                "type": "string",
                "value": "{{HOURS_AGO_3|datetime}}",
            }
        ],
    }
    (folder / "source.json").write_text(json.dumps(source, ensure_ascii=False), encoding="utf-8")
    connections = yaml.safe_load((folder / "connections.yaml").read_text(encoding="utf-8"))
    connections["kuaimai"]["refresh_token"] = "${KUAIMAI_REFRESH_TOKEN}"
    connections["kuaimai"]["rate_per_second"] = 50  # the sandbox allows 40: throttling answers happen
    (folder / "connections.yaml").write_text(
        yaml.safe_dump(connections, allow_unicode=True), encoding="utf-8"
    )
    return folder / "scheme.yaml"


def expected(sandbox: Sandbox) -> dict[tuple[str, str], tuple[Any, ...]]:
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


def actual(database: str) -> list[tuple[Any, ...]]:
    conn = pymysql.connect(**MARIADB, database=database)
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, outer_id, tid, status, modified, qty FROM aftersale_list_query")
        return list(cur.fetchall())
    finally:
        conn.close()


def test_kuaimai_to_mariadb_loses_and_duplicates_nothing(tmp_path: Path, mariadb_url: str) -> None:
    started = time.monotonic()
    old = anchor_now(timedelta(hours=2))
    try:
        from ferry.sandbox.kuaimai import KuaimaiSimulator

        faults = Faults(
            error_rate=0.1,
            token_expiry_calls=40,
            drift_rate=0.01,
            late_rate=0.01,
            late_after_calls=40,
            duplicate_rate=0.05,
            rate_per_second=40,
            seed=11,
        )
        sandbox = Sandbox.default(size=SIZE, only=["kuaimai"], faults=faults)
        start = (world.ANCHOR - world.SPAN - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    finally:
        world.set_anchor(*old)
    database = mariadb_url.rsplit("/", 1)[1].split("?")[0]
    conn = pymysql.connect(**MARIADB, database=database, autocommit=True)
    conn.cursor().execute((examples_dir() / "001-kuaimai-aftersale-to-mysql" / "schema.sql").read_text())
    conn.close()
    server = serve(sandbox)
    killer = DbKiller(database)
    try:
        scheme = prepare(tmp_path, start)
        env = base_env(
            tmp_path,
            {
                **sandbox_env(sandbox, server.urls()),
                "BI_MYSQL_URL": mariadb_url,
                "KUAIMAI_REFRESH_TOKEN": KuaimaiSimulator.REFRESH_TOKEN,
            },
        )
        killer.start()
        kills = storm(scheme, env, tmp_path, kills=5, rng=random.Random(7))
        killer.stop.set()
        killer.join()
        sandbox["kuaimai"].calm()  # the storm is over: the source holds still, Ferry catches up
        converge(scheme, env, tmp_path, tmp_path / "ferry.db", SCHEME_ID, lag=LAG)
    finally:
        killer.stop.set()
        server.stop()
    want = expected(sandbox)
    rows = actual(database)
    got: dict[tuple[str, str], tuple[Any, ...]] = {}
    duplicated = []
    for rid, outer, tid, status, modified, qty in rows:
        key = (rid, outer)
        if key in got:
            duplicated.append(key)
        got[key] = (tid, status, modified, qty)
    dead, retries = ledger_totals(tmp_path / "ferry.db", SCHEME_ID)
    data = sandbox["kuaimai"].aftersales  # type: ignore[attr-defined]
    outcome = Outcome(
        scenario="kuaimai -> mariadb (001)",
        records=len(want),
        faults=sum(1 for c in sandbox["kuaimai"].calls if c.fault)
        + len(data.drifted)
        + len(data.late)
        + len(data.duplicated),
        retries=retries,
        kills=kills,
        db_kills=killer.kills,
        lost=sorted(set(want) - set(got)),
        duplicated=duplicated + sorted(set(got) - set(want)),
        dead=dead,
        seconds=time.monotonic() - started,
    )
    record_outcome(outcome)
    assert kills >= 5 and outcome.faults > 0
    assert outcome.lost == [] and outcome.duplicated == []
    assert dead == 0
    assert got == want, "every row must carry the source's latest content"
