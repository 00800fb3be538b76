"""The quality report page (``/quality``, English and Chinese, with its charts) and ``/api/quality``."""

from __future__ import annotations

import re
from html import unescape

from console_env import SCHEME_ID, ConsoleEnv, json_of

from ferry.engine.counts import RunCounts


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _held_run(env: ConsoleEnv) -> int:
    """A finished run of scheme ``q-shop`` whose rules held 3 of its 10 records and warned 2."""
    counts = RunCounts(fetched=10, new=10, due=10, delivered=6, quarantined=3, failed=1, warned=2)
    counts.quality_rules = {
        "qty-min": {"warned": 0, "quarantined": 2, "failed": 0},
        "map:shops": {"warned": 0, "quarantined": 1, "failed": 0},
        "name-short": {"warned": 2, "quarantined": 0, "failed": 0},
    }
    run_id = env.store.start_run("q-shop", "run")
    env.store.finish_run(run_id, "partial", counts.as_dict(), None, [])
    return run_id


def test_the_page_shows_every_bucket_the_rules_and_the_charts_in_english(env: ConsoleEnv) -> None:
    run_id = _held_run(env)
    env.login()
    page = env.client.get("/quality")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="nav-quality"' in html and ">Quality<" in html
    assert html.count('<svg class="chart bars"') == 2
    assert "Due records per day" in html and "Per quality rule" in html
    table = text_of(html.split('id="quality"')[1].split("</table>")[0])
    for label in (
        "source total",
        "filtered out",
        "collected",
        "due",
        "quarantined",
        "delivered",
        "failed",
        "dropped",
    ):
        assert label in table
    assert "q-shop" in table and SCHEME_ID in table
    rules = text_of(html.split('id="quality-rules"')[1].split("</table>")[0])
    assert "qty-min 2 0 0 0" in rules and "map:shops 1 0 0 0" in rules and "name-short 0 0 2 0" in rules
    assert "do not balance" not in html

    by_run = env.client.get("/quality", params={"by": "run", "scheme": "q-shop"}).text
    assert f'href="/runs/{run_id}"' in by_run and SCHEME_ID not in text_of(by_run.split('id="quality"')[1])


def test_the_page_speaks_chinese(env: ConsoleEnv) -> None:
    _held_run(env)
    env.login()
    html = env.client.get("/quality", params={"lang": "zh"}).text
    assert "质量报告" in html and "按质量规则" in html and "数据质量" in html
    table = text_of(html.split('id="quality"')[1].split("</table>")[0])
    for label in ("源端总数", "已过滤", "已采集", "应写入", "已隔离", "已写入", "失败", "已丢弃"):
        assert label in table


def test_the_api_answers_the_rows_with_their_buckets_and_rules(env: ConsoleEnv) -> None:
    assert env.client.get("/api/quality").status_code == 401
    run_id = _held_run(env)
    env.api_login()
    doc = json_of(env.client.get("/api/quality", params={"scheme": "q-shop"}))
    assert doc["by"] == "run" and [r["key"] for r in doc["rows"]] == [str(run_id)]
    row = doc["rows"][0]
    assert (row["due"], row["delivered"], row["quarantined"], row["failed"], row["balanced"]) == (
        10,
        6,
        3,
        1,
        True,
    )
    assert row["rules"]["qty-min"] == {"warned": 0, "quarantined": 2, "failed": 0, "dropped": 0}
    days = json_of(env.client.get("/api/quality", params={"by": "day"}))
    assert {r["scheme_id"] for r in days["rows"]} == {"q-shop", SCHEME_ID}
    assert all(r["balanced"] for r in days["rows"])
    assert env.client.get("/api/quality", params={"by": "week"}).status_code == 422
