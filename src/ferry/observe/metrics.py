"""Prometheus metrics read from the store at scrape time, so every process's work is counted.

:func:`render_metrics` answers ``GET /metrics``. Nothing is counted in memory: each scrape runs
a handful of aggregate queries (:mod:`ferry.store.reports`) in one read transaction, so a scrape is right whichever process
collected, delivered or called the APIs, and survives restarts. The ledger is read only through
its ``ix_ledger_due`` index (``GROUP BY scheme_id, status``); run durations and API latencies are
bucketed in SQL. A throttling answer (the vendor's "slow down", waited out and retried) is a
call with status ``throttled``: counted in ``ferry_api_throttled_total``, never in
``ferry_api_errors_total``.

=========================================  =========  ========================================
metric                                      type       labels
=========================================  =========  ========================================
``ferry_store_up``                          gauge      (1 when the store answered this scrape)
``ferry_scheme_enabled``                    gauge      scheme
``ferry_ledger_records``                    gauge      scheme, status
``ferry_pending_queue_depth``               gauge      scheme (pending + queued + error due)
``ferry_dead_letters``                      gauge      scheme
``ferry_quarantined_records``               gauge      scheme (held by quality rules)
``ferry_runs_total``                        counter    scheme, kind, status (finished runs)
``ferry_runs_running``                      gauge      scheme, kind
``ferry_run_duration_seconds``              histogram  scheme, kind (finished runs)
``ferry_run_records_total``                 counter    scheme, bucket (a run count, summed)
``ferry_run_rule_records_total``            counter    scheme, rule, bucket (warned, quarantined,
                                                       quality_failed: per quality rule, summed)
``ferry_last_success_timestamp_seconds``    gauge      scheme, kind
``ferry_api_calls_total``                   counter    connection, api, status
``ferry_api_errors_total``                  counter    connection, api, code
``ferry_api_records_total``                 counter    connection, api
``ferry_api_latency_seconds``               histogram  connection, api
``ferry_alerts_open``                       gauge      rule
=========================================  =========  ========================================
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from ferry.engine.counts import SHOWN_COUNTS
from ferry.errors import FerryError
from ferry.store import RECORD_STATUSES, quality_report, reports

if TYPE_CHECKING:
    from ferry.store import Store

__all__ = [
    "API_LATENCY_BUCKETS",
    "RECORD_BUCKETS",
    "RULE_BUCKETS",
    "RUN_DURATION_BUCKETS",
    "StoreCollector",
    "render_metrics",
]

RUN_DURATION_BUCKETS: tuple[float, ...] = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)
"""Upper bounds (seconds) of the run duration histogram."""
API_LATENCY_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
"""Upper bounds (seconds) of the API latency histogram."""

RECORD_BUCKETS: tuple[str, ...] = tuple(
    name for name in SHOWN_COUNTS if name not in ("windows", "pages", "retries", "verified", "recovered")
)
"""The run counts ``ferry_run_records_total`` sums, one ``bucket`` label each, named as the run
record names them (:mod:`ferry.engine.counts`: ``fetched + flattened`` = the collect buckets,
``due`` = the deliver buckets)."""


RULE_BUCKETS: dict[str, str] = {"warned": "warned", "quarantined": "quarantined", "failed": "quality_failed"}
"""The per-rule counts of a run (:attr:`RunCounts.quality_rules`) and the ``bucket`` label each
has in ``ferry_run_rule_records_total`` (named as in ``ferry_run_records_total``)."""


def _histogram_buckets(counts: Sequence[Any], bounds: Sequence[float], total: int) -> list[tuple[str, float]]:
    return [
        *((floatToGoString(b), float(c or 0)) for b, c in zip(bounds, counts, strict=True)),
        ("+Inf", float(total)),
    ]


def _counter(name: str, doc: str, labels: list[str], values: dict[tuple[str, str, str], int]) -> Metric:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key in sorted(values):
        family.add_metric(list(key), values[key])
    return family


class StoreCollector(Collector):
    """A prometheus_client collector over a :class:`~ferry.store.Store` (see the module table).

    ``now`` (default: the wall clock, UTC) decides which ``error`` records are due.
    """

    def __init__(self, store: Store, now: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self._now = now or (lambda: datetime.now(UTC))

    def describe(self) -> list[Metric]:
        """Nothing up front: the families depend on the store's content."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Query the store once and yield every family; ``ferry_store_up 0`` if it cannot be read."""
        up = GaugeMetricFamily("ferry_store_up", "1 if the store could be read for this scrape, else 0.")
        started = time.perf_counter()
        try:
            with self.store.transaction() as conn:
                families = [
                    *self._schemes(conn),
                    *self._ledger(conn),
                    *self._runs(conn),
                    *self._api_calls(conn),
                    *self._alerts(conn),
                ]
        except FerryError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families
        took = GaugeMetricFamily(
            "ferry_metrics_scrape_seconds", "Seconds the store queries of this scrape took."
        )
        took.add_metric([], round(time.perf_counter() - started, 6))
        yield took

    def _schemes(self, conn: sa.Connection) -> list[Metric]:
        enabled = GaugeMetricFamily("ferry_scheme_enabled", "1 if the scheme is enabled.", labels=["scheme"])
        for sid, on in reports.scheme_flags(conn).items():
            enabled.add_metric([sid], 1 if on else 0)
        return [enabled]

    def _ledger(self, conn: sa.Connection) -> list[Metric]:
        by_scheme: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(RECORD_STATUSES, 0))
        due_errors: dict[str, int] = defaultdict(int)
        for sid, status, count, due_count in reports.ledger_counts(conn, self._now()):
            by_scheme[sid][status] = count
            due_errors[sid] += due_count
        records = GaugeMetricFamily(
            "ferry_ledger_records", "Ledger records by scheme and status.", labels=["scheme", "status"]
        )
        depth = GaugeMetricFamily(
            "ferry_pending_queue_depth",
            "Records waiting for delivery: pending + queued + error rows due for a retry.",
            labels=["scheme"],
        )
        dead = GaugeMetricFamily("ferry_dead_letters", "Dead records (replay them).", labels=["scheme"])
        held = GaugeMetricFamily(
            "ferry_quarantined_records",
            "Records held by data-quality rules (ferry quarantine list).",
            labels=["scheme"],
        )
        for sid in sorted(by_scheme):
            counts = by_scheme[sid]
            for status in sorted(counts):
                records.add_metric([sid, status], counts[status])
            depth.add_metric([sid], counts.get("pending", 0) + counts.get("queued", 0) + due_errors[sid])
            dead.add_metric([sid], counts.get("dead", 0))
            held.add_metric([sid], counts.get("quarantined", 0))
        return [records, depth, dead, held]

    def _runs(self, conn: sa.Connection) -> list[Metric]:
        total = CounterMetricFamily(
            "ferry_runs", "Finished runs by scheme, kind and status.", labels=["scheme", "kind", "status"]
        )
        running = GaugeMetricFamily("ferry_runs_running", "Runs in progress.", labels=["scheme", "kind"])
        for sid, kind, status, count in reports.run_counts(conn):
            if status == "running":
                running.add_metric([sid, kind], count)
            else:
                total.add_metric([sid, kind, status], count)
        durations = HistogramMetricFamily(
            "ferry_run_duration_seconds", "Duration of finished runs.", labels=["scheme", "kind"]
        )
        for sid, kind, count, sum_s, bucket_counts in reports.run_durations(conn, RUN_DURATION_BUCKETS):
            buckets = _histogram_buckets(bucket_counts, RUN_DURATION_BUCKETS, count)
            durations.add_metric([sid, kind], buckets, sum_s)
        last = GaugeMetricFamily(
            "ferry_last_success_timestamp_seconds",
            "When the last succeeded or partial run finished (Unix time).",
            labels=["scheme", "kind"],
        )
        for sid, kind, finished in reports.last_successes(conn):
            last.add_metric([sid, kind], finished.timestamp())
        return [total, running, durations, last, self._run_records(conn), self._rule_records(conn)]

    def _run_records(self, conn: sa.Connection) -> Metric:
        records = CounterMetricFamily(
            "ferry_run_records",
            "Records counted by finished runs, per accounting bucket (fetched + flattened = filtered_out + "
            "no_id + repeated + unchanged + new + changed; due = delivered + failed + dead + quarantined + "
            "pending; warned and quality_failed count quality rules).",
            labels=["scheme", "bucket"],
        )
        for sid, values in reports.run_count_sums(conn, RECORD_BUCKETS):
            for name, total in zip(RECORD_BUCKETS, values, strict=True):
                records.add_metric([sid, name], float(total))
        return records

    def _rule_records(self, conn: sa.Connection) -> Metric:
        records = CounterMetricFamily(
            "ferry_run_rule_records",
            "Records counted by finished runs per quality rule (a value map's rule is map:<table>, schema "
            "drift's schema_drift): warned (went on though they broke it), quarantined (held by it; the "
            "rules sum to the quarantined bucket of ferry_run_records_total), quality_failed (windows "
            "and batches it stopped).",
            labels=["scheme", "rule", "bucket"],
        )
        for (sid, rule), kinds in sorted(quality_report.rule_totals(conn).items()):
            for kind, bucket in RULE_BUCKETS.items():
                records.add_metric([sid, rule, bucket], float(kinds[kind]))
        return records

    def _api_calls(self, conn: sa.Connection) -> list[Metric]:
        groups = reports.api_call_groups(conn, [b * 1000 for b in API_LATENCY_BUCKETS])
        calls: dict[tuple[str, str, str], int] = defaultdict(int)
        errors: dict[tuple[str, str, str], int] = defaultdict(int)
        throttled: dict[tuple[str, str], int] = defaultdict(int)
        records: dict[tuple[str, str], int] = defaultdict(int)
        latency: dict[tuple[str, str], list[float]] = {}
        width = len(API_LATENCY_BUCKETS)
        for connection, api, status, code, count, recs, timed, sum_ms, *bucket_counts in groups:
            calls[(connection, api, status)] += count
            records[(connection, api)] += recs
            if status == "error":
                errors[(connection, api, code or "unknown")] += count
            elif status == "throttled":
                throttled[(connection, api)] += count
            acc = latency.setdefault((connection, api), [0.0] * (width + 2))
            acc[0] += timed
            acc[1] += sum_ms / 1000
            for i, value in enumerate(bucket_counts):
                acc[2 + i] += value
        return [
            _counter(
                "ferry_api_calls", "Vendor API calls (each attempt).", ["connection", "api", "status"], calls
            ),
            _counter(
                "ferry_api_errors", "Failed API calls by error code.", ["connection", "api", "code"], errors
            ),
            *self._per_api(records, throttled, latency),
        ]

    @staticmethod
    def _per_api(
        records: dict[tuple[str, str], int],
        throttled: dict[tuple[str, str], int],
        latency: dict[tuple[str, str], list[float]],
    ) -> list[Metric]:
        """The families with one series per connection and API (every API that was called)."""
        throttled_f = CounterMetricFamily(
            "ferry_api_throttled",
            "API calls the vendor answered with its rate limit (waited out and retried; not errors).",
            labels=["connection", "api"],
        )
        records_f = CounterMetricFamily(
            "ferry_api_records", "Records the API calls returned or took.", labels=["connection", "api"]
        )
        latency_f = HistogramMetricFamily(
            "ferry_api_latency_seconds", "API call latency.", labels=["connection", "api"]
        )
        for pair in sorted(records):
            throttled_f.add_metric(list(pair), throttled[pair])
            records_f.add_metric(list(pair), records[pair])
            timed, sum_s, *bucket_counts = latency[pair]
            latency_f.add_metric(
                list(pair), _histogram_buckets(bucket_counts, API_LATENCY_BUCKETS, int(timed)), sum_s
            )
        return [throttled_f, records_f, latency_f]

    def _alerts(self, conn: sa.Connection) -> list[Metric]:
        family = GaugeMetricFamily("ferry_alerts_open", "Open alert incidents by rule.", labels=["rule"])
        for rule, count in reports.open_alerts(conn):
            family.add_metric([rule], count)
        return [family]


def render_metrics(store: Store, *, now: Callable[[], datetime] | None = None) -> tuple[bytes, str]:
    """The Prometheus exposition of ``store``'s metrics: ``(body, content_type)`` for ``/metrics``.

    Never raises for an unreachable store: the body then says ``ferry_store_up 0``.
    """
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, now))
    return generate_latest(registry), CONTENT_TYPE_LATEST
