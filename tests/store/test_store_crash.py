"""kill -9 at any instant: a page and its cursor are both committed or both absent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

from ferry.store import RecordResult, open_store

T0 = datetime(2024, 5, 1, tzinfo=UTC)
PAGE = 200


def test_sigkill_during_collection_never_splits_a_page_from_its_cursor(any_db_url: str) -> None:
    with open_store(any_db_url) as store:
        code = textwrap.dedent(
            f"""
            from datetime import UTC, datetime, timedelta
            from ferry.store import open_store
            store = open_store({any_db_url!r}, migrate=False)
            t0 = datetime(2024, 5, 1, tzinfo=UTC)
            page = 0
            while True:
                records = [(f"{{page}}-{{i}}", None, {{"page": page, "i": i, "pad": "x" * 200}}) for i in range({PAGE})]
                store.upsert_records("s", records, cursor=("main", t0 + timedelta(hours=page + 1)))
                page += 1
            """
        )
        child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while store.get_cursor("s") is None or store.get_cursor("s") < T0 + timedelta(hours=3):  # type: ignore[operator]
                assert child.poll() is None, child.stderr.read() if child.stderr else ""
                assert time.monotonic() < deadline, "the writer made no progress"
                time.sleep(0.02)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        cursor = store.get_cursor("s")
        assert cursor is not None
        pages = int((cursor - T0) / timedelta(hours=1))
        assert pages >= 3
        assert store.count_by_status("s")["pending"] == pages * PAGE
        assert {r["content"]["page"] for r in store.iter_lookup_rows("s")} == set(range(pages))


def test_sigkill_after_claim_loses_nothing_after_recovery(any_db_url: str) -> None:
    with open_store(any_db_url) as store:
        store.upsert_records("s", [(str(i), None, {"i": i}) for i in range(50)])
        code = textwrap.dedent(
            f"""
            import os, signal
            from datetime import UTC, datetime
            from ferry.store import RecordResult, open_store
            store = open_store({any_db_url!r}, migrate=False)
            rows = store.claim("s", 20, datetime.now(UTC))
            store.record_results("s", [RecordResult(r.record_id, "finished") for r in rows[:10]])
            os.kill(os.getpid(), signal.SIGKILL)  # dies with 10 rows delivered but unrecorded
            """
        )
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
        assert child.returncode == -signal.SIGKILL, child.stderr.decode()
        assert store.count_by_status("s") == {
            "pending": 30,
            "queued": 10,
            "finished": 10,
            "error": 0,
            "dead": 0,
            "quarantined": 0,
            "dropped": 0,
        }
        assert store.recover_queued("s") == 10
        rows = store.claim("s", 100, datetime.now(UTC))
        assert len(rows) == 40
        store.record_results("s", [RecordResult(r.record_id, "finished") for r in rows])
        assert store.count_by_status("s")["finished"] == 50
