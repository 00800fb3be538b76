"""Rate budgets are shared by every process using the same credentials (through the store).

Two Ferry processes collect from the same JuShuiTan app at once, each told a budget of 2 calls
per second (the vendor allows 3). With separate stores (the protection off) each paces itself,
together they make 4 a second and the vendor answers code 199; sharing one store (on), the two
stay within the budget and are never throttled.
"""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry.engine.pacing import SharedPacer, budget_key
from ferry.sandbox import Sandbox, world
from ferry.sandbox.seeds import RUN_UNTIL, SEEDS, load_seed, sandbox_env
from ferry.store import open_store

SEED = {seed.key: seed for seed in SEEDS}
PER_SECOND = 2
"""The budget Ferry is told; the vendor allows one more call per second than that, so network
jitter between reserving a call and its arrival cannot push one process over."""


def collect_in_child(
    env: dict[str, str], store_url: str, name: str, done: Any, process_env: dict[str, str]
) -> None:
    import os

    from ferry.engine.pacing import RateSharing
    from ferry.engine.retry import RetryPolicy
    from ferry.engine.runner import run_scheme

    os.environ.update(process_env)  # e.g. the Redis budget's URL and prefix, read as a command would
    raw = yaml.safe_load(SEED["002"].path.with_name("connections.yaml").read_text(encoding="utf-8"))
    raw["jushuitan"]["rate_per_second"] = PER_SECOND
    scheme = load_seed(SEED["002"], env=env, connections=raw, since=world.ANCHOR - timedelta(days=14))
    scheme.settings = scheme.settings.model_copy(update={"page_size": 5})
    scheme.id = f"{scheme.id}-{name}"  # two schemes on one app key, not one scheme twice
    with open_store(store_url) as store:
        report = run_scheme(
            scheme,
            store,
            deliver=False,
            now=RUN_UNTIL.replace(tzinfo=scheme.tz),
            retry=RetryPolicy(attempts=20, base_delay=0.01, max_delay=0.05),
            rates=RateSharing.from_env(),
        )
    done.put((report.status, report.counts.fetched, report.error))


def run_two(
    env: dict[str, str], urls: list[str], process_envs: list[dict[str, str]] | None = None
) -> list[Any]:
    """Collect in two forked processes (stores ``urls``, extra environment ``process_envs``);
    each one's ``(status, fetched, error)``."""
    context = multiprocessing.get_context("fork")
    done = context.Queue()
    children = [
        context.Process(target=collect_in_child, args=(env, url, name, done, extra))
        for name, url, extra in zip("ab", urls, process_envs or [{}, {}], strict=True)
    ]
    for child in children:
        child.start()
    results = [done.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=10)
    return results


@pytest.mark.parametrize("shared", [True, False])
def test_two_processes_share_the_vendor_budget_only_through_one_store(
    server: tuple[Sandbox, dict[str, str]], tmp_path: Path, shared: bool
) -> None:
    sandbox, env = server
    for name in ("a", "b"):  # migrate first, so the children only read and write
        open_store(f"sqlite:///{tmp_path / ('shared' if shared else name)}.db").close()
    urls = [f"sqlite:///{tmp_path / ('shared' if shared else name)}.db" for name in ("a", "b")]
    results = run_two(env, urls)
    assert [status for status, _, _ in results] == ["succeeded", "succeeded"], results
    assert results[0][1] == results[1][1] > 0
    throttled = [c for c in sandbox["jushuitan"].calls if c.fault == "throttled"]
    if shared:
        assert throttled == []
    else:
        assert throttled, "two processes pacing alone must exceed the shared budget"


def test_connections_with_the_same_credentials_share_a_budget_key() -> None:
    from ferry.connectors.registry import build_source, parse_connection

    sandbox = Sandbox.default(size=1, only=["jushuitan"])
    env = sandbox_env(sandbox)
    spec = {"type": "jushuitan", "base_url": env["JST_URL"], "app_key": env["JST_APP_KEY"]}
    spec |= {"app_secret": env["JST_APP_SECRET"], "access_token": env["JST_ACCESS_TOKEN"]}
    one = build_source(parse_connection({**spec, "name": "jst"}, path="a"))
    two = build_source(parse_connection({**spec, "name": "jst_other_name"}, path="b"))
    other = build_source(parse_connection({**spec, "name": "x", "app_key": "another-app"}, path="c"))
    assert budget_key(one) == budget_key(two) != budget_key(other)
    for connector in (one, two, other):
        connector.close()


def test_a_throttling_answer_holds_every_process_on_the_key(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        now = [1000.0]
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            now[0] += seconds

        first = SharedPacer(store, "jst:app", 5, None, clock=lambda: now[0], sleep=sleep)
        second = SharedPacer(store, "jst:app", 5, None, clock=lambda: now[0], sleep=sleep)
        first.penalize(2.0)
        assert second.wait() == pytest.approx(2.0)
