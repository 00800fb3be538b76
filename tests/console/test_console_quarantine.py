"""The quarantine screen: the page and the JSON API over a real held record.

Seed 001 runs with a source rule (``status`` must be 1-5, :mod:`quarantine_seed`) against a
KuaiMai simulator that serves work order 4000007 with status 99: that record is held, the other
14 are delivered. Each test gets its own copy of the store and the target, then releases, edits
or drops the record as the console user ``ops`` and checks the ledger, the target and the audit.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from console_env import PASSWORD, USER, copy_db, json_of
from fastapi.testclient import TestClient
from page_text import untranslated

from console_seed import csrf_of
from ferry.console import BackgroundRunner, add_user, create_app
from ferry.engine.runner import run_scheme
from ferry.store import Hold, RecordResult, Store, open_store, quarantine
from quarantine_seed import FAST, RULE, SCHEME_ID, load_with_rule, quality_sandbox, run_until, target_status

HELD = "4000007-0"
WORK_ORDER = "4000007"
RULE_NAME = RULE["name"]


@dataclass
class Seeded:
    store_db: Path
    target_db: Path


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    home = tmp_path_factory.mktemp("quarantine")
    sb = quality_sandbox()
    scheme, files = load_with_rule(sb, home)
    with open_store(f"sqlite:///{home / 'ferry.db'}") as store:
        report = run_scheme(scheme, store, now=run_until(scheme), transport=sb.transport(), retry=FAST)
        assert report.status == "succeeded", report.error
        assert [h.record_id for h in quarantine.list_held(store)] == [HELD]
        add_user(store, USER, PASSWORD)
    return Seeded(home / "ferry.db", files["bi"])


@dataclass
class Env:
    client: TestClient
    store: Store
    runner: BackgroundRunner
    target_db: Path

    def api_login(self) -> dict[str, str]:
        token = self.client.get("/api/session").json()["csrf_token"]
        answer = self.client.post(
            "/api/session", json={"username": USER, "password": PASSWORD}, headers={"X-CSRF-Token": token}
        )
        assert answer.status_code == 200, answer.text
        return {"X-CSRF-Token": answer.json()["csrf_token"]}

    def login(self) -> str:
        page = self.client.get("/login")
        answer = self.client.post(
            "/login",
            data={"username": USER, "password": PASSWORD, "csrf_token": csrf_of(page.text), "next": "/"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        return csrf_of(self.client.get("/").text)

    def status(self, record_id: str = HELD) -> str:
        row = self.store.get_record(SCHEME_ID, record_id)
        assert row is not None
        return row.status

    def delivered(self) -> None:
        assert self.runner.wait(SCHEME_ID, timeout=30), "the delivery did not end"


@pytest.fixture
def qenv(seeded: Seeded, tmp_path: Path) -> Iterator[Env]:
    sb = quality_sandbox()
    scheme, files = load_with_rule(sb, tmp_path)
    copy_db(seeded.target_db, files["bi"])
    copy_db(seeded.store_db, tmp_path / "ferry.db")
    schemes = {scheme.id: scheme}
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        runner = BackgroundRunner(
            store, lambda: schemes, now=run_until(scheme), transport=sb.transport(), retry=FAST
        )
        app = create_app(
            store, schemes=lambda: schemes, runner=runner, secret_key="test-secret", metrics_token=""
        )
        with TestClient(app) as client:
            yield Env(client, store, runner, files["bi"])
        runner.wait(SCHEME_ID, timeout=30)


def plain(html: str) -> str:
    """A page's text without its tags (a flash message's values are wrapped in spans)."""
    return re.sub(r"<[^>]+>", "", html)


def fixed_content(store: Store) -> dict[str, Any]:
    held = quarantine.get_held(store, SCHEME_ID, HELD)
    assert held is not None and held.content["status"] == 99
    content = copy.deepcopy(held.content)
    content["status"] = 2
    return content


def audit_rows(store: Store) -> list[tuple[str, str, str | None, str | None, str | None]]:
    return [
        (a.operation, a.who, a.status_before, a.status_after, a.reason)
        for a in quarantine.audit_log(store, scheme_id=SCHEME_ID)
    ]


# -- JSON API ----------------------------------------------------------------------------------


def test_api_lists_the_held_record_with_its_rule_and_counts(qenv: Env) -> None:
    qenv.api_login()
    page = json_of(qenv.client.get("/api/quarantine", params={"scheme_id": SCHEME_ID, "rule": RULE_NAME}))

    [record] = page["records"]
    assert (record["record_id"], record["status"], record["rule"], record["side"]) == (
        HELD, "quarantined", RULE_NAME, "source",
    )  # fmt: skip
    assert (record["path"], record["value"], record["reason"]) == (
        "status",
        99,
        "must be one of [1, 2, 3, 4, 5]",
    )
    assert record["content"]["id"] == int(WORK_ORDER) and record["held_at"]
    assert page["counts"] == [{"scheme_id": SCHEME_ID, "rule": RULE_NAME, "quarantined": 1, "dropped": 0}]
    assert page["more"] is False
    assert json_of(qenv.client.get("/api/quarantine", params={"rule": "other"}))["records"] == []
    assert json_of(qenv.client.get("/api/quarantine", params={"status": "dropped"}))["records"] == []
    one = json_of(qenv.client.get(f"/api/quarantine/{SCHEME_ID}/{HELD}"))
    assert one["rule"] == RULE_NAME and one["value"] == 99
    assert qenv.client.get("/api/quarantine", params={"status": "finished"}).status_code == 422


def test_api_release_delivers_the_record_as_it_is_and_audits_the_console_user(qenv: Env) -> None:
    headers = qenv.api_login()
    answer = json_of(
        qenv.client.post(
            f"/api/quarantine/{SCHEME_ID}/{HELD}/release",
            json={"reason": "status 99 is fine"},
            headers=headers,
        )
    )

    assert answer["count"] == 1 and answer["message"] == f"1 records of scheme {SCHEME_ID} released by ops"
    assert [s["key"] for s in answer["started"]] == ["msg.deliver_started"]
    qenv.delivered()
    assert qenv.status() == "finished"
    assert target_status(qenv.target_db, WORK_ORDER) == [99], "released as it is"
    assert audit_rows(qenv.store) == [("release", "ops", "quarantined", "pending", "status 99 is fine")]
    [entry] = json_of(qenv.client.get("/api/quarantine/audit", params={"scheme_id": SCHEME_ID}))
    assert (entry["who"], entry["operation"], entry["rule"], entry["changes"]) == (
        "ops",
        "release",
        RULE_NAME,
        [],
    )


def test_api_release_without_deliver_leaves_the_record_pending_for_the_next_run(qenv: Env) -> None:
    headers = qenv.api_login()
    answer = json_of(
        qenv.client.post(
            f"/api/quarantine/{SCHEME_ID}/{HELD}/release", json={"deliver": False}, headers=headers
        )
    )

    assert answer["started"] == [] and not qenv.runner.running(SCHEME_ID)
    assert qenv.status() == "pending" and target_status(qenv.target_db, WORK_ORDER) == []


def test_api_edit_and_release_delivers_the_fixed_value(qenv: Env) -> None:
    headers = qenv.api_login()
    content = fixed_content(qenv.store)
    answer = json_of(
        qenv.client.post(
            f"/api/quarantine/{SCHEME_ID}/{HELD}/edit",
            json={"content": content, "reason": "status 99 means 2"},
            headers=headers,
        )
    )

    assert answer["message"] == f"record {HELD} of scheme {SCHEME_ID} edited and released by ops"
    qenv.delivered()
    assert qenv.status() == "finished"
    assert target_status(qenv.target_db, WORK_ORDER) == [2]
    [entry] = quarantine.audit_log(qenv.store, scheme_id=SCHEME_ID)
    assert (entry.operation, entry.who, entry.status_before, entry.status_after) == (
        "edit",
        "ops",
        "quarantined",
        "pending",
    )
    assert entry.content_before is not None and entry.content_before["status"] == 99
    assert entry.content_after == content
    [api_entry] = json_of(qenv.client.get("/api/quarantine/audit", params={"record_id": HELD}))
    assert api_entry["changes"] == [{"path": "status", "before": "99", "after": "2"}]


def test_api_edit_takes_the_content_as_json_text_too(qenv: Env) -> None:
    headers = qenv.api_login()
    text = json.dumps(fixed_content(qenv.store), ensure_ascii=False)
    answer = qenv.client.post(
        f"/api/quarantine/{SCHEME_ID}/{HELD}/edit", json={"content": text, "deliver": False}, headers=headers
    )

    assert answer.status_code == 200, answer.text
    row = qenv.store.get_record(SCHEME_ID, HELD)
    assert row is not None and row.status == "pending" and row.content["status"] == 2


def test_api_drop_needs_a_reason_then_keeps_the_record_dropped_and_counted(qenv: Env) -> None:
    headers = qenv.api_login()
    url = f"/api/quarantine/{SCHEME_ID}/{HELD}/drop"

    missing = qenv.client.post(url, json={}, headers=headers)
    assert missing.status_code == 422 and "reason: Field required" in missing.json()["message"]
    blank = qenv.client.post(url, json={"reason": "  "}, headers=headers)
    assert blank.status_code == 422 and "drop needs a reason" in blank.json()["detail"]
    assert qenv.status() == "quarantined" and audit_rows(qenv.store) == []

    answer = json_of(qenv.client.post(url, json={"reason": "test order"}, headers=headers))
    assert answer["message"] == f"1 records of scheme {SCHEME_ID} dropped by ops: test order"
    row = qenv.store.get_record(SCHEME_ID, HELD)
    assert row is not None and row.status == "dropped" and row.last_error == "dropped by ops: test order"
    assert audit_rows(qenv.store) == [("drop", "ops", "quarantined", "dropped", "test order")]
    page = json_of(qenv.client.get("/api/quarantine", params={"status": "dropped"}))
    assert [r["record_id"] for r in page["records"]] == [HELD]
    assert page["counts"] == [{"scheme_id": SCHEME_ID, "rule": RULE_NAME, "quarantined": 0, "dropped": 1}]


def test_api_refuses_records_that_are_not_held_and_content_that_is_not_an_object(qenv: Env) -> None:
    headers = qenv.api_login()
    base = f"/api/quarantine/{SCHEME_ID}"

    delivered = qenv.client.post(f"{base}/4000006-0/release", json={}, headers=headers)
    assert delivered.status_code == 409
    assert (
        f"scheme {SCHEME_ID}: not quarantined: 4000006-0 (finished); nothing was changed"
        in delivered.json()["detail"]
    )
    unknown = qenv.client.post(f"{base}/nope/drop", json={"reason": "x"}, headers=headers)
    assert (
        unknown.status_code == 404
        and unknown.json()["detail"] == f"scheme {SCHEME_ID}: no record 'nope' in the ledger"
    )
    assert qenv.client.get(f"{base}/nope").status_code == 404

    broken = qenv.client.post(f"{base}/{HELD}/edit", json={"content": '{"status": 2,'}, headers=headers)
    assert broken.status_code == 422
    assert broken.json()["detail"] == (
        f"record {HELD}: the content is not valid JSON: Expecting property name enclosed in double quotes "
        "(line 1, column 14)"
    )
    listed = qenv.client.post(f"{base}/{HELD}/edit", json={"content": [1, 2]}, headers=headers)
    assert listed.status_code == 422
    assert listed.json()["detail"] == f"record {HELD}: the content must be a JSON object {{...}}, got list"
    body = qenv.client.post(
        f"{base}/{HELD}/edit", content=b"{not json", headers={**headers, "content-type": "application/json"}
    )
    assert body.status_code == 422 and "JSON decode error" in body.json()["message"]
    assert qenv.status() == "quarantined" and audit_rows(qenv.store) == []

    json_of(qenv.client.post(f"{base}/{HELD}/release", json={"deliver": False}, headers=headers))
    again = qenv.client.post(f"{base}/{HELD}/drop", json={"reason": "late"}, headers=headers)
    assert again.status_code == 409 and f"not quarantined: {HELD} (pending)" in again.json()["detail"]
    assert qenv.status() == "pending"


def test_api_bulk_release_and_drop_take_a_list_of_records(qenv: Env) -> None:
    headers = qenv.api_login()
    keys = [{"scheme_id": SCHEME_ID, "record_id": HELD}]

    refused = qenv.client.post(
        "/api/quarantine/release",
        json={"records": [*keys, {"scheme_id": SCHEME_ID, "record_id": "4000006-0"}]},
        headers=headers,
    )
    assert refused.status_code == 409 and qenv.status() == "quarantined", "nothing of the scheme changed"
    assert (
        qenv.client.post("/api/quarantine/drop", json={"records": keys}, headers=headers).status_code == 422
    )
    assert (
        qenv.client.post("/api/quarantine/release", json={"records": []}, headers=headers).status_code == 422
    )

    answer = json_of(
        qenv.client.post(
            "/api/quarantine/drop", json={"records": keys, "reason": "duplicate"}, headers=headers
        )
    )
    assert answer["count"] == 1 and qenv.status() == "dropped"


def test_api_actions_need_a_login_and_the_csrf_token(qenv: Env) -> None:
    url = f"/api/quarantine/{SCHEME_ID}/{HELD}/release"
    assert qenv.client.get("/api/quarantine").status_code == 401
    assert qenv.client.post(url, json={}).status_code == 401
    qenv.api_login()
    forged = qenv.client.post(url, json={})
    assert forged.status_code == 403 and "CSRF token missing or invalid" in forged.json()["detail"]
    assert qenv.status() == "quarantined" and audit_rows(qenv.store) == []


# -- the page ----------------------------------------------------------------------------------


def test_page_lists_the_held_record_with_actions_in_english_and_chinese(qenv: Env) -> None:
    assert qenv.client.get("/quarantine", follow_redirects=False).status_code == 303, "login first"
    qenv.login()
    page = qenv.client.get("/quarantine", params={"lang": "en"})

    assert page.status_code == 200
    text = page.text
    assert 'id="nav-quarantine"' in text and ">Quarantine</a>" in text
    assert f'data-record="{HELD}"' in text and f'href="/records/{SCHEME_ID}/{HELD}"' in text
    assert RULE_NAME in text and "<code>status</code>" in text and "<code>99</code>" in text
    assert "must be one of [1, 2, 3, 4, 5]" in text
    assert 'id="release-selected"' in text and 'id="drop-selected"' in text
    assert f'href="/quarantine/{SCHEME_ID}/{HELD}"' in text
    zh = qenv.client.get("/quarantine", params={"lang": "zh"}).text
    assert "<h1>隔离区</h1>" in zh and "放行选中记录" in zh and "按方案和规则统计" in zh
    empty = qenv.client.get("/quarantine", params={"rule": "other"}).text
    assert 'id="no-held"' in empty
    record = qenv.client.get(f"/records/{SCHEME_ID}/{HELD}").text
    assert f'id="open-quarantine" href="/quarantine/{SCHEME_ID}/{HELD}"' in record


def test_page_edit_refuses_bad_json_and_keeps_what_was_typed(qenv: Env) -> None:
    csrf = qenv.login()
    form = qenv.client.get(f"/quarantine/{SCHEME_ID}/{HELD}")
    assert (
        form.status_code == 200 and 'id="content-editor"' in form.text and "&#34;status&#34;: 99" in form.text
    )
    assert 'id="why-rule">status-known' in form.text

    typed = '{"status": 2'
    answer = qenv.client.post(
        f"/quarantine/{SCHEME_ID}/{HELD}/edit", data={"csrf_token": csrf, "content": typed, "deliver": "1"}
    )
    assert answer.status_code == 422
    assert "the content is not valid JSON: Expecting &#39;,&#39; delimiter (line 1, column 13)" in answer.text
    assert "{&#34;status&#34;: 2</textarea>" in answer.text
    assert qenv.status() == "quarantined"


def test_page_edit_releases_delivers_and_shows_the_audit(qenv: Env) -> None:
    csrf = qenv.login()
    text = json.dumps(fixed_content(qenv.store), ensure_ascii=False, indent=2)
    answer = qenv.client.post(
        f"/quarantine/{SCHEME_ID}/{HELD}/edit",
        data={"csrf_token": csrf, "content": text, "reason": "typo at the vendor", "deliver": "1"},
        follow_redirects=False,
    )

    assert answer.status_code == 303 and answer.headers["location"] == f"/records/{SCHEME_ID}/{HELD}"
    qenv.delivered()
    record = qenv.client.get(answer.headers["location"]).text
    assert f"record {HELD} of scheme {SCHEME_ID} edited and released by ops" in plain(record)
    assert f"deliver of scheme {SCHEME_ID} started" in plain(record)
    assert qenv.status() == "finished" and target_status(qenv.target_db, WORK_ORDER) == [2]
    audit = qenv.client.get("/quarantine", params={"view": "audit", "lang": "en"}).text
    assert 'class="who">ops</td>' in audit and "edit and release" in audit and "typo at the vendor" in audit
    assert "<code>status</code>: <del>99</del> → <ins>2</ins>" in audit
    after = qenv.client.get(f"/quarantine/{SCHEME_ID}/{HELD}").text
    assert 'id="not-held"' in after and 'id="edit-form"' not in after


def test_page_release_selected_and_drop_need_the_right_form(qenv: Env) -> None:
    csrf = qenv.login()
    key = json.dumps([SCHEME_ID, HELD])

    forged = qenv.client.post("/quarantine/release", data={"sel": key, "csrf_token": "forged"})
    assert forged.status_code == 403 and qenv.status() == "quarantined"
    no_reason = qenv.client.post(f"/quarantine/{SCHEME_ID}/{HELD}/drop", data={"csrf_token": csrf})
    assert "a drop needs a reason" in plain(no_reason.text) and qenv.status() == "quarantined"
    nothing = qenv.client.post("/quarantine/release", data={"csrf_token": csrf})
    assert "No records match." in nothing.text

    released = qenv.client.post(
        "/quarantine/release", data={"csrf_token": csrf, "sel": key, "back_to": "/quarantine"}
    )
    assert f"1 records of scheme {SCHEME_ID} released by ops" in plain(released.text)
    assert qenv.status() == "pending" and not qenv.runner.running(SCHEME_ID), "deliver now was not ticked"
    again = qenv.client.post("/quarantine/drop", data={"csrf_token": csrf, "sel": key, "reason": "late"})
    assert f"refused: scheme {SCHEME_ID}: not quarantined: {HELD} (pending); nothing was changed" in plain(
        again.text
    )
    assert audit_rows(qenv.store) == [("release", "ops", "quarantined", "pending", None)]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_quarantine_view_speaks_the_page_language(qenv: Env, lang: str) -> None:
    csrf = qenv.login()
    edit_url = f"/quarantine/{SCHEME_ID}/{HELD}?lang={lang}"
    pages = {"list": qenv.client.get(f"/quarantine?lang={lang}"), "edit": qenv.client.get(edit_url)}
    qenv.client.post(
        f"/quarantine/{SCHEME_ID}/{HELD}/edit",
        data={"csrf_token": csrf, "content": json.dumps(fixed_content(qenv.store)), "reason": "fixed"},
    )
    pages["dropped"] = qenv.client.get(f"/quarantine?view=dropped&lang={lang}")
    pages["audit"] = qenv.client.get(f"/quarantine?view=audit&lang={lang}")
    pages["released"] = qenv.client.get(edit_url)

    assert {name: p.status_code for name, p in pages.items()} == dict.fromkeys(pages, 200)
    assert 'id="edit-form"' in pages["edit"].text and 'class="audit-row edit"' in pages["audit"].text
    assert {name: untranslated(p.text, lang) for name, p in pages.items()} == {key: [] for key in pages}


@pytest.mark.mariadb
def test_api_release_edit_and_drop_on_a_mariadb_store(mariadb_url: str) -> None:
    with open_store(mariadb_url) as store:
        store.save_scheme("shop", "Shop", {})
        store.upsert_records("shop", [(rid, f"SO-{rid}", {"id": rid, "qty": -1}) for rid in ("1", "2", "3")])
        hold = Hold("qty-positive", "qty", -1, "value must be at least 1", "target")
        claimed = store.claim("shop", 10, datetime.now(UTC))
        store.record_results(
            "shop",
            [RecordResult(r.record_id, "quarantined", error=hold.message(), hold=hold) for r in claimed],
        )
        add_user(store, USER, PASSWORD)
        app = create_app(store, schemes=dict, secret_key="test-secret", metrics_token="")
        with TestClient(app) as client:
            env = Env(client, store, BackgroundRunner(store, dict), Path("unused"))
            headers = env.api_login()
            page = json_of(client.get("/api/quarantine", params={"scheme_id": "shop"}))
            assert sorted(r["record_id"] for r in page["records"]) == ["1", "2", "3"]
            assert page["counts"] == [
                {"scheme_id": "shop", "rule": "qty-positive", "quarantined": 3, "dropped": 0}
            ]

            release = client.post("/api/quarantine/shop/1/release", json={"deliver": False}, headers=headers)
            edit = client.post(
                "/api/quarantine/shop/2/edit",
                json={"content": {"id": "2", "qty": 3}, "deliver": False},
                headers=headers,
            )
            drop = client.post("/api/quarantine/shop/3/drop", json={"reason": "test order"}, headers=headers)
            again = client.post("/api/quarantine/shop/3/release", json={}, headers=headers)

        assert [release.status_code, edit.status_code, drop.status_code, again.status_code] == [
            200,
            200,
            200,
            409,
        ]
        assert [store.get_record("shop", rid).status for rid in ("1", "2", "3")] == [
            "pending",
            "pending",
            "dropped",
        ]
        assert store.get_record("shop", "2").content == {"id": "2", "qty": 3}
        assert [(a.operation, a.record_id, a.who) for a in quarantine.audit_log(store, scheme_id="shop")] == [
            ("drop", "3", USER),
            ("edit", "2", USER),
            ("release", "1", USER),
        ]
