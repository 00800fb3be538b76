"""Fault injection shared by every simulator: what can go wrong, and how often.

A :class:`Faults` is plain configuration; a :class:`FaultDice` rolls it with a seeded RNG so
a test that fixes ``seed`` sees the same faults on every run. The simulator base class applies
the transport-level faults (latency, 5xx, timeouts, rate limits, token expiry); the data-level
ones (drift, late arrivals, duplicates) are applied by :class:`ferry.sandbox.Dataset`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from ferry.sandbox._quality import BAD_RECORD_KINDS

__all__ = ["FaultDice", "Faults"]


@dataclass(frozen=True)
class Faults:
    """What a simulator does wrong. Every rate is a probability in ``[0, 1]``."""

    error_rate: float = 0.0
    """Share of calls that fail at the transport level (an HTTP 5xx or a timeout)."""
    timeout_share: float = 0.5
    """Of those failures, the share that are timeouts rather than 5xx answers."""
    commit_before_timeout: float = 0.0
    """Share of timeouts on *write* calls that happen after the write was applied (the client
    sees a timeout, the vendor kept the data: the case idempotent saves must survive)."""
    lost_write_rate: float = 0.0
    """Share of *write* calls that are applied and then answered with a timeout (the answer is
    lost on the way back), whatever ``error_rate`` says."""
    malformed_rate: float = 0.0
    """Share of calls answered HTTP 200 with a malformed body: an HTML page, cut-off JSON, an
    empty object or ``null`` (what broken gateways and half-deployed vendor releases send)."""
    latency: float = 0.0
    """Seconds added to every call."""
    rate_per_second: int | None = None
    """Calls per second and credential before the vendor's throttling answer (``None``: the
    simulator's documented default; ``0``: unlimited)."""
    rate_per_minute: int | None = None
    """Calls per minute and credential, as ``rate_per_second``."""
    token_expiry_calls: int | None = None
    """A token or session expires after this many calls (``None``: only by its lifetime)."""
    drift_rate: float = 0.0
    """Share of the records of a served page (other than the last) that are modified right
    after it is served, moving them to a later position (offset drift)."""
    late_rate: float = 0.0
    """Share of records that arrive late: invisible at first, they appear after
    ``late_after_calls`` calls with a modification time in the past."""
    late_after_calls: int = 5
    """Calls after which late records become visible."""
    duplicate_rate: float = 0.0
    """Share of pages (after the first) that repeat the previous page's last record."""
    clock_skew: float = 0.0
    """Seconds the vendor's clock runs ahead of the true time (negative: behind). The vendor
    stamps what it modifies or receives with its own clock and tells its time in the HTTP
    ``Date`` header, as real servers do. Kept by :meth:`Simulator.calm` (a clock stays wrong)."""
    rename_field: str | None = None
    """``"old:new"``: from call ``rename_after_calls`` on, records are served with every key
    ``old`` (at any depth, e.g. ``outerId`` inside ``items``) renamed ``new`` (schema drift)."""
    rename_after_calls: int = 0
    """Calls served before ``rename_field`` takes effect (0: from the first call)."""
    seed: int = 7
    """Seed of the fault dice (faults are reproducible)."""
    # -- data quality: bad records and volume drops (ferry.sandbox._quality) ------------------
    bad_record_rate: float = 0.0
    """Share of the seeded records served corrupted, the same way on every call (which ones is
    fixed by ``seed`` and the record id: ``Dataset.bad``); the stored record stays intact."""
    bad_record_kinds: tuple[str, ...] = BAD_RECORD_KINDS
    """Kinds of bad record served: ``wrong_type``, ``missing_required``, ``enum_violation``."""
    bad_record_ids: tuple[str, ...] = ()
    """Records served corrupted whatever ``bad_record_rate`` says (a demo's one bad record)."""
    volume_drop: float = 0.0
    """Share of the records in the drop span that no query returns (0.9: a tenth of the volume)."""
    volume_zero: bool = False
    """No query returns any record of the drop span (a window of zero records)."""
    volume_drop_since: datetime | None = None
    """The drop span: records modified at or after this time (naive vendor time; ``None``: all)."""
    volume_drop_until: datetime | None = None
    """The drop span: records modified before this time (``None``: no end)."""
    volume_drop_after_calls: int = 0
    """Queries of a record set answered in full before the drop starts (a vendor going quiet
    mid-run)."""
    volume_drop_calls: int | None = None
    """Queries the drop lasts, then every record is served again (``None``: to the end)."""

    def __post_init__(self) -> None:
        for name in (
            "error_rate",
            "timeout_share",
            "commit_before_timeout",
            "lost_write_rate",
            "malformed_rate",
            "drift_rate",
            "late_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Faults.{name} must be between 0 and 1, got {value!r}")
        if self.rename_field is not None and len([p for p in self.rename_field.split(":") if p]) != 2:
            raise ValueError(f"Faults.rename_field must be 'old:new', got {self.rename_field!r}")
        if self.duplicate_rate < 0 or self.duplicate_rate > 1:
            raise ValueError(f"Faults.duplicate_rate must be between 0 and 1, got {self.duplicate_rate!r}")
        _check_quality(self)

    def with_(self, **changes: Any) -> Faults:
        """A copy with ``changes`` applied (unknown names raise ``TypeError``)."""
        return replace(self, **changes)

    @classmethod
    def names(cls) -> list[str]:
        """Every setting's name (for the CLI and error messages)."""
        return [f.name for f in fields(cls)]


def _check_quality(faults: Faults) -> None:
    """Validate and normalise the data-quality settings (``bad_record_*``, ``volume_*``)."""
    for name in ("bad_record_rate", "volume_drop"):
        value = getattr(faults, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"Faults.{name} must be between 0 and 1, got {value!r}")
    object.__setattr__(faults, "bad_record_kinds", _kinds(faults.bad_record_kinds))
    object.__setattr__(faults, "bad_record_ids", tuple(str(rid) for rid in faults.bad_record_ids))
    if faults.volume_drop_after_calls < 0:
        raise ValueError(
            f"Faults.volume_drop_after_calls must be >= 0, got {faults.volume_drop_after_calls!r}"
        )
    if faults.volume_drop_calls is not None and faults.volume_drop_calls < 1:
        raise ValueError(f"Faults.volume_drop_calls must be >= 1 or None, got {faults.volume_drop_calls!r}")


def _kinds(given: str | tuple[str, ...]) -> tuple[str, ...]:
    """``given`` (one kind or several) in :data:`BAD_RECORD_KINDS` order; an unknown one raises."""
    kinds = {given} if isinstance(given, str) else set(given)
    unknown = sorted(kinds - set(BAD_RECORD_KINDS))
    if unknown:
        raise ValueError(
            f"Faults.bad_record_kinds: unknown kind {unknown[0]!r}; known: {', '.join(BAD_RECORD_KINDS)}"
        )
    return tuple(kind for kind in BAD_RECORD_KINDS if kind in kinds)


class FaultDice:
    """Seeded decisions for one simulator."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)

    def chance(self, rate: float) -> bool:
        """True with probability ``rate``."""
        return rate > 0 and self.rng.random() < rate

    def sample(self, items: list[Any], rate: float) -> list[Any]:
        """Each item independently with probability ``rate``."""
        if rate <= 0:
            return []
        return [item for item in items if self.rng.random() < rate]
