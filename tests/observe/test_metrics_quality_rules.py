"""``ferry_run_rule_records_total``: per scheme and quality rule, what finished runs counted
(warned, quarantined, quality_failed), summing to the run buckets of the same names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from observe_helpers import FakeSource, FakeTarget, add_run
from test_metrics import NOW, scrape, value

from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.scheme.loader import load_scheme
from ferry.store import Store, open_store

RULES = "ferry_run_rule_records_total"


@pytest.mark.parametrize("db", ["sqlite", "mariadb", "postgres"])
def test_rule_counts_are_summed_per_scheme_rule_and_bucket(db: str, request: pytest.FixtureRequest) -> None:
    t0 = datetime(2024, 5, 3, 4, 0, tzinfo=UTC)
    rules = {"qty-min": {"warned": 0, "quarantined": 2, "failed": 1}, "map:shops": {"quarantined": 1}}
    with open_store(request.getfixturevalue(f"{db}_url")) as store:
        add_run(store, "s1", "succeeded", t0, counts={"due": 3, "quarantined": 3, "quality_rules": rules})  # type: ignore[dict-item]
        add_run(
            store,
            "s1",
            "failed",
            t0,
            counts={"due": 1, "quarantined": 1, "quality_rules": {"qty-min": {"quarantined": 1}}},
        )  # type: ignore[dict-item]
        add_run(store, "s1", "running", t0, None, counts={"quality_rules": {"qty-min": {"quarantined": 9}}})  # type: ignore[dict-item]
        add_run(store, "s2", "succeeded", t0, counts={"due": 1, "delivered": 1, "quality_rules": {}})  # type: ignore[dict-item]
        samples = scrape(store)
    assert value(samples, RULES, scheme="s1", rule="qty-min", bucket="quarantined") == 3
    assert value(samples, RULES, scheme="s1", rule="qty-min", bucket="quality_failed") == 1
    assert value(samples, RULES, scheme="s1", rule="qty-min", bucket="warned") == 0
    assert value(samples, RULES, scheme="s1", rule="map:shops", bucket="quarantined") == 1
    assert not [key for key in samples if key[0] == RULES and ("scheme", "s2") in key[1]]


def test_a_real_run_counts_each_rule_and_the_rules_sum_to_the_run_buckets(store: Store) -> None:
    scheme = load_scheme(
        {
            "id": "orders",
            "name": "orders",
            "source": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {"api": "/orders", "effect": "QUERY", "id": "id", "request": []},
            },
            "target": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {
                    "api": "save",
                    "effect": "EXECUTE",
                    "request": [{"field": "qty", "value": "{qty}"}],
                },
            },
            "window": {"start": "2024-05-03 00:00:00", "step": "1d"},
            "quality": {
                "source": [{"name": "qty-min", "field": "qty", "range": {"min": 0}, "action": "quarantine"}],
                "target": [{"name": "qty-small", "field": "qty", "range": {"max": 5}, "action": "warn"}],
            },
        }
    )
    records = [{"id": i, "qty": q} for i, q in enumerate([1, -1, 7, -2, 9, 3])]
    report = run_scheme(
        scheme, store, now=NOW, source=FakeSource(records), target=FakeTarget(), retry=RetryPolicy(attempts=1)
    )
    assert report.status == "succeeded", report.error
    samples = scrape(store)
    assert value(samples, RULES, scheme="orders", rule="qty-min", bucket="quarantined") == 2
    assert value(samples, RULES, scheme="orders", rule="qty-small", bucket="warned") == 2
    held = sum(
        v for (name, labels), v in samples.items() if name == RULES and ("bucket", "quarantined") in labels
    )
    assert held == value(samples, "ferry_run_records_total", scheme="orders", bucket="quarantined") == 2
    assert value(samples, "ferry_run_records_total", scheme="orders", bucket="warned") == 2
