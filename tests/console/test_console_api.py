"""The JSON API: every endpoint's answer over real store data, and its OpenAPI description."""

from __future__ import annotations

import pytest
from console_env import SCHEME_ID, ConsoleEnv, json_of, status_of

from ferry.store import RecordResult


@pytest.fixture
def token(env: ConsoleEnv) -> str:
    return env.api_login()


def test_session_reports_the_user_and_logout_ends_it(env: ConsoleEnv, token: str) -> None:
    info = json_of(env.client.get("/api/session"))
    assert info == {"authenticated": True, "user": "ops", "csrf_token": token}

    assert json_of(env.client.post("/api/session/logout", headers={"X-CSRF-Token": token}))["ok"] is True
    assert env.client.get("/api/session").json()["authenticated"] is False
    assert env.client.get("/api/runs").status_code == 401


def test_dashboard_counts_match_the_ledger(env: ConsoleEnv, token: str) -> None:
    data = json_of(env.client.get("/api/dashboard"))

    counts = env.store.count_by_status(SCHEME_ID)
    activity = data["activity"]
    assert len(activity["hours"]) == len(activity["received"]) == 24
    assert sum(activity["received"]) == sum(counts.values())
    assert sum(activity["delivered"]) == counts["finished"]
    assert sum(activity["failed"]) == counts["error"]
    [scheme] = data["schemes"]
    assert scheme["id"] == SCHEME_ID and scheme["counts"] == counts
    assert scheme["source_type"] == "kuaimai" and scheme["target_type"] == "sql"
    assert scheme["last_run"]["status"] == "partial" and scheme["loaded"] is True


def test_schemes_detail_and_preview(env: ConsoleEnv, token: str) -> None:
    [summary] = json_of(env.client.get("/api/schemes"))
    detail = json_of(env.client.get(f"/api/schemes/{SCHEME_ID}"))
    preview = json_of(env.client.get(f"/api/schemes/{SCHEME_ID}/preview", params={"limit": 3}))

    assert summary["id"] == SCHEME_ID and summary["enabled"] is True
    assert [step["kind"] for step in detail["flow"]] == ["source", "filter", "flatten", "map", "target"]
    assert detail["flow"][2]["lines"] == ["beatFlat: items"] and detail["flow"][1]["active"] is False
    assert [row["field"] for row in detail["mapping"]][-3:] == ["outer_id", "title", "qty"]
    assert detail["issues"] == [] and detail["schedule"]["source"] == "2 */2 * * *"
    assert len(preview["records"]) == 3 and preview["error"] is None
    [call] = preview["deliveries"]
    assert call["api"] == "batchexecute" and call["record_ids"] == [
        r["record_id"] for r in preview["records"]
    ]
    assert all(set(r["payload"]) >= {"id", "outer_id", "qty"} for r in preview["records"])
    assert env.client.get("/api/schemes/nope").status_code == 404


def test_enable_and_run_now(env: ConsoleEnv, token: str) -> None:
    headers = {"X-CSRF-Token": token}
    off = env.client.post(f"/api/schemes/{SCHEME_ID}/enabled", json={"enabled": False}, headers=headers)
    assert json_of(off)["ok"] is True
    assert env.store.get_scheme(SCHEME_ID)["enabled"] is False  # type: ignore[index]
    assert json_of(env.client.get("/api/schemes"))[0]["enabled"] is False
    assert (
        env.client.post("/api/schemes/nope/enabled", json={"enabled": True}, headers=headers).status_code
        == 404
    )

    runs = len(env.store.list_runs(SCHEME_ID, limit=100))
    started = json_of(env.client.post(f"/api/schemes/{SCHEME_ID}/run", headers=headers))
    assert started["ok"] is True
    assert env.runner.wait(SCHEME_ID, timeout=30)
    newest = json_of(env.client.get("/api/runs", params={"scheme_id": SCHEME_ID, "limit": 1}))[0]
    assert len(env.store.list_runs(SCHEME_ID, limit=100)) == runs + 1
    assert newest["kind"] == "run" and newest["status"] in ("succeeded", "partial")
    assert env.client.post("/api/schemes/nope/run", headers=headers).status_code == 409


