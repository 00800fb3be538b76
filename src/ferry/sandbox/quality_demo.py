"""The data side of the demo's quality step: exactly one bad record, always the same one.

KuaiMai work order :data:`WORK_ORDER` (one item line, so one ledger row of seed 001) is served
with ``status`` 99, outside the documented 1-5; every other record of every simulator is served
as stored. A seed-001 source rule such as::

    quality:
      source:
        - {field: status, enum: [1, 2, 3, 4, 5], action: quarantine}

then holds that one record, and an operator can set its status back to the stored value
(:attr:`QualityDemo.stored`) and release it::

    sandbox = quality_demo_sandbox(size=200)
    demo = quality_demo(sandbox)      # QualityDemo(record_id='4000007', path='status', served=99, stored=2, ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ferry.sandbox._faults import Faults
from ferry.sandbox._kuaimai_aftersale import AFTER_SALE_TYPES, STATUSES
from ferry.sandbox.kuaimai import KuaimaiSimulator
from ferry.sandbox.transport import Sandbox

__all__ = [
    "LEDGER_ID",
    "SCHEME",
    "WORK_ORDER",
    "QualityDemo",
    "quality_demo",
    "quality_demo_faults",
    "quality_demo_sandbox",
]

SCHEME = "001-kuaimai-aftersale-to-mysql"
"""The seed scheme whose source serves the bad record."""
WORK_ORDER = "4000007"
"""The bad work order: index 6 of the KuaiMai data set (one item line; with ``Faults.seed`` 7 its
enum violation falls on ``status``). Present for ``size`` 7 and more."""
LEDGER_ID = f"{WORK_ORDER}-0"
"""Its ledger row in seed 001, which stores one row per item line (``beatFlat``: ``<id>-<line>``)."""


@dataclass(frozen=True)
class QualityDemo:
    """What the quality step shows: which record is bad, where, and the value that fixes it."""

    scheme: str
    record_id: str
    path: str
    served: Any
    """The value the vendor serves (the rule sees this)."""
    stored: Any
    """The value the vendor holds (what an operator edits the quarantined record back to)."""
    allowed: tuple[Any, ...]
    """The documented values of :attr:`path` (the rule's ``enum``)."""

    @property
    def ledger_id(self) -> str:
        """The record's ledger row id in seed 001 (:data:`LEDGER_ID`)."""
        return LEDGER_ID


def quality_demo_faults(base: Faults | None = None) -> Faults:
    """``base`` (default: no faults) plus the one enum violation of :data:`WORK_ORDER`."""
    return (base or Faults()).with_(
        bad_record_ids=(WORK_ORDER,), bad_record_kinds=("enum_violation",), bad_record_rate=0.0
    )


def quality_demo_sandbox(size: int = 200, faults: Faults | None = None, **options: Any) -> Sandbox:
    """The six simulators with ``faults``, KuaiMai serving :data:`WORK_ORDER` bad.

    Raises:
        ValueError: ``size`` is below 7 (the work order would not exist).
    """
    if size <= int(WORK_ORDER) - 4_000_001:
        raise ValueError(f"quality demo: size must be at least 7 for work order {WORK_ORDER}, got {size}")
    sandbox = Sandbox.default(size=size, faults=faults, **options)
    kuaimai = KuaimaiSimulator(size=size, faults=quality_demo_faults(faults), **options)
    return Sandbox({**sandbox.simulators, "kuaimai": kuaimai})


def quality_demo(sandbox: Sandbox) -> QualityDemo:
    """The bad record of ``sandbox`` (made by :func:`quality_demo_sandbox`)."""
    data = sandbox["kuaimai"].aftersales  # type: ignore[attr-defined]
    path = data.bad_fields[WORK_ORDER]
    stored = data.get(WORK_ORDER)
    return QualityDemo(
        scheme=SCHEME,
        record_id=WORK_ORDER,
        path=path,
        served=data.served(WORK_ORDER)[path],
        stored=stored[path],
        allowed=STATUSES if path == "status" else AFTER_SALE_TYPES,
    )
