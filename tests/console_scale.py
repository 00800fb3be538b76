"""The console at real sizes: a store seeded as a production day leaves it.

Beside seed 001's run (:mod:`console_seed`), :func:`seed_real_sizes` adds, for seed 004's helper
scheme ``caf5709b-...`` (K3Cloud sales orders kept in the ledger, known to the console from the
store only, by its UUID):

- a catch-up run of :data:`WINDOWS` one-hour windows, :data:`FILLED` of them with records and
  the rest empty, with one log line per window as the collector writes them (the run behind
  a 73,606 px page);
- 24 hours of ledger activity (records in, delivered, failed each hour) and API calls;
- alert incidents about the scheme and about the K3Cloud API, with notices.

Every time is relative to ``now``, so the dashboard's last 24 hours are full.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ferry.engine.counts import RunCounts
from ferry.observe.alerts import parse_alert_config
from ferry.store import RecordResult, Store
from ferry.store._schema import alert_incidents, alert_notices, ledger, record_attempts, run_events

HELPER_ID = "caf5709b-629b-3414-8bb2-97c82ce8c366"
HELPER_NAME = "金蝶云星空-销售订单(查询)"
SCHEME_TZ = ZoneInfo("Asia/Shanghai")
WINDOWS = 1073
FILLED = 73
"""Windows of the catch-up run that fetched records (the others fetched nothing)."""
EVERY_RULE = parse_alert_config(
    {
        "channels": {"ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
        "rules": [
            {"name": "aftersale-failed", "type": "run_failed", "schemes": ["001-*"]},
            {"type": "error_ratio", "threshold": 0.25},
            {"type": "stalled", "intervals": 3},
            {"type": "dead_letters"},
            {"type": "api_error_burst", "errors": 5, "connections": ["k3cloud"]},
        ],
    },
    env={},
)
"""One alert rule of each type, so that the alerts page describes every kind."""


@dataclass
class RealSizes:
    """What :func:`seed_real_sizes` made."""

    catch_up_run: int
    windows: list[dict[str, Any]]
    events: int
    error_id: str


def _window(start: datetime, fetched: int, rng: random.Random) -> dict[str, Any]:
    end = start + timedelta(hours=1)
    pages = max((fetched + 499) // 500, 1)
    detail: dict[str, Any] = {
        "window": f"[{start.isoformat(sep=' ')}, {end.isoformat(sep=' ')})",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "pages": pages,
        "fetched": fetched,
        "stored": fetched,
        "total": fetched,
        "seconds": round(0.08 + 0.002 * fetched + rng.random() / 10, 3),
        "ledger": fetched,
        "delivered": fetched,
    }
    return detail


def _log_line(detail: dict[str, Any], new: int) -> str:
    """A window's log line, worded as :meth:`ferry.engine.collector.Collector._log_window` words it."""
    return (
        f"window {detail['window']} committed (cursor moved): {detail['pages']} pages, "
        f"{detail['fetched']} fetched, {detail['stored']} stored, {new} new, API total {detail['total']}"
    )


def _short_line(detail: dict[str, Any]) -> str:
    """The collector's warning for a window that came short of the API's total."""
    return (
        f"window {detail['window']}: 2 records short of the API's total {detail['total']}; "
        "reading it again (pass 1)"
    )


def seed_catch_up_run(
    store: Store, now: datetime, rng: random.Random
) -> tuple[int, list[dict[str, Any]], int]:
    """A finished run of the helper scheme over :data:`WINDOWS` hourly windows; ``(run id,
    windows, log lines)``."""
    first = (
        (now - timedelta(hours=WINDOWS + 2)).astimezone(SCHEME_TZ).replace(minute=0, second=0, microsecond=0)
    )
    filled = set(rng.sample(range(WINDOWS), FILLED))
    windows = [
        _window(first + timedelta(hours=i), rng.randint(3, 480) if i in filled else 0, rng)
        for i in range(WINDOWS)
    ]
    counts = RunCounts(
        windows=WINDOWS,
        pages=sum(w["pages"] for w in windows),
        fetched=sum(w["fetched"] for w in windows),
        new=sum(w["fetched"] for w in windows),
        due=sum(w["fetched"] for w in windows),
        delivered=sum(w["fetched"] for w in windows),
        duration_s=round(sum(w["seconds"] for w in windows), 3),
    )
    run_id = store.start_run(HELPER_ID, "run")
    store.finish_run(run_id, "succeeded", counts.as_dict(), None, windows)
    at = now - timedelta(minutes=20)
    lines = [("info", f"run started: collect and deliver; now {at.isoformat()}")]
    for n, window in enumerate(windows):
        if window["fetched"] and n % 9 == 0:  # some windows came short of the API's total once
            lines.append(("warning", _short_line(window)))
        lines.append(("info", _log_line(window, window["fetched"])))
    lines.append(("info", f"run succeeded: {counts.fetched} fetched, {counts.delivered} delivered"))
    with store.transaction(write=True) as conn:
        conn.execute(
            sa.insert(run_events),
            [
                {
                    "run_id": run_id,
                    "at": at + timedelta(milliseconds=900 * i),
                    "level": level,
                    "message": text,
                }
                for i, (level, text) in enumerate(lines)
            ],
        )
    return run_id, windows, len(lines)


