"""Reconciliation finds exactly the records a collection missed, and --repair queues them."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ferry.connectors.registry import build_source
from ferry.engine.reconcile import reconcile
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.sandbox import Faults, Sandbox
from ferry.sandbox.seeds import HISTORY_START, RUN_UNTIL, SEEDS, load_seed, sandbox_env
from ferry.store import open_store

SEED = {seed.key: seed for seed in SEEDS}
FAST = RetryPolicy(attempts=5, base_delay=0.001, max_delay=0.01)


def collect(sandbox: Sandbox, store: Any) -> Any:
    scheme = load_seed(SEED["002"], env=sandbox_env(sandbox))
    report = run_scheme(
        scheme,
        store,
        deliver=False,
        now=RUN_UNTIL.replace(tzinfo=scheme.tz),
        transport=sandbox.transport(),
        retry=FAST,
    )
    assert report.status == "succeeded", report.error
    return scheme


def ledger_ids(store: Any, scheme_id: str) -> set[str]:
    return {r.record_id for r in store.find_records(scheme_id, limit=100_000)}


def test_reconcile_reports_late_records_as_missing_and_repair_queues_them(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'clean.db'}") as store:
        clean = ledger_ids(store, collect(Sandbox.default(size=120, only=["jushuitan"]), store).id)

    late = Sandbox.default(
        size=120, only=["jushuitan"], faults=Faults(late_rate=0.3, late_after_calls=10_000)
    )
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        scheme = collect(late, store)
        first = ledger_ids(store, scheme.id)
        lost = clean - first
        assert lost, "late arrivals must have been missed by the first pass"

        late["jushuitan"].inout.calls += 10_000  # the late records arrive now
        source = build_source(scheme.source_connection, transport=late.transport())
        since, until = HISTORY_START.replace(tzinfo=scheme.tz), RUN_UNTIL.replace(tzinfo=scheme.tz)
        report = reconcile(scheme, store, source, since=since, until=until)
        assert report.missing == len(lost)
        assert {rid for w in report.windows for rid in w.missing} == lost
        assert report.extra == 0 and report.changed == 0 and report.repaired == 0
        assert ledger_ids(store, scheme.id) == first, "without --repair nothing is written"
        assert sum(w.source for w in report.windows) == len(clean)
        assert all(w.source_total is not None for w in report.windows)

        repaired = reconcile(scheme, store, source, since=since, until=until, repair=True)
        assert repaired.repaired == len(lost)
        assert ledger_ids(store, scheme.id) == clean
        assert {r.record_id for r in store.find_records(scheme.id, status="pending", limit=1000)} >= lost
        again = reconcile(scheme, store, source, since=since, until=until)
        assert again.missing == 0
        source.close()


def test_reconcile_reports_records_the_source_no_longer_returns_as_extra(tmp_path: Path) -> None:
    sandbox = Sandbox.default(size=60, only=["jushuitan"])
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        scheme = collect(sandbox, store)
        held = ledger_ids(store, scheme.id)
        gone = sorted(held)[0]
        dataset = sandbox["jushuitan"].inout  # type: ignore[attr-defined]
        dataset._modified[gone] = dataset._modified[gone].replace(year=2030)  # modified long after
        source = build_source(scheme.source_connection, transport=sandbox.transport())
        report = reconcile(
            scheme,
            store,
            source,
            # the first collecting window started lookback (10 min) before the history start
            since=HISTORY_START.replace(tzinfo=scheme.tz) - timedelta(hours=1),
            until=RUN_UNTIL.replace(tzinfo=scheme.tz),
        )
        source.close()
    assert report.missing == 0
    assert [rid for w in report.windows for rid in w.extra] == [gone]


def test_cli_reconcile_over_http_exits_1_on_missing_and_0_after_repair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ferry.cli.main import app
    from ferry.sandbox.server import SandboxServer

    sandbox = Sandbox.default(size=60, only=["jushuitan"])
    store_url = f"sqlite:///{tmp_path / 'ferry.db'}"
    with SandboxServer(sandbox) as server:
        for key, value in sandbox_env(sandbox, server.urls()).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("FERRY_STORE_URL", store_url)
        scheme_file = str(SEED["002"].path)
        args = ["reconcile", scheme_file, "--since", "2024-05-01 00:00:00", "--until", "2024-06-02 00:00:00"]
        runner = CliRunner()
        missing = runner.invoke(app, args)
        assert missing.exit_code == 1, missing.output
        assert "missing" in missing.output and "--repair" in missing.output
        fixed = runner.invoke(app, [*args, "--repair", "--json"])
        assert fixed.exit_code == 0, fixed.output
        assert '"repaired":' in fixed.output
        clean = runner.invoke(app, args)
        assert clean.exit_code == 0, clean.output
    assert os.environ["FERRY_STORE_URL"] == store_url
