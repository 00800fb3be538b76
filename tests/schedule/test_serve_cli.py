"""`ferry serve` on the command line: bad files exit 2, --once runs what is due, SIGTERM stops."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from schedule_env import create_demo_tables, write_demo_scheme
from typer.testing import CliRunner

from ferry.cli.main import app
from ferry.demo.server import DemoSource
from ferry.store import open_store
from ferry.store._schema import alert_incidents, schedule_slots


@pytest.fixture
def demo():
    with DemoSource(n_orders=0, n_products=20, seed=2) as source:
        yield source


@pytest.fixture
def files(tmp_path, demo):
    db = tmp_path / "target.db"
    create_demo_tables(db)
    scheme = write_demo_scheme(
        tmp_path, "products", base_url=demo.base_url, db=db, schedule={"source": "* * * * *"}
    )
    return scheme, db


def invoke(store_url: str, *args: str):
    return CliRunner().invoke(app, ["serve", *args], env={"FERRY_STORE_URL": store_url, "COLUMNS": "200"})


def test_every_bad_scheme_file_is_reported_and_nothing_runs(tmp_path, sqlite_url, files):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nname: x\nschedule: {source: 'every minute'}\n")
    result = invoke(sqlite_url, str(files[0]), str(bad), str(tmp_path / "missing.yaml"), "--once")
    assert result.exit_code == 2, result.output
    assert "INVALID" in result.output and "2 of 3 scheme files invalid; nothing was run" in result.output


def test_once_prints_the_schedule_and_runs_only_the_missed_slot(sqlite_url, files):
    scheme, db = files
    first = invoke(sqlite_url, str(scheme), "--once")
    assert first.exit_code == 0, first.output
    assert "demo-products" in first.output and "source (collect + deliver)" in first.output
    assert "* * * * *" in first.output and "0 runs due" in first.output, "a first start only records slots"
    with open_store(sqlite_url) as store, store.transaction(write=True) as conn:  # an hour of downtime
        conn.execute(sa.update(schedule_slots).values(last_slot=datetime.now(UTC) - timedelta(hours=1)))
    second = invoke(sqlite_url, str(scheme), "--once")
    assert second.exit_code == 0, second.output
    assert "1 run due" in second.output and "succeeded" in second.output
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM products").fetchone()[0] == 20
    with open_store(sqlite_url) as store:
        assert [r["kind"] for r in store.list_runs("demo-products")] == ["run"]


def test_sigterm_stops_serve_cleanly(sqlite_url, files):
    env = {**os.environ, "FERRY_STORE_URL": sqlite_url, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferry", "serve", str(files[0]), "--no-console"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving"):
                break
        assert any("demo-products" in line for line in lines), lines
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(lines) + out
    assert "stopped" in out


def test_alert_rules_are_checked_before_anything_runs_and_evaluated_after_a_once_pass(
    tmp_path, sqlite_url, demo
):
    db = tmp_path / "target.db"
    create_demo_tables(db)
    broken = write_demo_scheme(
        tmp_path, "products", base_url=demo.base_url + "/gone", db=db, schedule={"source": "* * * * *"}
    )
    bad = tmp_path / "bad-alerts.yaml"
    bad.write_text("rules: [{type: no_such_rule}]\n")
    result = invoke(sqlite_url, str(broken), "--once", "--alerts", str(bad))
    assert result.exit_code == 2, result.output
    with open_store(sqlite_url) as store:
        assert store.list_runs() == [], "nothing ran"
    assert invoke(sqlite_url, str(broken), "--once").exit_code == 0  # records the slots
    with open_store(sqlite_url) as store, store.transaction(write=True) as conn:
        conn.execute(sa.update(schedule_slots).values(last_slot=datetime.now(UTC) - timedelta(hours=1)))
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text("rules: [{type: run_failed}]\n")
    result = invoke(sqlite_url, str(broken), "--once", "--alerts", str(alerts))
    assert result.exit_code == 2, result.output  # the source answers 404: a configuration error
    with open_store(sqlite_url) as store, store.transaction() as conn:
        incidents = conn.execute(sa.select(alert_incidents.c.rule, alert_incidents.c.subject)).all()
    assert [tuple(i) for i in incidents] == [("run_failed", "demo-products")]
