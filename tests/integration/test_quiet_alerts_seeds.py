"""Quiet, true alerts end to end: every seed against the in-process sandbox, as ``ferry demo``
runs them, then one evaluation of the examples' alert rules.

A clean run is never throttled (Ferry paces itself within each vendor's limits) and opens no
incident. A vendor that throttles anyway shows it in ``ferry_api_throttled_total``, and the
throttling answers Ferry waited out are not API errors: no ``api_error_burst``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ferry.observe.alerts import AlertMonitor, list_incidents, load_alert_config
from ferry.observe.metrics import render_metrics
from ferry.sandbox import Faults, Sandbox
from ferry.sandbox.kuaimai import KuaimaiSimulator
from ferry.sandbox.seeds import (
    HISTORY_START,
    RUN_UNTIL,
    SEEDS,
    examples_dir,
    load_seed,
    prepare_sqlite_targets,
    run_seeds,
    sandbox_env,
    sqlite_connections,
)
from ferry.store import Store, open_store

SIZE = 200
"""Records per simulator, as ``ferry demo`` (its default)."""
AFTERSALES = "erp.aftersale.list.query"
BI_WRITES = (("api", "batchexecute"), ("connection", "bi_mysql"))
"""Seed 001's writes into its MySQL target (a SQLite file here): never throttled."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as opened:
        yield opened


class Demo:
    """The seeds against ``sandbox`` into SQLite under ``home``, as ``ferry demo`` runs them."""

    def __init__(
        self,
        store: Store,
        sandbox: Sandbox,
        home: Path,
        seeds: tuple[Any, ...] = SEEDS,
        days: int | None = None,
    ) -> None:
        self.store, self.sandbox, self.seeds = store, sandbox, seeds
        self.since = HISTORY_START if days is None else RUN_UNTIL - timedelta(days=days)
        self.files = prepare_sqlite_targets(home, SIZE)
        self.env = sandbox_env(sandbox)

    def connections(self, seed: Any) -> dict[str, Any]:
        return sqlite_connections(seed, self.files)

    def run(self) -> dict[str, Any]:
        reports = run_seeds(
            self.store,
            sandbox=self.sandbox,
            env=self.env,
            seeds=self.seeds,
            connections=self.connections,
            since=self.since,
        )
        return {seed.key: report for seed, report in reports}

    def evaluate_example_rules(self) -> list[Any]:
        """One evaluation of ``examples/alerts.yaml`` (its channels' variables unset: skipped)."""
        config = load_alert_config(examples_dir() / "alerts.yaml", env={})
        loaded = (
            load_seed(seed, env=self.env, connections=self.connections(seed), since=self.since)
            for seed in self.seeds
        )
        with AlertMonitor(self.store, config, schemes={s.id: s for s in loaded}) as monitor:
            events = monitor.evaluate(datetime.now(UTC))
            assert monitor.rule_errors == {}
        return events


def metric(store: Store, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    body = render_metrics(store)[0].decode()
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == name
    }


def test_a_clean_run_of_every_seed_is_never_throttled_and_opens_no_incident(
    store: Store, tmp_path: Path
) -> None:
    sandbox = Sandbox.default(size=SIZE)
    demo = Demo(store, sandbox, tmp_path)
    reports = demo.run()

    assert set(reports) == {seed.key for seed in SEEDS}
    assert {key: r.status for key, r in reports.items() if r.status != "succeeded"} == {"004": "partial"}
    throttled = {sim.name: sum(1 for c in sim.calls if c.fault == "throttled") for sim in sandbox}
    assert throttled == dict.fromkeys(throttled, 0)
    assert len(sandbox["kuaimai"].calls) > 2 * KuaimaiSimulator.default_rate_per_second  # paced for seconds
    counted = metric(store, "ferry_api_throttled_total")
    assert counted and set(counted.values()) == {0.0}
    assert (("api", AFTERSALES), ("connection", "kuaimai")) in counted
    assert metric(store, "ferry_api_errors_total") == {}

    assert demo.evaluate_example_rules() == []
    assert list_incidents(store) == []


def test_throttling_shows_in_the_throttled_metric_and_opens_no_error_burst(
    store: Store, tmp_path: Path
) -> None:
    # The vendor allows 2 calls a second although the connection paces at its documented 10
    # (12 one-day windows, one call each, keep the run short).
    sandbox = Sandbox({"kuaimai": KuaimaiSimulator(size=SIZE, faults=Faults(rate_per_second=2))})
    demo = Demo(store, sandbox, tmp_path, tuple(seed for seed in SEEDS if seed.key == "001"), days=12)
    [report] = demo.run().values()

    assert report.status == "succeeded", report.error
    answered = sum(1 for c in sandbox["kuaimai"].calls if c.fault == "throttled")
    assert answered >= 5  # enough for the examples' api_error_burst (5 in 10m), were they errors
    kuaimai = (("api", AFTERSALES), ("connection", "kuaimai"))
    assert metric(store, "ferry_api_throttled_total") == {kuaimai: answered, BI_WRITES: 0}
    assert metric(store, "ferry_api_errors_total") == {}
    calls = metric(store, "ferry_api_calls_total")
    assert calls[(("api", AFTERSALES), ("connection", "kuaimai"), ("status", "throttled"))] == answered

    assert [e.rule for e in demo.evaluate_example_rules()] == []
    assert not [i for i in list_incidents(store) if i["rule"] == "api_error_burst"]
