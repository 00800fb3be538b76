"""Chaos: each vendor source with 10,000 records, every fault, killed runs -- zero lost, zero duplicated.

Per scenario (see ``scenarios.py``: KuaiMai, KIS, K3Cloud, JuShuiTan, WangDianTong, OKKI) the
example scheme runs as real ``ferry run`` processes against the sandbox served over HTTP. The
storm on the source: 10% 5xx/timeouts, throttling (the vendor allows less than Ferry is told),
token expiry, records modified while paging, late arrivals, duplicates across pages; on a vendor
that is the target: errors, token expiry and writes whose answer is lost after they were
applied; five SIGKILLs at random moments, and the MariaDB connections killed server-side. Then
the vendors calm down, Ferry catches up (incremental runs and omissionRemedy sweeps), and the
target must equal the source exactly.
"""

from __future__ import annotations

import json
import random
import shutil
import time
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
    ferry,
    ledger_totals,
    record_outcome,
    serve,
    storm,
    unbalanced_runs,
)
from scenarios import SCENARIOS, Scenario

from ferry.sandbox import Sandbox, world
from ferry.sandbox.seeds import SEEDS, examples_dir, sandbox_env
from ferry.sandbox.transport import simulator_class
from ferry.store import open_store

SIZE = 10_000
LAG = 3.0
SEED = {seed.key: seed for seed in SEEDS}


def prepare_scheme(
    folder: Path,
    key: str,
    start: str,
    step: str,
    remedy: dict[str, str] | None,
    settings: dict[str, Any] | None = None,
) -> Path:
    """Point a copied scheme's window at the sandbox's history; retries every second; give its
    source an omissionRemedy sweep reaching 3 hours back; and apply the ``settings`` given."""
    scheme_file = folder / SEED[key].file
    scheme = yaml.safe_load(scheme_file.read_text(encoding="utf-8"))
    window = {"start": start, "step": step, "lookback": "2m", "lag": f"{int(LAG)}s"}
    if "max_span" in scheme.get("window", {}):
        window["max_span"] = scheme["window"]["max_span"]
    scheme["window"] = window
    # the ladder and the in-run backoff are kept short, so the storm fits in a CI minute
    scheme.setdefault("settings", {}).update(
        retry=["1s"] * 8,
        call_retry={"attempts": 6, "base_delay": "50ms", "max_delay": "1s"},
        **(settings or {}),
    )
    scheme_file.write_text(yaml.safe_dump(scheme, allow_unicode=True), encoding="utf-8")
    if remedy:
        source_file = folder / scheme["source"]["metadata"]
        source = json.loads(source_file.read_text(encoding="utf-8"))
        source["omissionRemedy"] = {
            "crontab": "*/30 * * * *",
            "takeOverRequest": [
                {"field": k, "label": "补漏", "type": "string", "value": v} for k, v in remedy.items()
            ],
        }
        source_file.write_text(json.dumps(source, ensure_ascii=False), encoding="utf-8")
    return scheme_file


def prepare(tmp: Path, scenario: Scenario, start: str) -> tuple[Path, list[Path]]:
    """The scenario's scheme file and its prelude (helper) scheme files, copied and adjusted."""
    folder = tmp / "scheme"
    shutil.copytree(examples_dir() / SEED[scenario.seed].folder, folder)
    scheme_file = prepare_scheme(
        folder, scenario.seed, start, scenario.step, scenario.remedy, scenario.settings
    )
    preludes = [prepare_scheme(folder, key, start, "1d", None) for key in scenario.prelude]
    connections = yaml.safe_load((folder / "connections.yaml").read_text(encoding="utf-8"))
    connections[scenario.connection].update(scenario.connection_extra)
    (folder / "connections.yaml").write_text(
        yaml.safe_dump(connections, allow_unicode=True), encoding="utf-8"
    )
    return scheme_file, preludes


