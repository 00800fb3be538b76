"""The pages over real store data: dashboard, schemes, runs, records, API assets, alerts."""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path

import pytest
from console_env import SCHEME_ID, ConsoleEnv, csrf_of, status_of

from ferry.console import SchemeFiles, create_app
from ferry.sandbox.kuaimai import KuaimaiSimulator
from ferry.sandbox.seeds import examples_dir
from ferry.scheme.loader import load_scheme


def text_of(html: str) -> str:
    """The page's text, tags dropped and white space collapsed (as a reader sees it)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_dashboard_charts_24_hours_and_shows_each_scheme(env: ConsoleEnv) -> None:
    env.login()
    counts = env.store.count_by_status(SCHEME_ID)

    page = env.client.get("/")

    assert page.status_code == 200
    assert '<svg class="chart"' in page.text and "<polyline" in page.text
    received = re.search(r'id="total-received"><b>(\d+)</b>', page.text)
    failed = re.search(r'id="total-failed"><b>(\d+)</b>', page.text)
    assert received and int(received.group(1)) == sum(counts.values())
    assert failed and int(failed.group(1)) == counts["error"]
    row = page.text.split('id="scheme-status"')[1]
    assert SCHEME_ID in row and f"finished {counts['finished']}" in row and f"error {counts['error']}" in row
    assert "partial" in row, "the last run's status"


def test_the_schemes_list_toggles_enabled_and_runs_a_scheme(env: ConsoleEnv) -> None:
    token = env.login()
    page = env.client.get("/schemes")
    assert "kuaimai" in page.text and "batchexecute" in page.text and "Disable" in page.text

    answer = env.client.post(
        f"/schemes/{SCHEME_ID}/enabled",
        data={"enabled": "0", "csrf_token": token, "back_to": "/schemes"},
        follow_redirects=True,
    )
    assert env.store.get_scheme(SCHEME_ID)["enabled"] is False  # type: ignore[index]
    assert f"scheme {SCHEME_ID} disabled" in text_of(answer.text) and "Enable" in answer.text

    runs = len(env.store.list_runs(SCHEME_ID, limit=100))
    answer = env.client.post(f"/schemes/{SCHEME_ID}/run", data={"csrf_token": token}, follow_redirects=True)
    assert f"run of scheme {SCHEME_ID} started" in text_of(answer.text)
    assert env.runner.wait(SCHEME_ID, timeout=30)
    assert len(env.store.list_runs(SCHEME_ID, limit=100)) == runs + 1
    assert env.runner.states[SCHEME_ID].status in ("succeeded", "partial")


def test_the_scheme_page_draws_the_flow_mapping_and_preview(env: ConsoleEnv) -> None:
    env.login()

    page = env.client.get(f"/schemes/{SCHEME_ID}")

    html = page.text
    flow = text_of(html.split('id="flow"')[1].split("</div>\n</div>")[0])
    for expected in (
        "kuaimai",
        "erp.aftersale.list.query",
        "beatFlat: items",
        "9 fields",
        "batchexecute",
        "bi_mysql",
    ):
        assert expected in flow, expected
    assert 'class="step inactive" id="step-filter"' in html, "no condition: the filter step is drawn as idle"
    mapping = text_of(html.split('id="mapping"')[1].split("</table>")[0])
    assert "outer_id" in mapping and "{{items.outerId}}" in mapping and "商家编码" in mapping
    assert "REPLACE INTO aftersale_list_query" in html, "otherRequest is shown"
    preview = html.split('id="preview"')[1]
    newest = env.store.find_records(SCHEME_ID, limit=1)[0]
    assert newest.record_id in preview
    assert f"&#34;outer_id&#34;: &#34;{newest.content['items']['outerId']}&#34;" in preview
    assert "No validation errors" in html


def test_validation_errors_are_shown_at_their_path(env: ConsoleEnv, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(examples_dir() / "001-kuaimai-aftersale-to-mysql", folder)
    target = json.loads((folder / "target.json").read_text(encoding="utf-8"))
    target["request"][2]["value"] = "_function FROBNICATE({status})"
    (folder / "target.json").write_text(json.dumps(target), encoding="utf-8")
    conns = {
        "kuaimai": {"type": "kuaimai", "app_key": "k", "app_secret": "s-123456", "session": "x-123456"},
        "bi_mysql": {"type": "sql", "url": "sqlite://"},
    }
    scheme = load_scheme(folder / "scheme.yaml", connections=conns, check=False)
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: broken\nname: b\nsource: {connection: x, metadata: nope.json}\n", encoding="utf-8")
    files = SchemeFiles([broken])
    app = create_app(env.store, schemes=lambda: {scheme.id: scheme}, load_issues=files.issues, secret_key="k")
    env.app = app
    client = env.new_client()
    env.login(client)

    page = client.get(f"/schemes/{SCHEME_ID}").text
    mapping = page.split('id="mapping"')[1].split("</table>")[0]
    assert 'class="has-issue" title="target.request[2]"' in mapping
    assert "target.request[2].value" in page and "FROBNICATE" in page
    listing = client.get("/schemes").text
    assert str(broken) in listing and "source.metadata" in listing and "target" in listing


def test_runs_show_counts_windows_and_logs(env: ConsoleEnv) -> None:
    env.login()
    run = env.store.list_runs(SCHEME_ID, limit=1)[0]
    filled = [w for w in run["windows"] if w["fetched"]]
    empty = len(run["windows"]) - len(filled)
    assert filled and empty, "the seeded run has windows with records and empty ones"

    listing = env.client.get("/runs").text
    detail = env.client.get(f"/runs/{run['id']}").text
    everything = env.client.get(f"/runs/{run['id']}", params={"show": "all"}).text

    assert (
        f'href="/runs/{run["id"]}"' in listing and f"delivered</span> {run['counts']['delivered']}" in listing
    )
    windows = detail.split('id="windows"')[1].split("</table>")[0]
    assert windows.count('<tr class="window">') == len(filled), "one line per window with records"
    assert f"{empty} empty windows (nothing fetched)" in text_of(windows), "the empty ones on one line"
    assert everything.split('id="windows"')[1].count('<tr class="window">') == len(run["windows"])
    for label in ("fetched", "stored", "API total", "in the ledger"):
        assert f'<th class="num">{label}</th>' in windows, label
    assert f"Windows: {len(run['windows'])} (with records {len(filled)} · empty {empty})" in text_of(detail)
    assert "window 1 of 33 read" in detail and "8 records failed" in detail
    assert env.client.get("/runs/99999").status_code == 404


def test_records_are_searched_by_scheme_status_id_and_number(env: ConsoleEnv) -> None:
    env.login()
    row = env.store.get_record(SCHEME_ID, env.error_id)
    assert row is not None

    by_status = env.client.get("/records", params={"scheme": SCHEME_ID, "status": "error"}).text
    by_id = env.client.get("/records", params={"id": env.error_id}).text
    by_prefix = env.client.get("/records", params={"number": (row.number or "")[:-1] + "*"}).text
    nothing = env.client.get("/records", params={"since": "2999-01-01T00:00"}).text

    rows = by_status.count('class="record-row')
    assert rows == len(env.seeded.error_ids) and by_status.count('class="record-row error"') == rows
    assert by_id.count('class="record-row') == 1 and env.error_id in by_id
    [value] = re.findall(r'name="sel" value="([^"]+)"', by_id)
    assert json.loads(unescape(value)) == [SCHEME_ID, env.error_id], "the checkbox names the record"
    assert env.error_id in by_prefix
    assert 'id="no-records"' in nothing


def test_the_record_page_shows_content_payload_error_and_history(env: ConsoleEnv) -> None:
    env.login()
    row = env.store.get_record(SCHEME_ID, env.error_id)
    assert row is not None

    page = env.client.get(f"/records/{SCHEME_ID}/{env.error_id}").text
    finished = env.client.get(f"/records/{SCHEME_ID}/{env.finished_id}").text

    assert "qty above the limit" in page.split('id="last-error"')[1]
    mapped = json.loads(unescape(page.split('<pre id="mapped">')[1].split("</pre>")[0]))
    assert (
        mapped["outer_id"] == row.content["items"]["outerId"]
        and mapped["qty"] == row.content["items"]["receivableCount"]
    )
    assert json.loads(unescape(page.split('<pre id="content">')[1].split("</pre>")[0])) == row.content
    history = page.split('id="history"')[1].split("</table>")[0]
    assert "SQLITE_CONSTRAINT_TRIGGER" in history
    assert '"rowcount"' in unescape(finished.split('id="response"')[1].split("</pre>")[0])
    assert env.client.get(f"/records/{SCHEME_ID}/no-such-id").status_code == 404


def test_replaying_one_record_after_fixing_the_target_finishes_it(env: ConsoleEnv) -> None:
    token = env.login()
    env.unblock()

    answer = env.client.post(
        "/records/replay",
        data={
            "sel": json.dumps([SCHEME_ID, env.error_id]),
            "csrf_token": token,
            "back_to": f"/records/{SCHEME_ID}/{env.error_id}",
        },
        follow_redirects=True,
    )

    assert "1 records sent back to pending" in text_of(answer.text)
    assert env.runner.wait(SCHEME_ID, timeout=30)
    assert status_of(env.store, env.error_id) == "finished"
    row = env.store.get_record(SCHEME_ID, env.error_id)
    assert row is not None and (str(row.content["id"]), row.content["items"]["outerId"]) in env.target_rows()
    others = [i for i in env.seeded.error_ids if i != env.error_id]
    assert all(status_of(env.store, i) == "error" for i in others), "only the replayed record"
    assert "finished" in env.client.get(f"/records/{SCHEME_ID}/{env.error_id}").text


def test_replaying_selected_and_matching_records(env: ConsoleEnv) -> None:
    token = env.login()
    errors = env.seeded.error_ids
    assert len(errors) >= 3, "the seed leaves enough failed records"

    env.client.post(
        "/records/replay",
        data={
            "sel": [json.dumps([SCHEME_ID, i]) for i in errors[:2]],
            "csrf_token": token,
            "mode": "selected",
        },
    )
    assert env.runner.wait(SCHEME_ID, timeout=30)
    # Still blocked: the two failed again (a second failure in their history), the rest were not touched.
    assert [len(env.store.record_history(SCHEME_ID, i)) for i in errors[:3]] == [2, 2, 1]

    env.unblock()
    answer = env.client.post(
        "/records/replay",
        data={"mode": "filter", "scheme": SCHEME_ID, "status": "error", "csrf_token": token},
        follow_redirects=True,
    )
    assert f"{len(errors)} records sent back to pending" in text_of(answer.text)
    assert env.runner.wait(SCHEME_ID, timeout=30)
    assert env.store.count_by_status(SCHEME_ID)["error"] == 0


def test_api_assets_show_calls_errors_and_latency_per_api(env: ConsoleEnv) -> None:
    env.login()
    calls = env.store.list_api_calls(SCHEME_ID, limit=1000)
    by_api = {(c["connection"], c["api"]) for c in calls}

    page = env.client.get("/apis").text

    table = page.split('id="api-stats"')[1].split("</table>")[0]
    for connection, api in by_api:
        count = sum(1 for c in calls if (c["connection"], c["api"]) == (connection, api))
        assert re.search(
            rf"{connection}</td><td><code>{re.escape(api)}</code></td><td class=\"num\">{count}</td>", table
        )
    assert page.count('<svg class="chart"') == 2 * len(by_api)


def test_alerts_show_incidents_notices_and_rules(env: ConsoleEnv) -> None:
    env.login()
    html = env.client.get("/alerts").text
    page = text_of(html)
    assert "run_failed" in page and "run 1 of 001 failed" in page
    assert "alert → dingtalk" in page and "550 mailbox unavailable" in page
    rules = text_of(html.split('id="rules"')[1])
    assert "aftersale-failed" in rules and "001-*" in rules and "Fires when the latest finished run" in rules


@pytest.mark.parametrize(
    ("how", "expected", "absent"),
    [
        ({"params": {"lang": "zh"}}, "仪表盘", "Dashboard"),
        ({"headers": {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}}, "仪表盘", "Dashboard"),
        ({"headers": {"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"}}, "Dashboard", "仪表盘"),
        ({}, "Dashboard", "仪表盘"),
    ],
    ids=["query", "accept-zh", "accept-en", "default"],
)
def test_the_language_follows_the_switch_then_the_browser(
    env: ConsoleEnv, how: dict, expected: str, absent: str
) -> None:
    env.login()
    page = env.client.get("/", **how).text
    assert expected in page and absent not in page


def test_the_language_switch_is_remembered(env: ConsoleEnv) -> None:
    env.login()
    first = env.client.get("/schemes", params={"lang": "zh"})
    assert "ferry_lang=zh" in first.headers["set-cookie"]
    later = env.client.get("/records", headers={"Accept-Language": "en"}).text
    assert "数据记录" in later and "重推选中记录" in later and "最近错误" in later
    assert "Records" not in text_of(later.split("<main>")[1])


def test_no_secret_reaches_any_page_or_api_answer(env: ConsoleEnv) -> None:
    token = env.login()
    secrets = [KuaimaiSimulator.APP_SECRET, KuaimaiSimulator.SESSION]
    # A vendor that echoed a secret into an error must not get it onto a page either.
    from ferry.store import RecordResult

    env.store.record_results(
        SCHEME_ID, [RecordResult(env.error_id, "error", error=f"bad sign for {secrets[0]}")]
    )
    pages = ["/", "/schemes", f"/schemes/{SCHEME_ID}", "/runs", "/runs/1", "/records", "/apis", "/alerts"]
    pages += [f"/records/{SCHEME_ID}/{env.error_id}", f"/records/{SCHEME_ID}/{env.finished_id}", "/?lang=zh"]
    api = ["/api/dashboard", "/api/schemes", f"/api/schemes/{SCHEME_ID}", f"/api/schemes/{SCHEME_ID}/preview"]
    api += [
        "/api/runs",
        "/api/runs/1",
        "/api/records",
        f"/api/records/{SCHEME_ID}/{env.error_id}",
        "/api/apis",
    ]
    bodies = [env.client.get(p).text for p in pages + api]
    assert all(len(b) > 200 for b in bodies)
    for body in bodies:
        for secret in secrets:
            assert secret not in body
    record = env.client.get(f"/records/{SCHEME_ID}/{env.error_id}").text
    assert "bad sign for ***" in record
    assert csrf_of(record) == token


def test_a_scheme_known_only_from_the_store_is_listed_but_not_run(env: ConsoleEnv) -> None:
    from ferry.console import BackgroundRunner

    app = create_app(env.store, schemes=dict, runner=BackgroundRunner(env.store, dict), secret_key="k")
    env.app = app
    client = env.new_client()
    token = env.login(client)

    listing = client.get("/schemes").text
    page = client.get(f"/schemes/{SCHEME_ID}").text
    answer = client.post(f"/schemes/{SCHEME_ID}/run", data={"csrf_token": token}, follow_redirects=True)

    assert SCHEME_ID in listing and "kuaimai" in listing, "types come from the stored definition"
    assert 'id="not-loaded"' in page and 'class="run-now"' not in page
    assert "not loaded in this console" in text_of(answer.text)
    detail = client.get(f"/records/{SCHEME_ID}/{env.error_id}").text
    assert "cannot map" in detail and "qty above the limit" in detail


def test_the_run_page_and_the_dashboard_show_the_accounting_in_the_chosen_language(env: ConsoleEnv) -> None:
    env.login()
    run = env.store.list_runs(SCHEME_ID, limit=1)[0]
    c = run["counts"]

    zh = env.client.get(f"/runs/{run['id']}", params={"lang": "zh"}).text
    en = env.client.get(f"/runs/{run['id']}", params={"lang": "en"}).text
    dashboard = env.client.get("/", params={"lang": "en"}).text

    counts = zh.split('id="run-counts"')[1].split("</table>")[0]
    assert "获取" in counts and "拆分新增行" in counts and "缺少ID" in counts and "应写入" in counts
    assert "filtered_out" not in counts and "no_id" not in counts and "waiting_error" not in counts
    failing = c["waiting_error"] + c["waiting_dead"]
    assert f"获取 {c['fetched']:,}" in zh and f"{failing:,} 条记录仍失败" in zh
    assert f"fetched {c['fetched']:,}" in en and f"{failing:,} records still failing since run " in en
    row = dashboard.split('id="scheme-status"')[1]
    assert f"fetched</span> {c['fetched']}" in row and f"failed</span> {c['failed']}" in row
