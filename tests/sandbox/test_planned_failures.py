"""The failures the sandbox data plans (seed 004's receipts without a sales order), derived
from the simulators, and the exact match ``ferry demo`` requires for exit 0."""

from __future__ import annotations

import pytest

from ferry.sandbox import Sandbox
from ferry.sandbox._okki_receipts import ORPHAN_BASE
from ferry.sandbox.planned import PlannedFailures, planned_failures

RECEIPTS = "004-okki-receipts-to-k3cloud"


@pytest.mark.parametrize("size", [30, 100])
def test_the_planned_failures_are_the_receipts_whose_order_does_not_exist(size: int) -> None:
    sandbox = Sandbox.default(size=size)
    planned = planned_failures(sandbox)[RECEIPTS]
    orphans = {
        str(r["cash_collection_id"])
        for r in sandbox["okki"].receipts.all()
        if r["order_id"] == 0 or ORPHAN_BASE <= r["order_id"] < ORPHAN_BASE + size  # unlinked, orphan
    }
    assert planned.record_ids == orphans and len(orphans) > 0
    assert planned.reason == "required field 'FID' is empty"


PLAN = PlannedFailures(RECEIPTS, frozenset({"1", "2"}), "required field 'FID' is empty", "no order")
WHY = "target.request[0]: required field 'FID' is empty: _mongoQuery ... found nothing for F_Cash_Collection_Id = 0 (...)"


@pytest.mark.parametrize(
    ("failing", "matches"),
    [
        pytest.param({"1": WHY, "2": WHY}, True, id="exactly-the-plan"),
        pytest.param({"1": WHY}, False, id="one-missing"),
        pytest.param({"1": WHY, "2": WHY, "3": WHY}, False, id="one-more"),
        pytest.param({"1": WHY, "2": "K3Cloud: bill is locked"}, False, id="another-reason"),
        pytest.param({"1": WHY, "2": None}, False, id="no-reason"),
    ],
)
def test_only_exactly_the_planned_records_for_the_planned_reason_match(
    failing: dict[str, str | None], matches: bool
) -> None:
    assert PLAN.matches(failing) is matches
