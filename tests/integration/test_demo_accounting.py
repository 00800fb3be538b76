"""`ferry demo`'s accounting: every scheme's counts balance, the planned failures and the planned
quarantined record are labelled, and the exit code is 0 only when the failures and holds are
exactly the planned ones (an unplanned hold: tests/integration/test_demo_quality.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ferry.engine.counts import RunCounts
from ferry.sandbox import Sandbox
from ferry.sandbox.planned import planned_failures
from ferry.store import RecordResult, Store, open_store

SIZE = 60
RECEIPTS = "004-okki-receipts-to-k3cloud"
STOCK = "002-jushuitan-otherinout-to-kis"


def run_demo(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FERRY_HOME": str(home), "COLUMNS": "200"}
    env.pop("FERRY_STORE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "ferry", "demo", "--size", str(SIZE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def ledger_of(output: str) -> Store:
    """The store the demo says it used (``ledger: URL`` under "Where to look")."""
    match = re.search(r"^\s*ledger:\s+(\S+)", output, re.MULTILINE)
    assert match, output
    return open_store(match.group(1))


def runs_after(store: Store, run_id: int) -> dict[str, dict[str, object]]:
    """The runs newer than ``run_id``, by scheme."""
    return {r["scheme_id"]: r for r in store.list_runs(limit=100) if r["id"] > run_id}


def test_every_demo_scheme_balances_and_only_the_planned_failures_exit_0(tmp_path: Path) -> None:
    planned = planned_failures(Sandbox.default(size=SIZE))[RECEIPTS]
    assert planned.record_ids  # the data plans some: receipts without a sales order

    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    store = ledger_of(first.stdout)
    try:
        runs = runs_after(store, 0)
        assert len(runs) == 7, runs
        for scheme_id, run in runs.items():
            counts = RunCounts.from_dict(run["counts"])  # type: ignore[arg-type]
            assert counts.imbalance() == [], (scheme_id, run["counts"])
            assert counts.fetched > 0 and counts.due == counts.new, (scheme_id, run["counts"])
        flat = RunCounts.from_dict(runs["001-kuaimai-aftersale-to-mysql"]["counts"])  # type: ignore[arg-type]
        # seed 001's quality rule holds the one work order KuaiMai serves with status 99: planned
        assert flat.flattened > 0 and flat.fetched + flat.flattened == flat.new == flat.delivered + 1
        assert flat.quarantined == 1 and flat.waiting_quarantined == 1
        assert "rule status-known (quality.source): status = 99" in first.stdout
        receipts = RunCounts.from_dict(runs[RECEIPTS]["counts"])  # type: ignore[arg-type]
        assert (receipts.failed, receipts.still_failing) == (len(planned.record_ids),) * 2
        failing = store.find_records(RECEIPTS, status=["error", "dead"], limit=1000)
        assert {r.record_id for r in failing} == planned.record_ids
        assert f"{RECEIPTS}: {len(planned.record_ids)} records failing as planned" in first.stdout
        assert "required field 'FID' is empty" in first.stdout
        assert "result: as planned, nothing else failing (exit 0)" in first.stdout

        # A second run delivers nothing: the planned records still fail (waiting on their
        # ladder), the run says so, and that is still exactly the plan.
        last = max(int(r["id"]) for r in runs.values())  # type: ignore[call-overload]
        second = run_demo(tmp_path)
        assert second.returncode == 0, second.stdout + second.stderr
        again = runs_after(store, last)
        assert all(RunCounts.from_dict(r["counts"]).balances() for r in again.values()), again  # type: ignore[arg-type]
        assert RunCounts.from_dict(again[RECEIPTS]["counts"]).delivered == 0  # type: ignore[arg-type]
        assert f"{len(planned.record_ids)} planned" in second.stdout

        # An unplanned failure -- another scheme's record, one more receipt -- makes it exit 1.
        later = datetime.now(UTC) + timedelta(days=365)
        stock = store.find_records(STOCK, status="finished", limit=1)[0].record_id
        receipt = store.find_records(RECEIPTS, status="finished", limit=1)[0].record_id
        store.record_results(
            STOCK, [RecordResult(stock, "error", error="KIS: unit missing", next_attempt_at=later)]
        )
        store.record_results(RECEIPTS, [RecordResult(receipt, "dead", error="K3Cloud: bill is locked")])
        third = run_demo(tmp_path)
    finally:
        store.close()
    assert third.returncode == 1, third.stdout + third.stderr
    assert "1 record still failing since run " in third.stdout
    assert f"ferry records --scheme {STOCK} --status error --status dead" in third.stdout
    assert (
        f"{RECEIPTS}: not the planned failures: {len(planned.record_ids)} planned "
        f"(OKKI receipts whose sales order does not exist in K3Cloud: required field 'FID' is empty), "
        f"{len(planned.record_ids) + 1} failing"
    ) in third.stdout
    assert "result: not as planned (exit 1)" in third.stdout
