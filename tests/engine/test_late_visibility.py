"""Lookback and lag: records the vendor shows only after their window was read are not lost.

A record committed at the vendor with a modification time a little in the past (a slow vendor
transaction, a replica behind) is invisible when its window is read. Each protection is tested
on and off: off, the record is never collected; on, the next run collects it.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.sandbox import Sandbox
from ferry.sandbox.seeds import RUN_UNTIL, SEEDS, load_seed, sandbox_env
from ferry.store import open_store

SEED = {seed.key: seed for seed in SEEDS}
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)


def late_record(sandbox: Sandbox, io_id: int, modified: Any) -> None:
    """Commit a confirmed 其它退货 record at the vendor, modified at ``modified`` (naive Beijing)."""
    data = sandbox["jushuitan"].inout  # type: ignore[attr-defined]
    row = copy.deepcopy(data.all()[0])
    row.update(
        io_id=io_id, modified=modified.strftime("%Y-%m-%d %H:%M:%S"), status="Confirmed", type="其它退货"
    )
    data.put(str(io_id), row, modified)


def two_runs(tmp_path: Path, *, lookback: timedelta, lag: timedelta, late_by: timedelta) -> set[str]:
    sandbox = Sandbox.default(size=40, only=["jushuitan"])
    scheme = load_seed(SEED["002"], env=sandbox_env(sandbox))
    scheme.window = scheme.window.model_copy(update={"lookback": lookback, "lag": lag})
    first = RUN_UNTIL.replace(tzinfo=scheme.tz)
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        report = run_scheme(
            scheme, store, deliver=False, now=first, transport=sandbox.transport(), retry=FAST
        )
        assert report.status == "succeeded", report.error
        # after the first run read its last window, the vendor shows a record modified before its end
        late_record(sandbox, 99_001, first.replace(tzinfo=None) - late_by)
        second = first + timedelta(minutes=30)
        report = run_scheme(
            scheme, store, deliver=False, now=second, transport=sandbox.transport(), retry=FAST
        )
        assert report.status == "succeeded", report.error
        return {r.record_id for r in store.find_records(scheme.id, limit=10_000)}


@pytest.mark.parametrize("lookback", [timedelta(minutes=10), timedelta(0)], ids=["on", "off"])
def test_lookback_collects_a_record_that_became_visible_after_its_window(
    tmp_path: Path, lookback: timedelta
) -> None:
    # the record is 5 minutes older than where the first run stopped (no lag)
    ids = two_runs(tmp_path, lookback=lookback, lag=timedelta(0), late_by=timedelta(minutes=5))
    assert ("99001" in ids) is bool(lookback)


@pytest.mark.parametrize("lag", [timedelta(minutes=2), timedelta(0)], ids=["on", "off"])
def test_lag_leaves_recent_records_for_the_next_run(tmp_path: Path, lag: timedelta) -> None:
    # the record is modified 30 s before "now" of the first run and shows up only afterwards
    ids = two_runs(tmp_path, lookback=timedelta(0), lag=lag, late_by=timedelta(seconds=30))
    assert ("99001" in ids) is bool(lag)


@pytest.mark.parametrize("sweep", [True, False], ids=["on", "off"])
def test_omission_remedy_sweep_collects_a_record_older_than_the_lookback(tmp_path: Path, sweep: bool) -> None:
    from ferry.scheme.metadata import FieldSpec, OmissionRemedy

    sandbox = Sandbox.default(size=40, only=["jushuitan"])
    scheme = load_seed(SEED["002"], env=sandbox_env(sandbox))
    assert scheme.source_meta is not None
    remedy = OmissionRemedy(
        crontab="0 */2 * * *",
        takeOverRequest=[FieldSpec(field="modified_begin", value="{{HOURS_AGO_6|datetime}}")],
    )
    scheme.source_meta = scheme.source_meta.model_copy(update={"omissionRemedy": remedy})
    now = RUN_UNTIL.replace(tzinfo=scheme.tz)
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        run_scheme(scheme, store, deliver=False, now=now, transport=sandbox.transport(), retry=FAST)
        late_record(sandbox, 99_002, now.replace(tzinfo=None) - timedelta(hours=3))  # far behind the lookback
        later = now + timedelta(minutes=30)
        report = run_scheme(
            scheme, store, deliver=False, now=later, transport=sandbox.transport(), retry=FAST
        )
        assert report.counts.new == 0  # the incremental run cannot see it
        if sweep:
            report = run_scheme(
                scheme,
                store,
                deliver=False,
                remedy=True,
                now=later,
                transport=sandbox.transport(),
                retry=FAST,
            )
            assert report.status == "succeeded", report.error
            assert report.counts.recovered == 1
        ids = {r.record_id for r in store.find_records(scheme.id, limit=10_000)}
    assert ("99002" in ids) is sweep
