"""The ``ledger`` target: keep the records in Ferry's ledger only (QEasy's "store for lookups").

Reference-data schemes (materials, customers, existing sales orders) exist so that other
schemes can look their rows up with ``_findCollection`` / ``_mongoQuery``. They need no
target system: every record is accepted as delivered, its mapped payload kept as the response,
and the ledger row (the thing lookups read) stays as collected.

::

    qeasy_store:
      type: ledger
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ferry.connectors.base import Delivery, Limits, Outcome
from ferry.connectors.specs import LedgerConnection

__all__ = ["LedgerTarget"]


class LedgerTarget:
    """Accepts every record; writes nothing anywhere else."""

    limits = Limits(default_page_size=1000)

    def __init__(self, spec: LedgerConnection, *, transport: Any = None) -> None:
        self.spec = spec
        self.name = spec.name

    def write(self, delivery: Delivery) -> Sequence[Outcome]:
        """Every record of ``delivery`` is ``ok`` with ``{"stored": "ledger"}``."""
        return [Outcome(record_id=rid, ok=True, response={"stored": "ledger"}) for rid in delivery.record_ids]

    def close(self) -> None:
        """Nothing to release."""
