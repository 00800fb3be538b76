"""Schema drift: each source page's fields and types against what the scheme's source sent before.

The scheme's first run learns its fingerprint (:mod:`ferry.engine.fingerprint`: paths, types,
presence counts), stored per scheme (:mod:`ferry.store.drift`). From then on each page is
fingerprinted before it is stored, and a field that appears, disappears from the whole page
(a field that was already sometimes absent never counts) or takes a new type is a drift event,
handled by ``settings.schema_drift``:

============  ==========================================================================
policy        what happens
============  ==========================================================================
ignore        nothing anyone sees; the fingerprint learns the change
warn          a drift event (stored once per change), a run event, the console's
              "schema drift" badge and the ``schema_drift`` alert; the page is delivered and
              the fingerprint learns the change, so the next page is quiet
quarantine    the event, and every record that shows the change is held with a
              :class:`~ferry.errors.Quarantined` reason (:func:`quarantine_records`); the
              others are delivered; the fingerprint does not learn it
fail          the event, and the window fails before the page is stored: its cursor stays,
              the run fails saying why; the next run reads the window again
============  ==========================================================================

Open events stay until ``ferry drift accept SCHEME`` (:func:`accept_fingerprint`): the
changes become part of the known fingerprint (a new field as always present, a vanished one
forgotten, a new type allowed), the badge goes and the alert recovers. Under ``quarantine`` and
``fail`` that is what lets the next run through.

Cost: a page is fingerprinted over a spread sample of :data:`SAMPLE` records (a few hundred
microseconds); only a page whose sample drifted is walked whole, to confirm it and to find the
records that show it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ferry.engine.fingerprint import Change, Fingerprint, compare, record_paths, shows, type_mask
from ferry.errors import FatalError, FerryError, Quarantined
from ferry.expr.paths import resolve_path
from ferry.store import Hold
from ferry.store import drift as stored

if TYPE_CHECKING:
    from ferry.engine.dead_letters import Row
    from ferry.engine.events import RunLog
    from ferry.engine.windows import Window
    from ferry.store import Store

__all__ = ["POLICIES", "RULE", "SAMPLE", "DriftWatch", "accept_fingerprint", "quarantine_records"]

POLICIES = ("ignore", "warn", "quarantine", "fail")
RULE = "schema_drift"
"""The rule name a held record's :class:`~ferry.errors.Quarantined` carries."""
SAMPLE = 32
"""Records of a page fingerprinted first (spread over the page, first and last included)."""
SAVE_EVERY = 20
"""Pages between two saves of the learnt counts (and at each window's last page)."""
Held = dict[int, Quarantined]
"""Records to hold, by ``id()`` of the record object, with why."""


def _sample(records: Sequence[Any]) -> list[Any]:
    if len(records) <= SAMPLE:
        return list(records)
    step = (len(records) - 1) / (SAMPLE - 1)
    return [records[round(i * step)] for i in range(SAMPLE)]


def quarantine_records(rows: Sequence[Row], held: Quarantined) -> dict[str, Hold]:
    """The holds of the ledger ``rows`` of a record schema drift holds: stored ``quarantined``
    under their own ids, with the rule (``schema_drift``), the field, what it became and why,
    until an operator releases, edits or drops them (``ferry quarantine``)."""
    hold = Hold(held.rule, held.path, held.value, held.reason, "source")
    return {row_id: hold for row_id, _, _ in rows}


