"""End-of-window verification: records that moved while paging are found by re-reading the window.

The protection is tested on and off against the sandbox's drift mode (a served record is
modified at once, so every later record shifts one place and an offset pager skips one):
off, records are lost; on, the ledger holds every record and the run counts what it recovered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.sandbox import Faults, Sandbox
from ferry.sandbox.seeds import RUN_UNTIL, SEEDS, load_seed, sandbox_env
from ferry.store import open_store

SEED = {seed.key: seed for seed in SEEDS}
FAST = RetryPolicy(attempts=5, base_delay=0.001, max_delay=0.01)


def collect(tmp_path: Path, name: str, faults: Faults | None, *, verify: bool) -> tuple[Any, set[str]]:
    sandbox = Sandbox.default(size=150, only=["jushuitan"], faults=faults)
    scheme = load_seed(SEED["002"], env=sandbox_env(sandbox))
    scheme.settings = scheme.settings.model_copy(update={"page_size": 5, "verify_totals": verify})
    with open_store(f"sqlite:///{tmp_path / name}") as store:
        report = run_scheme(
            scheme,
            store,
            deliver=False,
            now=RUN_UNTIL.replace(tzinfo=scheme.tz),
            transport=sandbox.transport(),
            retry=FAST,
        )
        ids = {r.record_id for r in store.find_records(scheme.id, limit=100_000)}
    assert report.status == "succeeded", report.error
    return report, ids


@pytest.mark.parametrize("verify", [True, False])
def test_records_shifted_by_drift_are_recovered_only_with_verification(tmp_path: Path, verify: bool) -> None:
    _, clean = collect(tmp_path, "clean.db", None, verify=verify)
    report, ids = collect(
        tmp_path, "drift.db", Faults(drift_rate=0.15, seed=3, rate_per_second=0), verify=verify
    )
    if verify:
        assert ids == clean
        assert report.counts.verified > 0 and report.counts.recovered > 0
    else:
        assert ids < clean, "without verification the drift must lose records"
        assert report.counts.verified == 0 and report.counts.recovered == 0


def test_a_complete_window_is_not_read_twice(tmp_path: Path) -> None:
    report, _ = collect(tmp_path, "clean.db", None, verify=True)
    assert report.counts.verified == 0
