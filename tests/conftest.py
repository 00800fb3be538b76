"""Shared fixtures: real database services, each test on its own throw-away database.

The services are the machine's own MariaDB, PostgreSQL and Redis. If one is down we try to start
it (the machine's documented start command). Outside CI a missing service skips the tests
that need it; with ``CI`` set it fails them loudly, because CI must never pass by skipping.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"

START_COMMANDS = {
    "mariadb": ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"],
    "postgres": ["sh", "-c", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"],
    "redis": [
        "sh",
        "-c",
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'
        " --dir /var/lib/redis --logfile /var/log/redis/ci.log",
    ],
}

_checked: dict[str, str | None] = {}


def _mariadb_ping() -> None:
    import pymysql

    pymysql.connect(**MARIADB, connect_timeout=3).close()


def _postgres_ping() -> None:
    import psycopg

    psycopg.connect(POSTGRES_DSN, connect_timeout=3).close()


def _redis_ping() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    finally:
        client.close()


def _require(service: str, ping: Callable[[], None]) -> None:
    """Make sure ``service`` answers, starting it once if needed; skip or fail otherwise."""
    if service not in _checked:
        _checked[service] = _bring_up(service, ping)
    problem = _checked[service]
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{service} is required in CI and is not reachable: {problem}", pytrace=False)
    pytest.skip(f"{service} not reachable: {problem}")


def _bring_up(service: str, ping: Callable[[], None]) -> str | None:
    try:
        ping()
        return None
    except Exception:
        pass
    try:
        subprocess.run(START_COMMANDS[service], check=False, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"start command failed: {exc}"
    deadline = time.monotonic() + 30
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            ping()
            return None
        except Exception as exc:  # still starting
            last = exc
            time.sleep(0.5)
    return str(last)


def _unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database; dropped after the test. SQLAlchemy URL."""
    import pymysql

    _require("mariadb", _mariadb_ping)
    name = _unique_name("ferry_test")
    conn = pymysql.connect(**MARIADB, autocommit=True)
    try:
        conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; dropped after the test. SQLAlchemy URL."""
    import psycopg

    _require("postgres", _postgres_ping)
    name = _unique_name("ferry_test")
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> str:
    """The machine's Redis (database 0). Redis has no throw-away databases: tests keep their keys
    under a unique prefix (:func:`redis_prefix`) that is deleted after the test."""
    _require("redis", _redis_ping)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix in the machine's Redis; every key under it is deleted after the test."""
    import redis

    prefix = f"{_unique_name('ferry_test')}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh SQLite database file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'ferry.db'}"


@pytest.fixture(params=["sqlite", "mariadb", "postgres"])
def any_db_url(request) -> str:
    """The same test on SQLite, MariaDB and PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def mariadb_raw() -> Callable[[str], object]:
    """A factory for raw PyMySQL connections to a named database (for asserting end states)."""
    import pymysql

    _require("mariadb", _mariadb_ping)

    def connect(database: str | None = None):
        return pymysql.connect(**MARIADB, database=database, autocommit=True, charset="utf8mb4")

    return connect


def pytest_configure(config) -> None:
    """A folder where chaos scenarios leave their table rows (workers inherit the variable)."""
    import tempfile

    if not os.environ.get("FERRY_CHAOS_REPORT"):
        os.environ["FERRY_CHAOS_REPORT"] = tempfile.mkdtemp(prefix="ferry-chaos-")


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the chaos table: scenario, records, faults injected, retries, kills, lost, duplicated, dead."""
    import json
    from pathlib import Path

    folder = os.environ.get("FERRY_CHAOS_REPORT")
    rows = (
        [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(folder).glob("*.json"))]
        if folder
        else []
    )
    if not rows:
        return
    headers = list(rows[0])
    widths = [max(len(str(h)), *(len(str(r[h])) for r in rows)) for h in headers]
    terminalreporter.section("chaos: zero lost, zero duplicated")
    terminalreporter.write_line("  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        terminalreporter.write_line(
            "  ".join(str(row[h]).ljust(w) for h, w in zip(headers, widths, strict=True))
        )


@pytest.fixture(autouse=True)
def _forget_remembered_secrets() -> Iterator[None]:
    """Each test starts with no remembered secrets: values one test loaded as secrets (its
    ``${VAR}`` values, say a host name) must not be masked in another test's output."""
    from ferry._redact import forget_secrets

    forget_secrets()
    yield
    forget_secrets()