def test_a_second_run_now_while_one_runs_is_refused(env: ConsoleEnv, token: str) -> None:
    import threading

    gate = threading.Event()
    env.runner._run = lambda *a, **k: gate.wait(10)  # a run that lasts until the test lets it end
    headers = {"X-CSRF-Token": token}
    assert env.client.post(f"/api/schemes/{SCHEME_ID}/run", headers=headers).status_code == 200
    second = env.client.post(f"/api/schemes/{SCHEME_ID}/run", headers=headers)
    assert second.status_code == 409 and "already running" in second.json()["detail"]
    assert json_of(env.client.get("/api/schemes"))[0]["running"] is True
    gate.set()
    assert env.runner.wait(SCHEME_ID, timeout=10)


def test_runs_and_run_detail(env: ConsoleEnv, token: str) -> None:
    [run] = json_of(env.client.get("/api/runs"))
    detail = json_of(env.client.get(f"/api/runs/{run['id']}"))

    stored = env.store.get_run(run["id"])
    assert stored is not None
    assert run["counts"] == stored["counts"] and run["status"] == "partial"
    assert detail["windows"] == stored["windows"] and len(detail["windows"]) == stored["counts"]["windows"]
    assert [e["message"] for e in detail["events"]][-2:] == ["window 1 of 33 read", "8 records failed"]
    assert env.client.get("/api/runs/424242").status_code == 404


def test_records_search_and_detail(env: ConsoleEnv, token: str) -> None:
    errors = json_of(
        env.client.get("/api/records", params={"scheme_id": SCHEME_ID, "status": "error", "limit": 2})
    )
    everything = json_of(env.client.get("/api/records", params={"limit": 1000}))
    detail = json_of(env.client.get(f"/api/records/{SCHEME_ID}/{env.error_id}"))

    assert len(errors["records"]) == 2 and errors["more"] is (len(env.seeded.error_ids) > 2)
    assert all(r["status"] == "error" for r in errors["records"])
    assert len(everything["records"]) == sum(env.store.count_by_status(SCHEME_ID).values())
    assert detail["record_id"] == env.error_id and "qty above the limit" in detail["last_error"]
    assert detail["mapped"]["outer_id"] == detail["content"]["items"]["outerId"]
    assert [h["status"] for h in detail["history"]] == ["error"]
    assert env.client.get("/api/records", params={"status": "bogus"}).status_code == 422


def test_replay_by_filter_then_deliver(env: ConsoleEnv, token: str) -> None:
    env.unblock()

    answer = json_of(
        env.client.post(
            "/api/records/replay",
            json={"scheme_id": SCHEME_ID, "status": ["error"]},
            headers={"X-CSRF-Token": token},
        )
    )

    assert answer["replayed"] == len(env.seeded.error_ids)
    assert answer["messages"] == [f"deliver of scheme {SCHEME_ID} started"]
    assert env.runner.wait(SCHEME_ID, timeout=30)
    assert all(status_of(env.store, i) == "finished" for i in env.seeded.error_ids)
    assert env.store.list_runs(SCHEME_ID, limit=1)[0]["kind"] == "deliver"


def test_replay_selected_without_delivery_leaves_them_pending(env: ConsoleEnv, token: str) -> None:
    picked = env.seeded.error_ids[:2]
    answer = json_of(
        env.client.post(
            "/api/records/replay",
            json={"records": [{"scheme_id": SCHEME_ID, "record_id": i} for i in picked], "deliver": False},
            headers={"X-CSRF-Token": token},
        )
    )
    assert answer == {"replayed": 2, "kept": 0, "messages": [], "started": []}
    assert [status_of(env.store, i) for i in picked] == ["pending", "pending"]
    assert status_of(env.store, env.seeded.error_ids[2]) == "error"


