"""Migration 0007 on a store that has data: throttled calls, exact budget times, counted notices."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from ferry.observe.alerts import list_incidents
from ferry.store import open_store
from ferry.store._migrate import _config
from ferry.store.incidents import notice_state

AT = datetime(2024, 5, 3, 4, 0)


def migrate_to(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            config = _config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def test_upgrade_keeps_notices_counted_and_takes_throttled_calls(any_db_url: str) -> None:
    migrate_to(any_db_url, "0006")
    engine = sa.create_engine(any_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO alert_incidents (rule, subject, status, severity, summary, opened_at, "
                    "last_seen_at) VALUES ('run_failed', 'orders', 'open', 'critical', 'boom', :at, :at)"
                ),
                {"at": AT},
            )
            incident = conn.execute(sa.text("SELECT MAX(id) FROM alert_incidents")).scalar_one()
            for ok in (False, False, True):
                conn.execute(
                    sa.text(
                        "INSERT INTO alert_notices (incident_id, channel, kind, at, ok) "
                        "VALUES (:i, 'hook', 'alert', :at, :ok)"
                    ),
                    {"i": incident, "at": AT, "ok": ok},
                )
    finally:
        engine.dispose()

    with open_store(any_db_url) as store:
        [listed] = list_incidents(store)
        assert listed["notice_count"] == 3 and listed["notices"]["total"] == 3
        with store.transaction() as conn:
            state = notice_state(conn, [incident])[(incident, "hook", "alert")]
        assert (state.attempts, state.delivered, state.skipped) == (3, True, False)
        store.log_api_calls(
            [{"connection": "km", "api": "erp.aftersale.list.query", "status": "throttled", "records": 0}]
        )
        assert [c["status"] for c in store.list_api_calls()] == ["throttled"]
        with pytest.raises(ValueError, match="status must be one of ok, error, throttled"):
            store.log_api_calls([{"connection": "km", "api": "x", "status": "slow"}])
        # epoch seconds keep their sub-millisecond precision on every backend (MySQL FLOAT did not)
        now = datetime.now(UTC).timestamp()
        rules = [(2, 1.02)]
        assert [store.reserve_call("km:app", rules, now + i * 0.01) for i in range(2)] == [0.0, 0.0]
        assert store.reserve_call("km:app", rules, now + 0.02) == pytest.approx(1.0, abs=1e-6)
