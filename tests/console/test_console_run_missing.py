"""The run page lists the target fields a placeholder found nothing for, in the page's language;
a run whose placeholders all found their fields shows no such list."""

from __future__ import annotations

import html
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from console_env import ConsoleEnv

from console_seed import SCHEME_ID
from ferry.engine.runner import run_scheme
from ferry.scheme.loader import load_scheme

NOW = datetime(2024, 5, 3, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _typo_run(env: ConsoleEnv, tmp: Path) -> int:
    """Run 25 records into a nullable column through ``{{extra.outerID}}`` (the source sends
    ``outer_id``); the run's id."""
    with sqlite3.connect(tmp / "src.db") as con:
        con.execute("CREATE TABLE src (id INTEGER PRIMARY KEY, outer_id TEXT)")
        con.executemany("INSERT INTO src VALUES (?, ?)", [(i, f"O{i}") for i in range(1, 26)])
    with sqlite3.connect(tmp / "dst.db") as con:
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, outer_id TEXT)")
    definition: dict[str, Any] = {
        "id": "typo",
        "name": "typo",
        "source": {
            "connection": {"type": "sql", "url": f"sqlite:///{tmp / 'src.db'}"},
            "metadata": {"api": "SELECT id, outer_id FROM src ORDER BY id", "effect": "QUERY", "id": "id"},
        },
        "target": {
            "connection": {"type": "sql", "url": f"sqlite:///{tmp / 'dst.db'}"},
            "metadata": {
                "api": "batchexecute",
                "effect": "EXECUTE",
                "request": [{"field": "id", "value": "{id}"}, {"field": "outer_id", "value": "{outerID}"}],
                "otherRequest": [{"field": "main_sql", "value": "REPLACE INTO t (id, outer_id) VALUES"}],
            },
        },
        "window": {"start": "2024-05-03 00:00:00", "step": "1d"},
        "settings": {"batch_size": 10, "page_size": 10},
    }
    report = run_scheme(load_scheme(definition), env.store, now=NOW)
    assert report.status == "succeeded", report.error
    assert report.run_id is not None
    return report.run_id


def _missing(page: str) -> list[str]:
    listed = page.split('id="run-missing"')[1].split("</ul>")[0]
    return [html.unescape(line) for line in re.findall(r"<li><code>(.*?)</code></li>", listed)]


def test_the_run_page_lists_the_fields_a_placeholder_found_nothing_for(
    env: ConsoleEnv, tmp_path: Path
) -> None:
    env.login()
    run_id = _typo_run(env, tmp_path)

    en = env.client.get(f"/runs/{run_id}", params={"lang": "en"}).text
    zh = env.client.get(f"/runs/{run_id}", params={"lang": "zh"}).text
    api = env.client.get(f"/api/runs/{run_id}").json()

    assert "Placeholders that found nothing" in en
    assert _missing(en) == ["outer_id: missing in 25 of 25 records"]
    assert "取不到值的占位符" in zh
    assert _missing(zh) == ["outer_id：25 条记录中有 25 条取不到占位符的值"]
    assert api["placeholders"] == {"mapped": 25, "missing": {"outer_id": 25}}
    assert "a placeholder found nothing: outer_id: missing in 25 of 25 records" in en  # the run's log


def test_a_run_whose_placeholders_found_their_fields_lists_none(env: ConsoleEnv) -> None:
    env.login()
    run = env.store.list_runs(SCHEME_ID, limit=1)[0]

    page = env.client.get(f"/runs/{run['id']}").text

    assert run["placeholders"]["mapped"] == run["counts"]["due"] and run["placeholders"]["missing"] == {}
    assert 'id="run-missing"' not in page and "Placeholders that found nothing" not in page
