"""How many deliver child processes a streaming run forks (``settings.deliver_workers``)."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.engine.hosts import choose as worker
from ferry.engine.hosts import deliver_workers
from ferry.scheme.loader import load_scheme


def _scheme(target: dict[str, Any], **settings: Any) -> Any:
    return load_scheme(
        {
            "id": "s",
            "name": "s",
            "source": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {"api": "SELECT 1", "effect": "QUERY", "id": "id"},
            },
            "target": {
                "connection": target,
                "metadata": {
                    "api": "batchexecute",
                    "effect": "EXECUTE",
                    "request": [{"field": "id", "value": "{id}"}],
                    "otherRequest": [{"field": "main_sql", "value": "REPLACE INTO t (id) VALUES"}],
                },
            },
            "settings": settings,
        }
    )


MARIADB = {"type": "sql", "url": "mysql+pymysql://root@127.0.0.1:3306/x"}
POSTGRES = {"type": "sql", "url": "postgresql+psycopg://u@h/x"}
SQLITE = {"type": "sql", "url": "sqlite:///target.db"}
HTTP = {"type": "http", "base_url": "https://api.example.com"}


@pytest.mark.parametrize(("target", "expected"), [(MARIADB, 2), (POSTGRES, 2), (SQLITE, 1), (HTTP, 1)])
def test_database_servers_get_two_workers_by_default_the_rest_one(
    target: dict[str, Any], expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker.os, "cpu_count", lambda: 4)
    assert deliver_workers(_scheme(target)) == expected


def test_one_core_keeps_one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.os, "cpu_count", lambda: 1)
    assert deliver_workers(_scheme(MARIADB)) == 1


def test_the_setting_wins_over_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.os, "cpu_count", lambda: 4)
    assert deliver_workers(_scheme(MARIADB, deliver_workers=1)) == 1
    assert deliver_workers(_scheme(SQLITE, deliver_workers=3)) == 3
