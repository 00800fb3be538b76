"""The "schema drift" badge on the scheme list and the scheme page, linking to the open events."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

from console_env import SCHEME_ID, ConsoleEnv

from ferry.engine.drift import accept_fingerprint
from ferry.store import drift as stored


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _drift(env: ConsoleEnv) -> None:
    run_id = env.store.list_runs(SCHEME_ID, limit=1)[0]["id"]
    events = [
        stored.DriftEvent("items[].outerID", "appeared", None, "string", "4000117", "warn", run_id),
        stored.DriftEvent("items[].outerId", "disappeared", "string", None, "4000117", "warn", run_id),
        stored.DriftEvent("refundMoney", "type", "float", "float,string", "4000118", "warn", run_id),
    ]
    stored.record_drift(env.store, SCHEME_ID, events, datetime.now(UTC))


def test_open_drift_shows_a_badge_that_links_to_its_events(env: ConsoleEnv) -> None:
    env.login()
    assert "Schema drift" not in env.client.get("/schemes").text  # nothing drifted yet
    _drift(env)

    listing = env.client.get("/schemes").text
    badge = re.search(r'<a class="badge warning drift" href="([^"]+)">([^<]+)</a>', listing)
    assert badge is not None and badge.group(2) == "Schema drift 3"
    assert badge.group(1) == f"/schemes/{SCHEME_ID}#drift"

    page = env.client.get(badge.group(1).split("#")[0]).text
    assert '<a class="badge warning drift" href="#drift">Schema drift 3</a>' in page
    run_id = env.store.list_runs(SCHEME_ID, limit=1)[0]["id"]
    table = text_of(page.split('id="drift-events"')[1].split("</table>")[0])
    assert f"refundMoney type float float,string #{run_id} 4000118 1" in table  # newest first
    assert f"items[].outerId disappeared string #{run_id} 4000117 1" in table
    assert f"items[].outerID appeared string #{run_id} 4000117 1" in table
    assert f'<a href="/runs/{run_id}">#{run_id}</a>' in page
    assert f"ferry drift accept {SCHEME_ID}" in text_of(page)

    zh = env.client.get(f"/schemes/{SCHEME_ID}", headers={"Accept-Language": "zh-CN"}).text
    assert '<a class="badge warning drift" href="#drift">结构漂移 3</a>' in zh


def test_accepting_the_drift_takes_the_badge_away(env: ConsoleEnv) -> None:
    env.login()
    _drift(env)
    assert stored.accept_drift(env.store, SCHEME_ID, accept_fingerprint, by="ops", now=datetime.now(UTC)) == 3
    assert "badge warning drift" not in env.client.get("/schemes").text
    page = env.client.get(f"/schemes/{SCHEME_ID}").text
    assert "badge warning drift" not in page and 'id="drift-events"' not in page
