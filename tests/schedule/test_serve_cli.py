"""`ferry serve` on the command line: bad files exit 2, --once runs what is due; served, the console
and the alert rules run beside the scheduler and SIGTERM stops all of it."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from schedule_env import create_demo_tables, write_demo_scheme
from typer.testing import CliRunner

from console_seed import csrf_of
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], what: str, seconds: float = 10) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_serve_runs_the_console_and_the_alerts_and_stops_cleanly_on_sigterm(tmp_path, sqlite_url, files):
    scheme, _ = files
    added = CliRunner().invoke(
        app,
        ["users", "add", "ops", "--password-stdin"],
        input="s3cret-password\n",
        env={"FERRY_STORE_URL": sqlite_url},
    )
    assert added.exit_code == 0, added.output
    with open_store(sqlite_url) as store:  # a failed run the alert rules will find
        store.save_scheme("demo-products", "demo-products", {})
        store.finish_run(store.start_run("demo-products", "run"), "failed", {}, "vendor said no")
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text("settings: {interval: 1s}\nrules: [{name: products-failed, type: run_failed}]\n")
    port = free_port()
    env = {**os.environ, "FERRY_STORE_URL": sqlite_url, "COLUMNS": "200"}
    env.pop("FERRY_METRICS_TOKEN", None)
    command = [
        sys.executable,
        "-m",
        "ferry",
        "serve",
        str(scheme),
        "--port",
        str(port),
        "--alerts",
        str(alerts),
        "--no-initial-run",  # the failed run above must stay the latest
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving"):
                break
        assert f"console on http://127.0.0.1:{port}/\n" in lines, lines
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as web:
            login = web.get("/login")  # serve says "console on" once it listens
            answer = web.post(
                "/login",
                data={"username": "ops", "password": "s3cret-password", "csrf_token": csrf_of(login.text)},
            )
            assert answer.status_code == 303, answer.text
            schemes = web.get("/api/schemes").json()
            assert [s["id"] for s in schemes] == ["demo-products"]
            assert 'ferry_scheme_enabled{scheme="demo-products"} 1.0' in web.get("/metrics").text
            try:  # generous: CI runs the chaos suite on the other worker meanwhile
                alerts_seen = wait_until(
                    lambda: (a := web.get("/api/alerts").json())["incidents"] and a, "the alert hook", 30
                )
            except pytest.fail.Exception:
                proc.send_signal(signal.SIGTERM)
                said, _ = proc.communicate(timeout=15)
                pytest.fail("no alert incident within 30 s; ferry serve said:\n" + "".join(lines) + said)
        assert [r["name"] for r in alerts_seen["rules"]] == ["products-failed"]
        [incident] = alerts_seen["incidents"]
        assert (incident["rule"], incident["subject"]) == ("products-failed", "demo-products")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, "".join(lines) + out
    assert out.rstrip().endswith("stopped")


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
    assert invoke(sqlite_url, str(broken), "--once", "--no-check").exit_code == 0  # records the slots
    with open_store(sqlite_url) as store, store.transaction(write=True) as conn:
        conn.execute(sa.update(schedule_slots).values(last_slot=datetime.now(UTC) - timedelta(hours=1)))
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text("rules: [{type: run_failed}]\n")
    result = invoke(sqlite_url, str(broken), "--once", "--no-check", "--alerts", str(alerts))
    assert result.exit_code == 2, result.output  # the source answers 404: a configuration error
    with open_store(sqlite_url) as store, store.transaction() as conn:
        incidents = conn.execute(sa.select(alert_incidents.c.rule, alert_incidents.c.subject)).all()
    assert [tuple(i) for i in incidents] == [("run_failed", "demo-products")]
