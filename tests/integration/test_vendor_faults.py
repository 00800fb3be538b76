"""Every vendor source under each error class, through a whole run of its example scheme.

For each of the six vendors the example scheme that reads it is collected (into the ledger)
once cleanly and once with a fault; the faulty run must end with exactly the same ledger ids
and show the retries it needed. Wrong credentials end the run with exit code 2 and a message
naming the connection and quoting the vendor, never the secret.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.sandbox import Faults, Sandbox, world
from ferry.sandbox.seeds import RUN_UNTIL, SEEDS, load_seed, sandbox_env
from ferry.store import open_store

SIZE = 40
PAGE = 5
SINCE = world.ANCHOR - timedelta(days=6)
FAST = RetryPolicy(attempts=10, base_delay=0.001, max_delay=0.01)
SEED = {seed.key: seed for seed in SEEDS}

VENDORS = {
    # simulator: (scheme reading it, connection label, secret variable)
    "k3cloud": ("k3cloud-saleorders", "kingdee_k3cloud connection 'k3cloud'", "K3CLOUD_APP_SECRET"),
    "kis": ("kis-material", "kingdee_kis connection 'kis'", "KIS_CLIENT_SECRET"),
    "jushuitan": ("002", "jushuitan connection 'jushuitan'", "JST_APP_SECRET"),
    "wangdiantong": ("003", "wangdiantong connection 'wdt_qimen'", "WDT_QIMEN_APP_SECRET"),
    "kuaimai": ("001", "kuaimai connection 'kuaimai'", "KUAIMAI_APP_SECRET"),
    "okki": ("004", "okki connection 'okki'", "OKKI_CLIENT_SECRET"),
}


def collect(
    tmp_path: Path, vendor: str, faults: Faults | None = None, **env_changes: str
) -> tuple[Any, set[str], Any]:
    """Collect ``vendor``'s scheme once; returns (report, ledger ids, simulator)."""
    key = VENDORS[vendor][0]
    sandbox = Sandbox.default(size=SIZE, faults=faults, only=[vendor])
    unused = f"sqlite:///{tmp_path / 'unused-target.db'}"  # collect only: the SQL targets stay idle
    env = {**sandbox_env(sandbox), "MOM_MYSQL_URL": unused, "BI_MYSQL_URL": unused, **env_changes}
    connections = None
    if vendor == "kuaimai":  # a KuaiMai session can only be renewed with the refresh token
        import yaml

        from ferry.sandbox.kuaimai import KuaimaiSimulator

        raw = yaml.safe_load(SEED[key].path.with_name("connections.yaml").read_text(encoding="utf-8"))
        raw["kuaimai"]["refresh_token"] = KuaimaiSimulator.REFRESH_TOKEN
        connections = raw
    # JuShuiTan pages 7-day windows of a filtered set: give it the whole history to page through
    since = world.ANCHOR - world.SPAN if vendor == "jushuitan" else SINCE
    scheme = load_seed(SEED[key], env=env, connections=connections, since=since)
    scheme.settings = scheme.settings.model_copy(update={"page_size": PAGE})  # more calls, more chances
    db = tmp_path / f"{vendor}-{len(list(tmp_path.iterdir()))}.db"
    with open_store(f"sqlite:///{db}") as store:
        report = run_scheme(
            scheme,
            store,
            deliver=False,
            now=RUN_UNTIL.replace(tzinfo=scheme.tz),
            transport=sandbox.transport(),
            retry=FAST,
        )
        ids = {row.record_id for row in store.find_records(scheme.id, limit=100_000)}
    return report, ids, sandbox[vendor]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    out = {}
    for vendor in VENDORS:
        report, ids, _ = collect(tmp_path_factory.mktemp(vendor), vendor)
        assert report.status == "succeeded", (vendor, report.error)
        assert ids, vendor
        out[vendor] = ids
    return out


@pytest.mark.parametrize("vendor", VENDORS)
def test_5xx_and_timeouts_are_retried_until_every_record_is_collected(
    vendor: str, clean: dict[str, set[str]], tmp_path: Path
) -> None:
    report, ids, sim = collect(
        tmp_path, vendor, Faults(error_rate=0.3, seed=4, rate_per_second=0, rate_per_minute=0)
    )
    assert report.status == "succeeded", report.error
    assert ids == clean[vendor]
    injected = sum(1 for c in sim.calls if c.fault in ("5xx", "timeout"))
    assert injected > 0 and report.counts.retries >= injected


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_expired_token_or_session_is_renewed_and_nothing_is_lost(
    vendor: str, clean: dict[str, set[str]], tmp_path: Path
) -> None:
    faults = Faults(token_expiry_calls=2, rate_per_second=0, rate_per_minute=0)
    report, ids, sim = collect(tmp_path, vendor, faults)
    assert report.status == "succeeded", report.error
    assert ids == clean[vendor]
    renewals = [c for c in sim.calls if "token" in c.api.lower() or "login" in c.api.lower()]
    if vendor == "wangdiantong":
        assert renewals == []  # its app secret signs every call; there is no token to expire
    else:
        assert len(renewals) >= 2, [c.api for c in sim.calls]


@pytest.mark.parametrize("vendor", VENDORS)
def test_throttling_answers_are_waited_out_and_nothing_is_lost(
    vendor: str, clean: dict[str, set[str]], tmp_path: Path
) -> None:
    report, ids, sim = collect(tmp_path, vendor, Faults(rate_per_second=2, rate_per_minute=0))
    assert report.status == "succeeded", report.error
    assert ids == clean[vendor]
    throttled = sum(1 for c in sim.calls if c.fault == "throttled")
    assert throttled > 0 and report.counts.retries >= throttled


@pytest.mark.parametrize("vendor", VENDORS)
def test_wrong_credentials_fail_the_run_with_exit_2_naming_the_connection(
    vendor: str, tmp_path: Path
) -> None:
    _, label, variable = VENDORS[vendor]
    wrong = "wrong-secret-value-0000"
    report, ids, sim = collect(tmp_path, vendor, **{variable: wrong})
    assert report.exit_code == 2 and report.status == "invalid", (report.status, report.error)
    assert label in report.error
    assert wrong not in report.error
    assert ids == set()
    assert len(sim.calls) <= 2, "a rejected credential is never retried"


BODIES = {
    "html": b"<html><head><title>502</title></head><body>nginx upstream error</body></html>",
    "cut-json": b'{"code": 0, "data": {"list": [{"id": 1,',
    "empty-object": b"{}",
    "null": b"null",
}


@pytest.mark.parametrize("body", BODIES, ids=str)
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_malformed_answer_is_a_classified_error_quoting_the_body(
    vendor: str, body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ferry.sandbox._simulator.MALFORMED", (BODIES[body],))
    report, ids, _ = collect(
        tmp_path, vendor, Faults(malformed_rate=1.0, rate_per_second=0, rate_per_minute=0)
    )
    assert report.status == "failed" and report.exit_code == 1, report.error
    assert "internal error" not in report.error, report.error  # classified, never a crash
    assert VENDORS[vendor][1] in report.error
    assert ids == set()


@pytest.mark.parametrize("vendor", VENDORS)
def test_malformed_answers_now_and_then_are_retried_and_nothing_is_lost(
    vendor: str, clean: dict[str, set[str]], tmp_path: Path
) -> None:
    report, ids, sim = collect(
        tmp_path, vendor, Faults(malformed_rate=0.2, seed=9, rate_per_second=0, rate_per_minute=0)
    )
    assert report.status == "succeeded", report.error
    assert ids == clean[vendor]
    assert any(c.fault == "malformed" for c in sim.calls)