class DriftWatch:
    """Checks each page of one scheme's run against its known fingerprint (module docstring).

    Args:
        scheme_id: The scheme.
        policy: ``settings.schema_drift``.
        id_field: The scheme's ``id`` path, to name a record that shows a change.
        store: Where the fingerprint and the events are kept.
        run_id: The run, for its events.
        log: The run's log (one event per change and run).
    """

    def __init__(
        self,
        scheme_id: str,
        policy: str,
        id_field: str | None,
        store: Store,
        *,
        run_id: int | None = None,
        log: RunLog | None = None,
    ) -> None:
        self.scheme_id, self.policy, self.id_field, self.store = scheme_id, policy, id_field, store
        self.run_id, self.log = run_id, log
        self.known: Fingerprint | None = None
        self.learning = False
        """The scheme had no fingerprint when this run started: every page is learnt."""
        self._unsaved = 0
        self._told: set[Change] = set()

    def _load(self) -> Fingerprint:
        if self.known is None:
            data = stored.load_fingerprint(self.store, self.scheme_id)
            self.learning = data is None
            self.known = Fingerprint() if data is None else Fingerprint.from_dict(data)
        return self.known

    def check(self, records: Sequence[Any], window: Window, *, last: bool = False) -> Held:
        """Fingerprint one fetched page; returns the records to hold (``quarantine``).

        Raises:
            FatalError: The page drifted and the policy is ``fail``.
        """
        known = self._load()
        page = Fingerprint.of(_sample(records))
        if not self.learning and compare(known, page):
            page = Fingerprint.of(records)  # the rare path: the whole page, to confirm and to show
            changes = compare(known, page)
            if changes:
                return self._drifted(records, page, changes, window)
        self._learn(structural=known.merge(page), last=last)
        return {}

    def _learn(self, *, structural: bool, last: bool) -> None:
        """Save the known fingerprint now and then: when it grew, every :data:`SAVE_EVERY` pages
        and with a window's last page (counts lost by a crash only delay learning)."""
        self._unsaved += 1
        if structural or last or self._unsaved >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        """Store the known fingerprint (a store error is not the run's: it is tried again later)."""
        if self.known is None or not self.known.records:
            return
        try:
            stored.save_fingerprint(self.store, self.scheme_id, self.known.as_dict(), datetime.now(UTC))
        except FerryError:
            return
        self._unsaved = 0

    def _drifted(
        self, records: Sequence[Any], page: Fingerprint, changes: list[Change], window: Window
    ) -> Held:
        assert self.known is not None
        if self.policy == "ignore":
            self.known.merge(page)
            self.save()
            return {}
        held, first = self._showing(records, changes)
        self._record(changes, first, window)
        if self.policy == "fail":
            raise FatalError(self._failure(changes, window))
        if self.policy == "warn":
            self.known.merge(page)
            self.save()
            return {}
        return held

    def _showing(
        self, records: Sequence[Any], changes: list[Change]
    ) -> tuple[Held, dict[Change, str | None]]:
        """The records that show a change (each with its first one) and each change's first record id."""
        assert self.known is not None
        held: Held = {}
        first: dict[Change, str | None] = {}
        for record in records:
            if not isinstance(record, Mapping):
                continue
            paths = record_paths(record)
            for change in changes:
                value = shows(paths, self.known, change)
                if value is None:
                    continue
                rid = self._record_id(record)
                first.setdefault(change, rid)
                if id(record) not in held:
                    reason = f"schema drift: {change.describe()}"
                    held[id(record)] = Quarantined(RULE, change.field, value, reason, record_id=rid)
        return held, first

    def _record_id(self, record: Mapping[str, Any]) -> str | None:
        if not self.id_field:
            return None
        try:
            value = resolve_path(record, self.id_field)
        except FerryError:
            return None
        return None if value is None else str(value)

    def _record(self, changes: list[Change], first: dict[Change, str | None], window: Window) -> None:
        events = [
            stored.DriftEvent(
                c.field,
                c.change,
                c.before,
                c.after,
                first.get(c),
                self.policy,
                self.run_id,
                (window.start, window.end),
            )
            for c in changes
        ]
        with contextlib.suppress(FerryError):  # the store is busy: the event is lost, the policy holds
            stored.record_drift(self.store, self.scheme_id, events, datetime.now(UTC))
        self._tell(changes, first, window)

    def _tell(self, changes: list[Change], first: dict[Change, str | None], window: Window) -> None:
        """One run event per change and run."""
        new = [c for c in changes if c not in self._told]
        if self.log is None or not new:
            return
        self._told.update(new)
        what = "; ".join(f"{c.describe()} (e.g. record {first.get(c) or '?'})" for c in new)
        then = {
            "warn": "delivered; the new fields are learnt",
            "quarantine": "the records that show it are held",
            "fail": "the window fails; its cursor stays",
        }[self.policy]
        self.log.warning(
            f"schema drift in window {window}: {what}; settings.schema_drift is {self.policy}: {then}; "
            f"see `ferry drift show {self.scheme_id}`, accept with `ferry drift accept {self.scheme_id}`"
        )

    def _failure(self, changes: list[Change], window: Window) -> str:
        fields = "; ".join(c.describe() for c in changes[:10])
        more = f" (and {len(changes) - 10} more)" if len(changes) > 10 else ""
        return (
            f"schema drift in window {window} of scheme {self.scheme_id}: {fields}{more}; "
            "settings.schema_drift is fail, so the window's cursor stays where it was. "
            f"Accept the new fields with `ferry drift accept {self.scheme_id}`, or set "
            "settings.schema_drift to warn or quarantine"
        )


def _accept_one(known: Fingerprint, event: Mapping[str, Any]) -> None:
    """Make one drift event part of ``known``: a new field always present from now, a vanished
    one forgotten (with what was under it), a new type allowed."""
    path, after = str(event["field"]), type_mask(event.get("after"))
    if event["change"] == "disappeared":
        for name in [p for p in known.fields if p == path or p.startswith((path + ".", path + "[]"))]:
            del known.fields[name]
        return
    stats = known.fields.get(path)
    if stats is None:
        known.fields[path] = stats = [after, 0, 0]
    stats[0] |= after
    stats[1] = max(stats[1], known.parent_count(path))


def accept_fingerprint(
    fingerprint: Mapping[str, Any] | None, events: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The known fingerprint with ``events`` accepted (the function ``ferry drift accept`` gives
    :func:`ferry.store.drift.accept_drift`)."""
    known = Fingerprint() if fingerprint is None else Fingerprint.from_dict(fingerprint)
    for event in events:
        _accept_one(known, event)
    return known.as_dict()
