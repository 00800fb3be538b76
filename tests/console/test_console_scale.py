"""The console at real sizes and in both languages.

The store holds seed 001's run plus what a production day leaves (:mod:`console_scale`): a
catch-up run of 1,073 windows and ~1,075 log lines, a day of records and API calls, incidents,
and a helper scheme known only by its UUID. Every page is walked in Chinese and in English.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from html import unescape
from pathlib import Path

import pytest
from console_env import SCHEME_ID, ConsoleEnv, csrf_of
from fastapi.testclient import TestClient
from page_text import untranslated

from console_scale import EVERY_RULE, FILLED, HELPER_ID, HELPER_NAME, WINDOWS, RealSizes, seed_real_sizes
from ferry.console import SchemeFiles, create_app
from ferry.console._runpage import LOG_PAGE, WINDOWS_PAGE
from ferry.observe.alerts import describe_rules
from ferry.sandbox.seeds import examples_dir
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

PAGE_LIMIT = 300_000
"""Most bytes of HTML one page may weigh, however large the run."""
ZONED = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+08:00")
BARE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?![\d:.])(?! ?[+-]\d{2}:?\d{2})"
)


@dataclass
class Scaled:
    env: ConsoleEnv
    sizes: RealSizes
    client: TestClient


@pytest.fixture
def scaled(env: ConsoleEnv, tmp_path: Path) -> Iterator[Scaled]:
    """The seeded console plus a day at real sizes, every kind of alert rule and a broken file."""
    sizes = seed_real_sizes(env.store)
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: broken\nname: b\nsource: {connection: x, metadata: nope.json}\n", encoding="utf-8")
    schemes = {env.scheme.id: env.scheme}
    env.app = create_app(
        env.store,
        schemes=lambda: schemes,
        runner=env.runner,
        alert_rules=partial(describe_rules, EVERY_RULE),
        load_issues=SchemeFiles([broken]).issues,
        secret_key="scale-secret",
        metrics_token="",
    )
    with TestClient(env.app) as client:
        env.login(client)
        yield Scaled(env, sizes, client)


def text_of(html: str) -> str:
    """The text a reader sees: inline spans joined to their neighbours, other tags as spaces."""
    inline = re.sub(r"</?(span|b)\b[^>]*>", "", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def window_names(html: str) -> list[str]:
    table = html.split('id="windows"')[1].split("</table>")[0]
    return [unescape(w) for w in re.findall(r'<tr class="window"><td><code>([^<]+)</code>', table)]


def log_lines(html: str) -> list[str]:
    table = html.split('id="logs"')[1].split("</table>")[0]
    return [unescape(m) for m in re.findall(r"<td><code>([^<]*)</code></td></tr>", table)]


def test_a_thousand_window_run_is_one_small_page_with_its_windows_and_log_paged(scaled: Scaled) -> None:
    run_id, client = scaled.sizes.catch_up_run, scaled.client
    filled = [w["window"] for w in scaled.sizes.windows if w["fetched"]]
    events = [e["message"] for e in scaled.env.store.list_run_events(run_id, limit=5000)]
    assert len(scaled.sizes.windows) == WINDOWS and len(filled) == FILLED > WINDOWS_PAGE
    assert len(events) == scaled.sizes.events > 10 * LOG_PAGE

    first = client.get(f"/runs/{run_id}")
    second = client.get(f"/runs/{run_id}", params={"wpage": 2, "lpage": 3})
    every = client.get(f"/runs/{run_id}", params={"show": "all", "wpage": 2})
    beyond = client.get(f"/runs/{run_id}", params={"wpage": 999, "lpage": 0})
    hostile = client.get(f"/runs/{run_id}", params={"wpage": 10**30, "lpage": -5})
    assert hostile.status_code == 422, "pages out of any bound are refused, not clamped"

    for page in (first, second, every, beyond):
        assert page.status_code == 200 and len(page.content) < PAGE_LIMIT, len(page.content)
    assert window_names(first.text) == filled[:WINDOWS_PAGE], "page 1: the first windows with records"
    assert window_names(second.text) == filled[WINDOWS_PAGE:], "page 2: the other windows"
    assert (
        window_names(every.text)
        == [w["window"] for w in scaled.sizes.windows][WINDOWS_PAGE : 2 * WINDOWS_PAGE]
    )
    assert window_names(beyond.text) == filled[WINDOWS_PAGE:], "a page past the end shows the last one"
    assert log_lines(first.text) == events[:LOG_PAGE]
    assert log_lines(second.text) == events[2 * LOG_PAGE : 3 * LOG_PAGE], "log page 3"
    assert log_lines(beyond.text) == events[:LOG_PAGE], "a page before the start shows the first one"
    summary = text_of(first.text.split('id="run-summary"')[1].split("</div>")[0])
    assert f"Windows: 1,073 (with records {FILLED} · empty {WINDOWS - FILLED:,})" in summary
    text = text_of(first.text)
    assert f"{WINDOWS - FILLED:,} empty windows (nothing fetched)" in text
    assert f"Page 1 of 2 · 1–{WINDOWS_PAGE} of {FILLED}" in text
    pages = -(-len(events) // LOG_PAGE)
    assert f"Page 1 of {pages} · 1–{LOG_PAGE} of {len(events):,}" in text
    assert 'href="?wpage=2#windows"' in first.text and f'href="?lpage={pages}#logs"' in first.text
    warnings = [
        e["message"] for e in scaled.env.store.list_run_events(run_id, limit=5000, levels=["warning"])
    ]
    problems = client.get(f"/runs/{run_id}", params={"log": "problems"}).text
    assert 0 < len(warnings) < LOG_PAGE and log_lines(problems) == warnings, "the warnings alone, on one page"
    assert f"Warnings and errors only ({len(warnings)})" in text


def walk(scaled: Scaled, lang: str) -> dict[str, str]:
    """Every page (and every message the console flashes) in ``lang``, by what was asked."""
    env, client, sizes = scaled.env, scaled.client, scaled.sizes
    client.get("/", params={"lang": lang})
    seed_run = env.store.list_runs(SCHEME_ID, limit=1)[0]["id"]
    big = sizes.catch_up_run
    paths = [
        "/",
        "/schemes",
        f"/schemes/{SCHEME_ID}",
        f"/schemes/{HELPER_ID}",
        "/runs",
        f"/runs?scheme={HELPER_ID}",
        f"/runs/{seed_run}",
        f"/runs/{big}",
        f"/runs/{big}?wpage=2&lpage=3",
        f"/runs/{big}?show=all",
        "/records",
        f"/records?scheme={HELPER_ID}&status=error&status=finished&since=2026-01-01T00:00",
        f"/records/{SCHEME_ID}/{env.error_id}",
        f"/records/{SCHEME_ID}/{env.finished_id}",
        f"/records/{HELPER_ID}/{sizes.error_id}",
        "/apis",
        "/apis?hours=168",
        "/alerts",
        "/runs/99999",
    ]
    pages = {path: client.get(path).text for path in paths}
    token = csrf_of(pages["/"])
    posts = {
        "disable": (f"/schemes/{SCHEME_ID}/enabled", {"enabled": "0", "back_to": "/schemes"}),
        "enable": (f"/schemes/{SCHEME_ID}/enabled", {"enabled": "1", "back_to": "/schemes"}),
        "run a scheme not loaded": (f"/schemes/{HELPER_ID}/run", {}),
        "replay nothing": ("/records/replay", {"mode": "selected"}),
        "replay everything": ("/records/replay", {"mode": "filter"}),
        "replay one": ("/records/replay", {"sel": json.dumps([SCHEME_ID, env.error_id])}),
    }
    for what, (path, form) in posts.items():
        pages[what] = client.post(path, data={**form, "csrf_token": token}, follow_redirects=True).text
    env.runner.wait(SCHEME_ID, timeout=30)
    pages["without a CSRF token"] = client.post(f"/schemes/{SCHEME_ID}/run", data={}).text
    with open_store(f"sqlite:///{env.seeded.home.parent / f'no-users-{lang}.db'}") as empty:
        fresh = TestClient(create_app(empty, schemes=dict, secret_key="k"))
        pages["login, no user yet"] = fresh.get("/login", params={"lang": lang}).text
    logged_out = env.new_client()
    pages["login"] = logged_out.get("/login", params={"lang": lang}).text
    pages["wrong password"] = logged_out.post(
        "/login",
        data={"username": "ops", "password": "nope", "csrf_token": csrf_of(pages["login"]), "next": "/"},
    ).text
    return pages


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_speaks_one_language(scaled: Scaled, lang: str) -> None:
    pages = walk(scaled, lang)

    problems = {what: found for what, html in pages.items() if (found := untranslated(html, lang))}

    assert len(pages) == 29 and all(len(html) > 500 for html in pages.values())
    assert not problems, "untranslated:\n" + "\n".join(
        f"{what}: {found[:6]}" for what, found in problems.items()
    )
    assert all(f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in html for html in pages.values())


def test_the_page_walk_catches_a_raw_counter_name_and_english_left_in_chinese() -> None:
    page = (
        '<html lang="zh-CN"><body><th>filtered_out</th><p>已写入 <span translate="no">SO-1 shipped</span></p>'
    )
    page += '<p>共 3 条 records</p><code>batchexecute</code><a lang="en">English</a></body></html>'

    assert untranslated(page, "zh") == ["'filtered_out' (filtered_out)", "'共 3 条 records' (records)"]
    assert untranslated('<p>已写入 3</p><p translate="no">金蝶</p>', "en") == ["'已写入 3' (已, 写, 入)"]


def test_a_scheme_known_by_its_uuid_is_shown_by_its_name(scaled: Scaled) -> None:
    client, sizes = scaled.client, scaled.sizes
    for path in (
        "/",
        "/schemes",
        "/runs",
        f"/runs/{sizes.catch_up_run}",
        "/alerts",
        f"/records/{HELPER_ID}/{sizes.error_id}",
    ):
        html = client.get(path).text
        link = re.search(rf'<a href="/schemes/{HELPER_ID}"[^>]*>([^<]+)</a>', html)
        assert link and link.group(1) == HELPER_NAME, path
        assert f'title="{HELPER_ID}"' in html, f"{path}: the full id on hover"
    records = client.get("/records").text
    assert f'<option value="{HELPER_ID}" translate="no" >{HELPER_NAME} · caf5709b…</option>' in records


def test_every_time_shown_carries_its_zone(scaled: Scaled) -> None:
    client, sizes = scaled.client, scaled.sizes
    for path in (
        "/",
        "/runs",
        f"/runs/{sizes.catch_up_run}",
        "/records",
        f"/records/{HELPER_ID}/{sizes.error_id}",
        "/alerts",
    ):
        html = client.get(path).text
        shown = " ".join(unescape(re.sub(r"<(code|pre)\b.*?</\1>|<[^>]+>", " ", html, flags=re.S)).split())
        assert ZONED.search(shown), path
        assert not BARE_TIME.search(shown), f"{path}: a time without its zone: {BARE_TIME.search(shown)}"
    dashboard = client.get("/").text
    assert ">UTC+08:00</text>" in dashboard, "the chart says the zone of its hours"


def test_a_lookup_names_the_scheme_it_looks_up_in(scaled: Scaled) -> None:
    names = ("OKKI_CLIENT_ID", "OKKI_CLIENT_SECRET", "K3CLOUD_URL", "K3CLOUD_ACCT_ID", "K3CLOUD_USERNAME")
    env = {name: "x-123456" for name in (*names, "K3CLOUD_APP_ID", "K3CLOUD_APP_SECRET")}
    env["K3CLOUD_URL"] = "http://127.0.0.1:9/k3cloud"
    receipts = load_scheme(
        examples_dir() / "004-okki-receipts-to-k3cloud" / "scheme.yaml", env=env, check=False
    )
    app = create_app(scaled.env.store, schemes=lambda: {receipts.id: receipts}, secret_key="k")
    client = TestClient(app)
    scaled.env.login(client)

    page = client.get(f"/schemes/{receipts.id}").text

    row = next(r for r in page.split('id="mapping"')[1].split("</tr>") if "<code>FID</code>" in r)
    assert f"_mongoQuery {HELPER_ID}" in unescape(row), "the value as the scheme writes it"
    assert text_of(row).endswith(f"Looks up in: {HELPER_NAME} caf5709b… ✓"), text_of(row)
