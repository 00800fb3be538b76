"""DELIVER: claim pending ledger rows, map, pack, write, and record every record's result.

A record leaves ``pending`` only with the target's acknowledgement (``finished``) or a
recorded error (invariant 1). Errors climb the scheme's retry ladder (``next_attempt_at``)
and end ``dead`` after the last rung. Rows left ``queued`` by a killed process go back to
``pending`` when the next deliver starts; the target writes are idempotent, so delivering
such a row again is harmless (invariants 2 and 3).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ferry.connectors.base import Outcome, TargetConnector
from ferry.engine.calls import CallLog
from ferry.engine.counts import RunCounts
from ferry.engine.misses import PlaceholderMisses
from ferry.engine.pacing import RateSharing, pacer_for
from ferry.engine.retry import RetryPolicy, call_with_retry
from ferry.errors import ConfigError, Quarantined, RecordError, RetriableError
from ferry.expr import EvalContext, InMemoryLookups
from ferry.scheme.model import Scheme
from ferry.store import Hold, RecordResult, Store, quarantine
from ferry.store.codec import content_hash
from ferry.transform.packing import pack
from ferry.transform.plan import compile_scheme
from ferry.transform.quality import QualityJudge, Verdict, WindowFailed

if TYPE_CHECKING:
    from ferry.store import Handover

__all__ = ["Deliverer", "DueRow", "PreparedBatch"]


class DueRow(Protocol):
    """What delivering reads of a claimed row: a :class:`~ferry.store.LedgerRow`, or a row
    the collector handed over."""

    @property
    def record_id(self) -> str: ...
    @property
    def content(self) -> dict[str, Any]: ...
    @property
    def attempts(self) -> int: ...
    @property
    def window_start(self) -> datetime | None: ...
    @property
    def window_end(self) -> datetime | None: ...


def _already_current(outcomes: Sequence[Outcome]) -> int:
    """How many of ``outcomes`` the target acknowledged as already current."""
    return sum(1 for outcome in outcomes if outcome.ok and outcome.unchanged)


class PreparedBatch:
    """Mapped payloads of one claimed batch, plus the records that failed mapping."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.failures: dict[str, str] = {}
        self.held: dict[str, Hold] = {}
        """Records a quality rule (or a value map raising ``Quarantined``) holds."""
        self.warned = 0
        self.warned_rules: list[str] = []
        """The rules each warned record broke (a rule once per record)."""
        self.stopped: WindowFailed | None = None
        """The first ``fail_window`` verdict of the batch (its record is held too)."""

    def hold(self, record_id: str, verdict: Verdict) -> None:
        """Hold ``record_id`` for ``verdict`` (and stop at the first ``fail_window``)."""
        self.held[record_id] = verdict.first.hold()
        if verdict.action == "fail_window" and self.stopped is None:
            self.stopped = WindowFailed(verdict.first, record_id, "at delivery")

    def held_results(self, run_id: int | None) -> list[RecordResult]:
        """The ``quarantined`` results of the held records."""
        return [
            RecordResult(rid, "quarantined", error=hold.message(), run_id=run_id, hold=hold)
            for rid, hold in self.held.items()
        ]


def _map_row(
    batch: PreparedBatch, record_id: str, map_one: Callable[[EvalContext], Any], ctx: EvalContext
) -> None:
    """Map one row into ``batch``: its payload, its failure, or its hold (a value map with a
    ``quarantine`` policy raises :class:`~ferry.errors.Quarantined`)."""
    try:
        batch.items.append((record_id, map_one(ctx)))
    except RecordError as exc:
        batch.failures[record_id] = exc.reason
    except Quarantined as held:
        batch.held[record_id] = Hold(held.rule, held.path, held.value, held.reason, "target")


def _rules_broken(verdicts: dict[str, Verdict], held: set[str]) -> list[str]:
    """The rules the records that go on (not ``held``) broke, each once per record."""
    return [v.rule for rid, verdict in verdicts.items() if rid not in held for v in verdict.violations]