def build_sandbox(scenario: Scenario) -> tuple[Sandbox, str]:
    """The scenario's simulators with their storms, their history anchored at the real clock;
    and the scheme's first window start (just before that history)."""
    old = anchor_now(timedelta(hours=2))
    try:
        sandbox = Sandbox(
            {
                name: simulator_class(name)(
                    size=scenario.sizes.get(name, SIZE), faults=Faults(**scenario.faults(name))
                )
                for name in scenario.simulators
            }
        )
        start = (world.ANCHOR - world.SPAN - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    finally:
        world.set_anchor(*old)
    return sandbox, start


def run_prelude(scheme: Path, env: dict[str, str], cwd: Path) -> None:
    """Fill the lookups the scheme needs (under the target's faults: retried until it succeeds)."""
    for _ in range(4):
        proc = ferry(["run", str(scheme)], env, cwd)
        out, _ = proc.communicate(timeout=600)
        if proc.returncode == 0:
            return
    raise AssertionError(f"prelude {scheme.name} did not succeed:\n{out[-3000:]}")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.seed)
def test_every_record_arrives_exactly_once(
    scenario: Scenario, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from ferry.sandbox.kuaimai import KuaimaiSimulator

    started = time.monotonic()
    sandbox, start = build_sandbox(scenario)
    database = None
    store_url = f"sqlite:///{tmp_path / 'ferry.db'}"
    extra_env: dict[str, str] = {"KUAIMAI_REFRESH_TOKEN": KuaimaiSimulator.REFRESH_TOKEN}
    killed = None
    if scenario.store_on_mariadb:
        store_url = request.getfixturevalue("mariadb_url")
        killed = store_url.rsplit("/", 1)[1].split("?")[0]
        open_store(store_url).close()  # installed before the storm, as a deployment is
    if scenario.mariadb:
        url = request.getfixturevalue("mariadb_url")
        database = killed = url.rsplit("/", 1)[1].split("?")[0]
        conn = pymysql.connect(**MARIADB, database=database, autocommit=True)
        conn.cursor().execute((examples_dir() / SEED[scenario.seed].folder / "schema.sql").read_text())
        conn.close()
        extra_env |= {"BI_MYSQL_URL": url, "MOM_MYSQL_URL": url}
    server = serve(sandbox)
    killer = DbKiller(killed) if killed else None
    explained = scenario.explained(sandbox)
    try:
        scheme, preludes = prepare(tmp_path, scenario, start)
        scheme_id = yaml.safe_load(scheme.read_text(encoding="utf-8"))["id"]
        env = base_env(tmp_path, store_url, {**sandbox_env(sandbox, server.urls()), **extra_env})
        for prelude in preludes:
            run_prelude(prelude, env, tmp_path)
        if killer:
            killer.start()
        kills = storm(scheme, env, tmp_path, kills=5, rng=random.Random(7))
        if killer:
            killer.stop.set()
            killer.join()
        for sim in sandbox:
            sim.calm()  # the storm is over: the source holds still, Ferry catches up
        converge(scheme, env, tmp_path, store_url, scheme_id, lag=LAG, expected_failures=explained)
    finally:
        if killer:
            killer.stop.set()
        server.stop()
    want = scenario.expected(sandbox)
    got: dict[Any, Any] = {}
    duplicated: list[Any] = []
    for key, content in scenario.actual(sandbox, database, store_url):
        if key in got:
            duplicated.append(key)
        got[key] = content
    dead, retries = ledger_totals(store_url, scheme_id, explained=explained)
    balanced, unbalanced = unbalanced_runs(store_url)
    faults = 0
    for sim in sandbox:
        faults += sum(1 for c in sim.calls if c.fault)
        for data in sim.datasets():
            faults += len(data.drifted) + len(data.late) + len(data.duplicated)
    outcome = Outcome(
        scenario=scenario.name,
        records=scenario.carried(sandbox) if scenario.carried else len(want),
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
    assert dead == 0, "dead letters the data does not explain"
    assert balanced > 0 and unbalanced == [], unbalanced[:10]  # every run's counts balance, killed ones aside
    assert got == want, "every target record must carry the source's content"
