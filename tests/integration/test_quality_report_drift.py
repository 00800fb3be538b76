"""The quality report of a run whose records schema drift held: counted under the rule
``schema_drift`` and balanced (the sandbox renames a field in the middle of the run)."""

from __future__ import annotations

from pathlib import Path

import test_schema_drift as drift
from test_schema_drift import SEED_ID, _two_runs

from ferry.store import Store
from ferry.store.quality_report import quality_report

store = drift.store


def test_drift_holds_are_counted_under_schema_drift_and_the_report_balances(
    tmp_path: Path, store: Store
) -> None:
    first, second = _two_runs(tmp_path, store, "quarantine")
    held = second.counts.quarantined
    assert held > 0, second.error
    assert second.counts.quality_rules == {"schema_drift": {"warned": 0, "quarantined": held, "failed": 0}}

    rows = {row.key: row for row in quality_report(store, scheme_id=SEED_ID)}
    assert set(rows) == {str(first.run_id), str(second.run_id)}
    for row in rows.values():
        assert row.imbalance() == [], row.as_dict()
    row = rows[str(second.run_id)]
    assert row.quarantined == held and row.rules["schema_drift"]["quarantined"] == held
    assert row.source_total == second.counts.fetched + second.counts.flattened
    assert rows[str(first.run_id)].rules == {}