class Deliverer:
    """Delivers one scheme's pending ledger records to its target."""

    def __init__(
        self,
        scheme: Scheme,
        target: TargetConnector | None,
        store: Store,
        counts: RunCounts,
        *,
        run_id: int | None = None,
        progress: Callable[..., None] | None = None,
        retry: RetryPolicy | None = None,
        lookups: InMemoryLookups | None = None,
        stop: Callable[[], object] | None = None,
        rates: RateSharing | None = None,
        misses: PlaceholderMisses | None = None,
    ) -> None:
        """``stop`` is checked before each batch is claimed; once it returns a true value,
        :meth:`deliver` returns and :attr:`halted` is set (every claimed batch is recorded).
        ``misses`` counts the records mapped and, per target field, those in which a
        placeholder found nothing (:mod:`ferry.engine.misses`)."""
        plan = compile_scheme(scheme).target
        meta = plan.meta
        self.scheme = scheme
        self.meta = meta
        self.target = target
        self.store = store
        self.counts = counts
        self.run_id = run_id
        self.progress = progress or (lambda *a, **k: None)
        self.retry = retry or RetryPolicy()
        self.lookups = lookups or InMemoryLookups(
            store.iter_lookup_rows, default_scheme=scheme.settings.lookup_scheme
        )
        self.mapper = plan.request
        self.misses = PlaceholderMisses() if misses is None else misses
        self._field_names = plan.request.field_names()
        self.options_mapper = plan.other
        self.whole_batch = plan.whole_batch
        self.calls = CallLog(store, scheme.id, run_id, target.name if target is not None else "")
        self._recovered = False
        self.stop = stop
        self.rates = rates
        """Where the target's budget is shared (see :func:`~ferry.engine.pacing.pacer_for`)."""
        self.halted = False
        rules = compile_scheme(scheme).quality.target
        self.judge = QualityJudge(rules, self.lookups, scheme.tz) if rules else None
        """The target ``quality`` rules, judging each mapped payload (:meth:`prepare`)."""
        self._warned = 0
        self._warned_rules: list[str] = []

    # -- mapping (no I/O besides lookups) ---------------------------------------------------

    def prepare(self, rows: Sequence[DueRow], now: datetime) -> PreparedBatch:
        """Map each row to its target payload; a row that fails mapping is recorded, not raised.
        Placeholders that found nothing are counted in :attr:`misses`, once per field and row."""
        batch = PreparedBatch()
        map_one = self.mapper.map
        missed: list[str] = []  # filled only by a placeholder whose path a row lacks
        # One context for the batch, re-pointed at each row (evaluation never keeps it); rows
        # of one collecting window share their variables.
        ctx = EvalContext(row={}, lookups=self.lookups, tz=self.scheme.tz, now=now, missed=missed)
        window: tuple[datetime | None, datetime | None] | None = None
        for row in rows:
            if window is None or row.window_start is not window[0] or row.window_end is not window[1]:
                window = (row.window_start, row.window_end)
                ctx.variables = {
                    "LAST_SYNC_TIME": row.window_start or now,
                    "CURRENT_TIME": row.window_end or now,
                }
            ctx.row = row.content
            _map_row(batch, row.record_id, map_one, ctx)
            if missed:
                self.misses.note(missed, self._field_names)
                missed.clear()
        self.misses.mapped += len(rows)
        self._judge(batch, rows)
        return batch

    def _judge(self, batch: PreparedBatch, rows: Sequence[DueRow]) -> None:
        """Judge the batch's payloads by the target rules: warnings counted, held records taken
        out of the batch, unless an operator released them with this content (as is)."""
        if self.judge is None or not batch.items:
            return
        verdicts = self.judge.judge_all(batch.items)
        bad = self._not_waived({rid for rid, v in verdicts.items() if v.action != "warn"}, rows)
        batch.warned = len(verdicts) - len(bad)
        batch.warned_rules = _rules_broken(verdicts, bad)
        for rid in bad:
            batch.hold(rid, verdicts[rid])
        batch.items = [(rid, payload) for rid, payload in batch.items if rid not in bad]

    def _not_waived(self, bad: set[str], rows: Sequence[DueRow]) -> set[str]:
        """Of the records the rules would hold, those an operator did not release as they are."""
        if not bad:
            return bad
        digests = {row.record_id: content_hash(row.content) for row in rows if row.record_id in bad}
        return bad - quarantine.waived_ids(self.store, self.scheme.id, digests)

    def options(self, now: datetime) -> dict[str, Any]:
        """The connector options: the rendered ``otherRequest``, over vendor-specific top-level
        keys of the metadata that QEasy users write beside ``request`` (K3Cloud's
        ``distributionOrg``); an ``otherRequest`` field wins over a top-level key."""
        ctx = EvalContext(
            row={}, variables={"CURRENT_TIME": now, "LAST_SYNC_TIME": now}, tz=self.scheme.tz, now=now
        )
        top = {**(self.meta.model_extra or {}), "distributionOrg": self.meta.distributionOrg}
        extra = {k: v for k, v in top.items() if isinstance(v, str | int | float | bool) and v != ""}
        return {**extra, **self.options_mapper.map(ctx)}

    def recover(self) -> None:
        """Put rows a dead deliverer left ``queued`` back to ``pending``, once per deliverer
        (before anything is claimed or handed over in this run)."""
        if not self._recovered:
            recovered = self.store.recover_queued(self.scheme.id)
            if recovered:
                self.progress("recovered", records=recovered)
            self._recovered = True

    def skip_recovery(self) -> None:
        """Do not reset ``queued`` rows on the first deliver (someone else already did)."""
        self._recovered = True

    # -- the loop ---------------------------------------------------------------------------

    def deliver(self, now: datetime | None = None, *, max_batches: int | None = None) -> int:
        """Deliver until no row is due (or ``max_batches`` batches were processed); return how
        many batches were delivered."""
        if self.target is None:
            raise ConfigError(f"scheme {self.scheme.id}: no target connection to deliver to")
        self.recover()
        batches = 0
        while max_batches is None or batches < max_batches:
            if self.stop is not None and self.stop():
                self.halted = True
                return batches
            now_at = now or datetime.now(UTC)
            rows = self.store.claim(self.scheme.id, self.scheme.settings.batch_size, now_at)
            if not rows:
                return batches
            self.deliver_rows(rows, now_at)
            batches += 1
        return batches

    def deliver_handed(self, batch: Handover, now: datetime | None = None) -> None:
        """Deliver rows the collector claimed for this deliverer (see :mod:`ferry.engine.hosts`),
        in batches of ``settings.batch_size``. When a stop is asked first, the rows not
        delivered yet go back to ``pending`` and :attr:`halted` is set."""
        if self.target is None:
            raise ConfigError(f"scheme {self.scheme.id}: no target connection to deliver to")
        rows = batch.rows()
        size = self.scheme.settings.batch_size
        start = 0
        try:
            while start < len(rows):
                if self.stop is not None and self.stop():
                    self.halted = True
                    return
                part = rows[start : start + size]
                start += size
                self.deliver_rows(part, now or datetime.now(UTC), batch)
        finally:
            if start < len(rows):  # stopped or failed: the rest waits for a claim, not a restart
                self.give_back([row.record_id for row in rows[start:]])

    def give_back(self, record_ids: Sequence[str]) -> None:
        """Return rows handed to this deliverer that it will not write to ``pending``, counted
        as taken up and still pending."""
        if not record_ids:
            return
        self.counts.add(due=len(record_ids), pending=len(record_ids))
        self.store.release(self.scheme.id, record_ids)

    def deliver_rows(self, rows: Sequence[DueRow], now: datetime, handover: Handover | None = None) -> None:
        """Map, pack, write and record results for already-claimed ``rows`` (``handover``: the
        hand-over they came in, if any, which lets the store record their results faster).

        The rows are counted once their results are recorded; if that never happens (an
        error before), they count as ``pending``: they stay ``queued`` until the next run
        recovers them.
        """
        started = time.monotonic()
        try:
            results, unchanged, fatal = self._deliver(rows, now, handover)
        except BaseException:
            self.counts.add(due=len(rows), pending=len(rows))
            raise
        ended = Counter(result.status for result in results)
        self.counts.add(
            due=len(rows),
            delivered=ended["finished"],
            delivered_unchanged=unchanged,
            failed=ended["error"],
            dead=ended["dead"],
            quarantined=ended["quarantined"],
            warned=self._warned,
            quality_failed=int(isinstance(fatal, WindowFailed)),
        )
        self._count_rules(results, fatal)
        self.progress("deliver", records=len(rows), seconds=time.monotonic() - started, counts=self.counts)
        if fatal is not None:
            raise fatal

    def _count_rules(self, results: Sequence[RecordResult], fatal: Exception | None) -> None:
        """Count the batch's records per quality rule: held, warned, and the rule that stopped it."""
        counts = self.counts
        counts.count_rules(
            "quarantined", (r.hold.rule for r in results if r.status == "quarantined" and r.hold)
        )
        counts.count_rules("warned", self._warned_rules)
        if isinstance(fatal, WindowFailed):
            counts.count_rules("failed", [fatal.violation.rule])

    def _deliver(
        self, rows: Sequence[DueRow], now: datetime, handover: Handover | None
    ) -> tuple[list[RecordResult], int, Exception | None]:
        """Write ``rows`` and record their results: (results, how many were already current,
        the error that made the target unavailable, if any)."""
        attempts = {row.record_id: row.attempts for row in rows}
        batch = self.prepare(rows, now)
        self._warned, self._warned_rules = batch.warned, batch.warned_rules
        results: list[RecordResult] = [
            self._failed(rid, attempts[rid], why, now) for rid, why in batch.failures.items()
        ]
        results += batch.held_results(self.run_id)
        deliveries = pack(
            self.meta.operation,
            self.meta.api,
            self.meta.method,
            batch.items,
            self.options(now),
            whole_batch=self.whole_batch,
            on_no_match=self.scheme.settings.on_no_match,
        )
        fatal: Exception | None = batch.stopped
        self.halted = self.halted or fatal is not None  # fail_window: nothing more this run
        unchanged = 0
        for i, delivery in enumerate(deliveries):
            try:
                outcomes = self._write(delivery)
            except RetriableError as exc:
                # The target stays unavailable: this and every later delivery of the batch
                # gets an error on the ladder; the run reports it and stops delivering.
                for rest in deliveries[i:]:
                    reason = f"target unavailable after {self.retry.attempts} attempts: {exc}"
                    results += [self._failed(rid, attempts[rid], reason, now) for rid in rest.record_ids]
                fatal = fatal or exc
                break
            results += [self._result(o, attempts.get(o.record_id, 0), now) for o in outcomes]
            unchanged += _already_current(outcomes)
        calls = self.calls.take()  # stored with the results: one write turn per batch
        self.store.record_results(self.scheme.id, results, calls, handover=handover)
        return results, unchanged, fatal

    def _write(self, delivery: Any) -> Sequence[Outcome]:
        target = self.target
        assert target is not None

        def on_retry(attempt: int, exc: Exception) -> None:
            self.counts.retries += 1
            self.progress("retry", attempt=attempt, error=str(exc))

        pacer = pacer_for(target, target.limits, self.store, self.rates)

        def write() -> Sequence[Outcome]:
            return pacer.run(lambda: self.calls.timed(delivery.api, lambda: target.write(delivery), len))

        outcomes = call_with_retry(write, self.retry, on_retry=on_retry)
        seen = {o.record_id for o in outcomes}
        missing = [rid for rid in delivery.record_ids if rid not in seen]
        if missing:  # a connector must answer for every record; never let one vanish
            outcomes = list(outcomes) + [
                Outcome(rid, ok=False, error="target connector returned no result for this record")
                for rid in missing
            ]
        return outcomes

    def _result(self, outcome: Outcome, attempts: int, now: datetime) -> RecordResult:
        if outcome.ok:
            return RecordResult(outcome.record_id, "finished", response=outcome.response, run_id=self.run_id)
        return self._failed(
            outcome.record_id, attempts, outcome.error or "rejected by target", now, outcome.response
        )

    def _failed(
        self, record_id: str, attempts: int, reason: str, now: datetime, response: Any = None
    ) -> RecordResult:
        ladder = self.scheme.settings.retry
        if attempts + 1 > len(ladder):
            return RecordResult(record_id, "dead", response=response, error=reason, run_id=self.run_id)
        return RecordResult(
            record_id,
            "error",
            response=response,
            error=reason,
            next_attempt_at=now + ladder[attempts],
            run_id=self.run_id,
        )