def test_replay_keeps_a_dead_letter_of_collection_and_says_so(env: ConsoleEnv, token: str) -> None:
    letter = RecordResult("noid-7", "dead", error="source record has no id: field 'id' is missing or empty")
    env.store.upsert_records(SCHEME_ID, [("noid-7", None, {"v": 0})], dead_letters=[letter])
    answer = json_of(
        env.client.post(
            "/api/records/replay",
            json={"records": [{"scheme_id": SCHEME_ID, "record_id": "noid-7"}], "deliver": False},
            headers={"X-CSRF-Token": token},
        )
    )
    assert (answer["replayed"], answer["kept"]) == (0, 1)
    assert status_of(env.store, "noid-7") == "dead"


def test_replay_refuses_an_empty_filter(env: ConsoleEnv, token: str) -> None:
    answer = env.client.post("/api/records/replay", json={}, headers={"X-CSRF-Token": token})
    assert answer.status_code == 422 and "at least one filter" in answer.json()["detail"]


def test_api_assets_and_alerts(env: ConsoleEnv, token: str) -> None:
    apis = json_of(env.client.get("/api/apis"))
    alerts = json_of(env.client.get("/api/alerts"))

    calls = env.store.list_api_calls(SCHEME_ID, limit=1000)
    by_api = {(a["connection"], a["api"]): a for a in apis}
    assert set(by_api) == {(c["connection"], c["api"]) for c in calls}
    source = by_api[("kuaimai", "erp.aftersale.list.query")]
    assert source["calls"] == sum(1 for c in calls if c["api"] == "erp.aftersale.list.query")
    assert source["error_rate"] == 0.0 and source["p50"] <= source["p95"] <= source["p99"]
    assert sum(b["calls"] for b in source["buckets"]) == source["calls"] and len(source["buckets"]) == 24
    [incident] = alerts["incidents"]
    assert incident["rule"] == "run_failed" and [n["ok"] for n in incident["notices"]] == [True, False]
    [rule] = alerts["rules"]
    assert (rule["name"], rule["type"], rule["schemes"], rule["channels"]) == (
        "aftersale-failed",
        "run_failed",
        "001-*",
        "ops",
    )
    assert rule["description"].startswith("Fires when the latest finished run")


def test_openapi_describes_the_api_behind_the_login(env: ConsoleEnv, token: str) -> None:
    spec = json_of(env.client.get("/openapi.json"))

    paths = spec["paths"]
    for path in (
        "/api/records/replay",
        "/api/records/{scheme_id}/{record_id}",
        "/api/schemes/{scheme_id}/run",
        "/api/apis",
    ):
        assert path in paths, path
    assert not any(not p.startswith("/api/") for p in paths), "pages are not part of the API description"
    assert {"RecordDetail", "ReplayRequest", "Dashboard", "ApiStatModel"} <= set(
        spec["components"]["schemas"]
    )
    assert env.client.get("/docs").status_code == 404, "no Swagger UI: it would load from a CDN"


def test_run_now_waits_for_a_scheduler_holding_the_scheme(env: ConsoleEnv, token: str) -> None:
    schedule = pytest.importorskip("ferry.schedule")
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    assert (
        schedule.acquire_lease(env.store, SCHEME_ID, "collect", "serve:elsewhere", now, timedelta(minutes=5))
        is None
    )
    runs = len(env.store.list_runs(SCHEME_ID, limit=100))

    answer = env.client.post(f"/api/schemes/{SCHEME_ID}/run", headers={"X-CSRF-Token": token})

    assert answer.status_code == 409
    assert "running elsewhere (serve:elsewhere holds it)" in answer.json()["detail"]
    assert len(env.store.list_runs(SCHEME_ID, limit=100)) == runs
    assert [h["phase"] for h in schedule.lease_holders(env.store, SCHEME_ID)] == ["collect"], (
        "no lease left behind"
    )
    schedule.release_lease(env.store, SCHEME_ID, "collect", "serve:elsewhere")
    assert json_of(env.client.post(f"/api/schemes/{SCHEME_ID}/run", headers={"X-CSRF-Token": token}))["ok"]
    assert env.runner.wait(SCHEME_ID, timeout=30)
    assert len(env.store.list_runs(SCHEME_ID, limit=100)) == runs + 1
    assert schedule.lease_holders(env.store, SCHEME_ID) == [], "the console's leases are released"
