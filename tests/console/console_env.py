"""Helpers of the console tests: seed 001 (KuaiMai after-sales -> SQLite) run once per session.

The target table of the run rejects items with a quantity above 2 (:mod:`console_seed`), so the
ledger holds finished and failed records; :meth:`ConsoleEnv.unblock` drops the trigger, after
which a replay delivers them. Each test gets its own copy of the store and the target database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console_seed import FAST, SCHEME_ID, blocked_targets, csrf_of, load, sandbox
from ferry.console import BackgroundRunner, add_user, create_app
from ferry.engine.runner import run_scheme
from ferry.observe.alerts import describe_rules, parse_alert_config
from ferry.sandbox.seeds import RUN_UNTIL
from ferry.scheme.model import Scheme
from ferry.store import Store, open_store
from ferry.store._schema import alert_incidents, alert_notices, run_events

USER, PASSWORD = "ops", "correct-horse-1"
ALERTS = parse_alert_config(
    {
        "channels": {"ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
        "rules": [{"name": "aftersale-failed", "type": "run_failed", "schemes": ["001-*"]}],
    },
    env={},
)


def copy_db(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@dataclass
class Seeded:
    home: Path
    store_db: Path
    target_db: Path
    error_ids: list[str]
    finished_ids: list[str]


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    home = tmp_path_factory.mktemp("seeded")
    sb = sandbox()
    files = blocked_targets(home)
    scheme = load(sb, files)
    store_db = home / "ferry.db"
    with open_store(f"sqlite:///{store_db}") as store:
        report = run_scheme(
            scheme, store, now=RUN_UNTIL.replace(tzinfo=scheme.tz), transport=sb.transport(), retry=FAST
        )
        assert report.status == "partial", report.error
        add_user(store, USER, PASSWORD)
        now = datetime.now(UTC)
        with store.transaction(write=True) as conn:
            conn.execute(
                sa.insert(run_events),
                [
                    {"run_id": report.run_id, "at": now, "level": "info", "message": "window 1 of 33 read"},
                    {"run_id": report.run_id, "at": now, "level": "warning", "message": "8 records failed"},
                ],
            )
            incident = conn.execute(
                sa.insert(alert_incidents).values(
                    rule="run_failed",
                    subject=SCHEME_ID,
                    status="resolved",
                    severity="critical",
                    summary="run 1 of 001 failed",
                    opened_at=now - timedelta(minutes=5),
                    last_seen_at=now - timedelta(minutes=4),
                    resolved_at=now - timedelta(minutes=1),
                )
            ).inserted_primary_key[0]
            conn.execute(
                sa.insert(alert_notices),
                [
                    {
                        "incident_id": incident,
                        "channel": "dingtalk",
                        "kind": "alert",
                        "at": now,
                        "ok": True,
                        "error": None,
                    },
                    {
                        "incident_id": incident,
                        "channel": "email",
                        "kind": "recovery",
                        "at": now,
                        "ok": False,
                        "error": "550 mailbox unavailable",
                    },
                ],
            )
        errors = [r.record_id for r in store.find_records(SCHEME_ID, status="error", limit=1000)]
        finished = [r.record_id for r in store.find_records(SCHEME_ID, status="finished", limit=1000)]
    assert errors and finished, "the seed must leave failed and delivered records"
    return Seeded(home, store_db, files["bi"], errors, finished)


@dataclass
class ConsoleEnv:
    """A console app over this test's copy of the seeded store."""

    app: FastAPI
    client: TestClient
    store: Store
    scheme: Scheme
    runner: BackgroundRunner
    target_db: Path
    seeded: Seeded

    @property
    def error_id(self) -> str:
        return self.seeded.error_ids[0]

    @property
    def finished_id(self) -> str:
        return self.seeded.finished_ids[0]

    def new_client(self, **headers: str) -> TestClient:
        return TestClient(self.app, headers=headers)

    def login(self, client: TestClient | None = None) -> str:
        """Log ``client`` (default: ``self.client``) in through the login form; its CSRF token."""
        client = client or self.client
        page = client.get("/login")
        answer = client.post(
            "/login",
            data={"username": USER, "password": PASSWORD, "csrf_token": csrf_of(page.text), "next": "/"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        return csrf_of(client.get("/").text)

    def api_login(self, client: TestClient | None = None) -> str:
        """Log in through the JSON API; the token to send as ``X-CSRF-Token``."""
        client = client or self.client
        token = client.get("/api/session").json()["csrf_token"]
        answer = client.post(
            "/api/session", json={"username": USER, "password": PASSWORD}, headers={"X-CSRF-Token": token}
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["csrf_token"])

    def unblock(self) -> None:
        """Fix the target: accept every quantity."""
        with sqlite3.connect(self.target_db) as con:
            con.execute("DROP TRIGGER block_big")

    def target_rows(self) -> set[tuple[str, str]]:
        with sqlite3.connect(self.target_db) as con:
            return {(str(a), str(b)) for a, b in con.execute("SELECT id, outer_id FROM aftersale_list_query")}


@pytest.fixture
def env(seeded: Seeded, tmp_path: Path) -> Iterator[ConsoleEnv]:
    store_db, target_db = tmp_path / "ferry.db", tmp_path / "bi.db"
    copy_db(seeded.store_db, store_db)
    copy_db(seeded.target_db, target_db)
    sb = sandbox()
    scheme = load(sb, {"bi": target_db, "ty_mes": tmp_path / "ty_mes.db", "main": tmp_path / "targets.db"})
    with open_store(f"sqlite:///{store_db}") as store:
        schemes = {scheme.id: scheme}
        runner = BackgroundRunner(
            store,
            lambda: schemes,
            now=RUN_UNTIL.replace(tzinfo=scheme.tz),
            transport=sb.transport(),
            retry=FAST,
        )
        app = create_app(
            store,
            schemes=lambda: schemes,
            runner=runner,
            alert_rules=partial(describe_rules, ALERTS),
            secret_key="test-secret-key",
            metrics_token="",
        )
        with TestClient(app) as client:
            yield ConsoleEnv(app, client, store, scheme, runner, target_db, seeded)
        runner.wait(scheme.id, timeout=30)


def status_of(store: Store, record_id: str) -> str:
    row = store.get_record(SCHEME_ID, record_id)
    assert row is not None
    return row.status


def json_of(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()
