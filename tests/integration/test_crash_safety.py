"""Invariant 3: a SIGKILL at any instant loses nothing and duplicates nothing.

A real `ferry run` process is killed with SIGKILL in the middle of collect, in the middle
of deliver, and at random points of streaming runs; the next run must leave the MariaDB
target exactly equal to the source (ids and contents), with no duplicates.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from demo_env import create_target_tables, database_name, expected_lines, target_lines, write_schemes

from ferry.demo.dataset import build_dataset

ORDERS, PRODUCTS, SEED = 2500, 100, 11
UNTIL = "2024-06-02 00:00:00"

pytestmark = pytest.mark.slow


@pytest.fixture
def source_url():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ferry.demo",
            "--orders",
            str(ORDERS),
            "--products",
            str(PRODUCTS),
            "--seed",
            str(SEED),
            "--latency-ms",
            "25",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), url
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def env(tmp_path, source_url, mariadb_url, mariadb_raw):
    target = mariadb_raw(database_name(mariadb_url))
    create_target_tables(target)
    paths = write_schemes(
        tmp_path,
        source_url=source_url,
        target_url=mariadb_url,
        page_size=50,
        orders_patch={"window": {"step": "3d"}, "settings": {"batch_size": 40}},
    )
    store = tmp_path / "ferry.db"
    dataset = build_dataset(n_orders=ORDERS, n_products=PRODUCTS, seed=SEED)
    return {
        "paths": paths,
        "store": store,
        "target": target,
        "expected": expected_lines(dataset.orders, dataset.products),
    }


def ferry(env, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ferry",
            "--store",
            f"sqlite:///{env['store']}",
            "run",
            *args,
            "--until",
            UNTIL,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(env, *args: str) -> None:
    proc = ferry(env, *args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err


def ledger(store: Path, sql: str) -> int:
    if not store.exists():
        return 0
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # tables not migrated yet
        return 0
    finally:
        con.close()


def kill_when(proc: subprocess.Popen, condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        if proc.poll() is not None:
            pytest.fail(f"ferry finished before it could be killed: {proc.stderr.read()}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("the kill point was never reached")


def assert_exact(env) -> None:
    assert target_lines(env["target"]) == env["expected"]
    total = len(env["expected"])
    assert (
        ledger(
            env["store"], "SELECT count(*) FROM ledger WHERE scheme_id='demo-orders' AND status='finished'"
        )
        == total
    )


def test_sigkill_in_the_middle_of_collect(env):
    finish(env, str(env["paths"]["products"]))
    proc = ferry(env, str(env["paths"]["orders"]), "--collect-only")
    rows = "SELECT count(*) FROM ledger WHERE scheme_id='demo-orders'"
    kill_when(proc, lambda: ledger(env["store"], rows) >= 400)
    stored = ledger(env["store"], rows)
    assert 0 < stored < len(env["expected"]), "killed mid-collect"
    finish(env, str(env["paths"]["orders"]))
    assert_exact(env)


def test_sigkill_in_the_middle_of_deliver(env):
    finish(env, str(env["paths"]["products"]))
    finish(env, str(env["paths"]["orders"]), "--collect-only")
    total = len(env["expected"])
    assert ledger(env["store"], "SELECT count(*) FROM ledger WHERE scheme_id='demo-orders'") == total
    proc = ferry(env, str(env["paths"]["orders"]), "--deliver-only")
    done = "SELECT count(*) FROM ledger WHERE scheme_id='demo-orders' AND status='finished'"
    kill_when(proc, lambda: ledger(env["store"], done) >= 200)
    assert ledger(env["store"], done) < total, "killed mid-deliver"
    finish(env, str(env["paths"]["orders"]), "--deliver-only")
    assert_exact(env)
    killed = ledger(
        env["store"], "SELECT count(*) FROM runs WHERE status='failed' AND error LIKE 'interrupted%'"
    )
    assert killed == 1, "the killed run is recorded as interrupted"
    assert ledger(env["store"], "SELECT count(*) FROM runs WHERE status='running'") == 0


def test_repeated_sigkills_at_random_points_of_streaming_runs(env):
    finish(env, str(env["paths"]["products"]))
    rng = random.Random(2024)
    for _ in range(5):
        proc = ferry(env, str(env["paths"]["orders"]))
        time.sleep(rng.uniform(0.6, 2.5))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finish(env, str(env["paths"]["orders"]))
    assert_exact(env)