def _order(i: int) -> dict[str, Any]:
    return {
        "FID": 100000 + i,
        "FBillNo": f"XSDD{i:06d}",
        "F_Cash_Collection_Id": f"OKKI-{700000 + i}",
        "FCustId": {"FNumber": f"C{i % 97:04d}", "FName": f"客户{i % 97:03d}"},
        "FSaleOrgId": "100",
        "FDate": "2026-12-07T09:30:00",
    }


def seed_day_of_activity(store: Store, now: datetime, rng: random.Random) -> str:
    """24 hours of the helper scheme's records in, delivered and failed, and its API calls; the
    id of one failed record."""
    placed: dict[str, datetime] = {}
    for hour in range(23, -1, -1):
        for _ in range(rng.randint(8, 60)):
            placed[str(100000 + len(placed))] = now - timedelta(minutes=60 * hour + rng.randint(0, 59))
    orders = [_order(int(rid) - 100000) for rid in placed]
    store.upsert_records(HELPER_ID, [(str(o["FID"]), str(o["FBillNo"]), o) for o in orders])
    results = []
    for rid in placed:
        roll = rng.random()
        if roll < 0.88:
            results.append(RecordResult(rid, "finished", response={"IsSuccess": True, "Id": int(rid)}))
        elif roll < 0.97:
            results.append(
                RecordResult(
                    rid,
                    "error",
                    error="K3Cloud 500: 会话信息已丢失，请重新登录",
                    next_attempt_at=now + timedelta(minutes=5),
                )
            )
        else:
            results.append(
                RecordResult(rid, "dead", error="K3Cloud 500: 单据编号 FBillNo 重复，已存在相同编号的单据")
            )
    store.claim(HELPER_ID, len(placed), now)
    store.record_results(HELPER_ID, results)
    with store.transaction(write=True) as conn:
        for rid, at in placed.items():
            where = sa.and_(ledger.c.scheme_id == HELPER_ID, ledger.c.record_id == rid)
            conn.execute(
                sa.update(ledger)
                .where(where)
                .values(
                    created_at=at,
                    updated_at=at + timedelta(minutes=1),
                    delivered_at=sa.case(
                        (ledger.c.status == "finished", at + timedelta(minutes=1)), else_=None
                    ),
                )
            )
            attempts = sa.and_(record_attempts.c.scheme_id == HELPER_ID, record_attempts.c.record_id == rid)
            conn.execute(sa.update(record_attempts).where(attempts).values(at=at + timedelta(minutes=1)))
    calls = []
    for minute in range(0, 24 * 60, 6):
        at = now - timedelta(minutes=minute)
        failed = rng.random() < 0.04
        calls.append(
            {
                "connection": "k3cloud",
                "api": "ExecuteBillQuery",
                "scheme_id": HELPER_ID,
                "started_at": at,
                "duration_ms": int(rng.lognormvariate(5.3, 0.5)),
                "status": "error" if failed else "ok",
                "error_code": "500" if failed else None,
                "error_message": "会话信息已丢失，请重新登录" if failed else None,
                "records": rng.randint(0, 500),
            }
        )
    store.log_api_calls(calls)
    return next(r.record_id for r in results if r.status == "error")


def seed_incidents(store: Store, now: datetime) -> None:
    """An open API incident and a resolved stall of the helper scheme, with their notices."""
    with store.transaction(write=True) as conn:
        burst = conn.execute(
            sa.insert(alert_incidents).values(
                rule="api_error_burst",
                subject="k3cloud:ExecuteBillQuery",
                status="open",
                severity="warning",
                summary="6 error(s) in 240 call(s) to ExecuteBillQuery on k3cloud in the last 1h (≥ 5; 接口报错 6 次)",
                opened_at=now - timedelta(hours=3),
                last_seen_at=now - timedelta(minutes=2),
            )
        ).inserted_primary_key[0]
        stall = conn.execute(
            sa.insert(alert_incidents).values(
                rule="stalled",
                subject=HELPER_ID,
                status="resolved",
                severity="warning",
                summary="collecting on schedule '*/10 * * * *'; last collect 3 min ago",
                opened_at=now - timedelta(hours=9),
                last_seen_at=now - timedelta(hours=8),
                resolved_at=now - timedelta(hours=8),
            )
        ).inserted_primary_key[0]
        conn.execute(
            sa.insert(alert_notices),
            [
                {
                    "incident_id": burst,
                    "channel": "ops",
                    "kind": "alert",
                    "at": now - timedelta(hours=3),
                    "ok": True,
                    "error": None,
                },
                {
                    "incident_id": stall,
                    "channel": "ops",
                    "kind": "alert",
                    "at": now - timedelta(hours=9),
                    "ok": True,
                    "error": None,
                },
                {
                    "incident_id": stall,
                    "channel": "ops",
                    "kind": "recovery",
                    "at": now - timedelta(hours=8),
                    "ok": False,
                    "error": "connect timeout",
                },
            ],
        )


def seed_real_sizes(store: Store, now: datetime | None = None) -> RealSizes:
    """Seed the helper scheme's catch-up run, a day of activity and incidents (see the module)."""
    now = now or datetime.now(UTC)
    rng = random.Random(12)
    store.save_scheme(
        HELPER_ID,
        HELPER_NAME,
        {
            "id": HELPER_ID,
            "name": HELPER_NAME,
            "source": {"connection": {"type": "k3cloud"}},
            "target": {"connection": {"type": "ledger"}},
        },
    )
    run_id, windows, events = seed_catch_up_run(store, now, rng)
    error_id = seed_day_of_activity(store, now, rng)
    seed_incidents(store, now)
    return RealSizes(run_id, windows, events, error_id)
