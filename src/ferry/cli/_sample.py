"""Sampling records for the commands and printing the placeholders no sampled record has.

``ferry validate --sample``, ``ferry check`` and ``ferry preview`` share this: a sample is one
page of the live source (the first window with records, :mod:`ferry.engine.sample`) or the
newest ledger rows, and every ``{field}`` of the target request, ``_function`` and lookup, and
every source ``condition`` field, that none of them has is printed as a warning with its scheme
path and the nearest paths the records do have. Warnings never change an exit code.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ferry.cli._common import echo, open_store, redact
from ferry.errors import FerryError, Issue

if TYPE_CHECKING:
    from ferry.engine.sample import Sample
    from ferry.scheme.model import Scheme
    from ferry.store import Store

__all__ = [
    "CheckSample",
    "SampleFrom",
    "placeholder_warnings",
    "print_placeholder_warnings",
    "sample_schemes",
    "take_sample",
    "warning_documents",
]


class SampleFrom(StrEnum):
    """Where a placeholder check takes its records from."""

    live = "live"
    ledger = "ledger"


class CheckSample(StrEnum):
    """``ferry check --sample``: where from, or ``off``."""

    live = "live"
    ledger = "ledger"
    off = "off"


def take_sample(
    scheme: Scheme,
    store: Store,
    origin: SampleFrom,
    *,
    now: datetime | None = None,
    max_windows: int | None = None,
) -> Sample:
    """Sample ``scheme``: one live page (the first window with records, at most
    ``max_windows`` asked; default :data:`~ferry.engine.sample.MAX_WINDOWS`) or its ledger rows.

    Raises:
        FerryError: The source cannot be built or reached (its own message and hint).
    """
    from ferry.connectors.registry import build_source
    from ferry.engine.collector import Collector
    from ferry.engine.counts import RunCounts
    from ferry.engine.sample import MAX_WINDOWS, WALK_RETRY, ledger_sample, live_sample
    from ferry.transform.plan import compile_scheme

    if origin is SampleFrom.ledger:
        return ledger_sample(scheme, store)
    source = build_source(compile_scheme(scheme).source.connection)
    try:
        collector = Collector(scheme, source, store, RunCounts())
        at = (now or datetime.now(UTC)).astimezone(scheme.tz).replace(microsecond=0)
        return live_sample(collector, at, retry=WALK_RETRY, max_windows=max_windows or MAX_WINDOWS)
    finally:
        source.close()


def placeholder_warnings(scheme: Scheme, sample: Sample) -> list[Issue]:
    """The placeholders of ``scheme`` that no record of ``sample`` has (nor ``response`` declares)."""
    from ferry.transform.placeholder_check import declared_paths, missing_placeholders
    from ferry.transform.plan import compile_scheme

    return missing_placeholders(
        compile_scheme(scheme),
        rows=sample.rows,
        records=sample.records,
        declared=declared_paths(scheme.source_meta),
    )


def _not_checked(sample: Sample) -> str:
    if sample.origin == "ledger":
        return "the ledger holds no row of this scheme yet; sample the live source instead"
    walk = sample.walk
    asked = walk.describe_empty() if walk is not None else ""
    return f"no records in the windows asked ({asked}); choose a window with records"


def print_placeholder_warnings(name: str, scheme: Scheme, sample: Sample) -> list[Issue]:
    """Print ``WARNING name: ...`` and each placeholder no sampled record has (or that none
    could be checked); returns the warnings."""
    if not sample.records:
        echo(f"NOT CHECKED {name}: placeholders: {redact(_not_checked(sample))}", style="yellow")
        return []
    issues = placeholder_warnings(scheme, sample)
    if not issues:
        echo(f"OK {name}: every placeholder is in {sample.describe()}", style="green")
        return []
    count = len(issues)
    echo(
        f"WARNING {name}: {count} placeholder{'s' if count != 1 else ''} in no record of {sample.describe()}",
        style="bold yellow",
    )
    for issue in issues:
        for line in redact(str(issue)).splitlines():
            echo(f"  {line}")
    return issues


def warning_documents(issues: Iterable[Issue]) -> list[dict[str, Any]]:
    """The warnings as JSON-able mappings (``--json``)."""
    return [{"path": i.path, "message": i.message, "hint": i.hint} for i in issues]


def sample_schemes(
    schemes: Iterable[Scheme],
    origin: SampleFrom,
    store: Store | None = None,
    *,
    max_windows: int | None = None,
) -> int:
    """Sample each scheme and print its placeholder warnings; how many could not be sampled
    (each printed with the reason). Without ``store`` the command's store is opened."""
    if store is None:
        with open_store() as opened:
            return sample_schemes(schemes, origin, opened, max_windows=max_windows)
    failed = 0
    for scheme in schemes:
        try:
            sample = take_sample(scheme, store, origin, max_windows=max_windows)
        except FerryError as exc:
            failed += 1
            lines = redact(str(exc)).splitlines() or [""]
            echo(f"SAMPLE FAILED {scheme.id}: {lines[0]}", style="bold red")
            for line in lines[1:]:
                echo(f"  {line.strip()}")
            continue
        print_placeholder_warnings(scheme.id, scheme, sample)
    return failed
