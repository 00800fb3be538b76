"""The failures the sandbox data plans: records that must fail, derived from the simulators.

Seed 004 writes OKKI receipts onto K3Cloud sales orders and looks each order's ``FID`` up
in the K3Cloud helper scheme. Some receipts name no order (``order_id`` 0) or an order that
does not exist (:mod:`ferry.sandbox._okki_receipts`): those must end in ``error`` with the
mapping's reason, never be written. ``ferry demo`` labels them as planned and exits 0 only
when the failures are exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["PlannedFailures", "planned_failures"]


@dataclass(frozen=True)
class PlannedFailures:
    """The records of one scheme that the sandbox data makes fail, and why."""

    scheme_id: str
    record_ids: frozenset[str]
    reason: str
    """Text every one of their errors contains."""
    why: str
    """What in the data makes them fail."""

    def matches(self, failing: dict[str, str | None]) -> bool:
        """Whether ``failing`` (record id -> last error) is exactly the planned records, each
        failing for the planned reason."""
        return set(failing) == self.record_ids and all(self.reason in (e or "") for e in failing.values())


def planned_failures(sandbox: Any) -> dict[str, PlannedFailures]:
    """The planned failures of the seed schemes against ``sandbox``, by scheme id.

    Seed 004: the receipts whose ``order_id`` is no K3Cloud sales order's
    ``F_Cash_Collection_Id`` (read from both simulators, so it follows ``--size``).
    """
    from ferry.sandbox.seeds import SEEDS

    seed = next(s for s in SEEDS if s.key == "004")
    scheme_id = str(yaml.safe_load(seed.path.read_text(encoding="utf-8"))["id"])
    orders = {str(bill["F_Cash_Collection_Id"]) for bill in sandbox["k3cloud"].bills("SAL_SaleOrder")}
    orphans = frozenset(
        str(row["cash_collection_id"])
        for row in sandbox["okki"].receipts.all()
        if str(row["order_id"]) not in orders
    )
    planned = PlannedFailures(
        scheme_id=scheme_id,
        record_ids=orphans,
        reason="required field 'FID' is empty",
        why="OKKI receipts whose sales order does not exist in K3Cloud",
    )
    return {scheme_id: planned}
