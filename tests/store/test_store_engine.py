"""Where the store lives, how SQLite is set up, and two processes sharing one SQLite file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ferry.errors import ConfigError
from ferry.store import Store, _store, open_store
from ferry.store._engine import resolve_url


def test_explicit_url_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERRY_STORE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert resolve_url(f"sqlite:///{tmp_path / 'arg.db'}").database == str(tmp_path / "arg.db")
    assert resolve_url(None).database == str(tmp_path / "env.db")


def test_default_is_ferry_db_in_ferry_home_created_on_demand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FERRY_STORE_URL", raising=False)
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home" / "nested"))
    with open_store() as store:
        assert store.dialect == "sqlite"
        store.save_scheme("s", "S", {})
    assert (tmp_path / "home" / "nested" / "ferry.db").is_file()


def test_ferry_home_defaults_to_dot_ferry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FERRY_STORE_URL", raising=False)
    monkeypatch.delenv("FERRY_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_url(None).database == str(tmp_path.resolve() / ".ferry" / "ferry.db")
    assert (tmp_path / ".ferry").is_dir()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        pytest.param("mysql://u:pw@db.example/ferry", "mysql+pymysql", id="mysql"),
        pytest.param("mariadb://u:pw@db.example/ferry", "mysql+pymysql", id="mariadb"),
        pytest.param("postgres://u:pw@db.example/ferry", "postgresql+psycopg", id="postgres"),
        pytest.param("postgresql+psycopg://u:pw@db.example/ferry", "postgresql+psycopg", id="explicit"),
    ],
)
def test_bare_database_names_get_the_bundled_driver(url: str, driver: str) -> None:
    assert resolve_url(url).drivername == driver


def test_store_url_masks_the_password() -> None:
    store = Store("mysql://ferry:s3cret-pw@db.example:3306/ferry")
    try:
        assert "s3cret" not in store.url and "***" in store.url
        assert "s3cret" not in repr(store)
        assert store.dialect == "mysql"
        assert "charset=utf8mb4" in store.url
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("oracle://u@h/db", "supported: sqlite, mysql/mariadb, postgresql", id="unsupported"),
        pytest.param("ferry.db", "is not a URL", id="not-a-url"),
        pytest.param(
            "sqlite:////no/such/dir/ferry.db", "directory '/no/such/dir' does not exist", id="missing-dir"
        ),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Store(url)


def test_sqlite_runs_in_wal_with_busy_timeout_and_foreign_keys(sqlite_store: Store) -> None:
    with sqlite_store._engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        }
    assert pragma == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1, "synchronous": 1}


def _hold_write_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that takes SQLite's write lock, says so, and keeps it for a while."""
    code = textwrap.dedent(
        f"""
        import sqlite3, sys, time
        c = sqlite3.connect({str(db)!r}, isolation_level=None)
        c.execute("BEGIN IMMEDIATE")
        c.execute("UPDATE schemes SET name = 'held'")
        print("locked", flush=True)
        time.sleep({seconds})
        c.execute("COMMIT")
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_sqlite_readers_are_not_blocked_and_writers_wait_for_the_lock(
    sqlite_store: Store, tmp_path: Path
) -> None:
    sqlite_store.save_scheme("s", "S", {})
    sqlite_store.upsert_records("s", [("a", None, {})])
    holder = _hold_write_lock(tmp_path / "ferry.db", 1.0)
    try:
        started = time.monotonic()
        assert [r.record_id for r in sqlite_store.find_records("s")] == ["a"]
        assert time.monotonic() - started < 0.5
        result = sqlite_store.upsert_records("s", [("b", None, {})])  # waits, then succeeds
        assert result.new == 1
        assert time.monotonic() - started > 0.5
    finally:
        holder.wait(10)
    assert sqlite_store.get_scheme("s")["name"] == "held"  # type: ignore[index]


def test_two_processes_write_one_sqlite_file_without_lock_errors(
    sqlite_store: Store, sqlite_url: str
) -> None:
    code = textwrap.dedent(
        f"""
        from datetime import UTC, datetime
        from ferry.store import RecordResult, open_store
        store = open_store({sqlite_url!r}, migrate=False)
        for page in range(40):
            store.upsert_records("child", [(f"{{page}}-{{i}}", None, {{"i": i}}) for i in range(50)])
            rows = store.claim("child", 30, datetime.now(UTC))
            store.record_results("child", [RecordResult(r.record_id, "finished") for r in rows])
        print("done", flush=True)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for page in range(40):
        sqlite_store.upsert_records("parent", [(f"{page}-{i}", None, {}) for i in range(50)])
        sqlite_store.find_records("child", limit=20)
        sqlite_store.claim("parent", 30, datetime.now(UTC))
    out, err = child.communicate(timeout=60)
    assert (child.returncode, out.strip()) == (0, "done"), err
    assert sum(sqlite_store.count_by_status("child").values()) == 2000
    assert sum(sqlite_store.count_by_status("parent").values()) == 2000


def test_one_store_is_shared_safely_by_threads(store: Store) -> None:
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            for page in range(10):
                store.upsert_records("s", [(f"{slot}-{page}-{i}", None, {}) for i in range(20)])
                store.claim("s", 15, datetime.now(UTC))
                store.find_records("s", limit=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    counts = store.count_by_status("s")
    assert (counts["pending"] + counts["queued"], counts["queued"]) == (800, 600)


def test_postgres_statistics_are_refreshed_as_the_ledger_grows(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_store, "ANALYZE_FIRST", 30)
    with open_store(postgres_url) as store:
        store.upsert_records("s", [(str(i), None, {}) for i in range(20)])
        assert _reltuples(store) < 20  # never analyzed (-1), or estimated from an empty table
        store.upsert_records("s", [(str(i), None, {}) for i in range(20, 40)])
        assert _reltuples(store) == 40


def _reltuples(store: Store) -> float:
    with store._engine.connect() as conn:
        value = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'ledger'").scalar()
    assert value is not None
    return float(value)
