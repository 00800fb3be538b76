"""Rate budgets shared through Redis (``FERRY_RATE_REDIS_URL``) keep the store's semantics.

Against the machine's Redis, each test under its own key prefix. The on/off proof mirrors
``test_shared_rate_budget.py``: two Ferry processes with separate stores, each told 2 calls per
second against a JuShuiTan that allows 3. Counted under separate Redis prefixes (off) the
vendor throttles them; counted under one (on), never -- so it is Redis that shares the budget.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from test_shared_rate_budget import run_two

from ferry.connectors.base import Limits
from ferry.engine._rate_redis import RedisRateBackend, mask_url, redis_backend
from ferry.engine.pacing import (
    REDIS_PREFIX_ENV,
    REDIS_URL_ENV,
    RateSharing,
    SharedPacer,
    StoreRateBackend,
    pacer_for,
)
from ferry.errors import ConfigError, RetriableError
from ferry.sandbox import Sandbox
from ferry.store import open_store

RULES = [(3, 1.0), (5, 60.0)]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def backend(redis_url: str, redis_prefix: str) -> RedisRateBackend:
    return RedisRateBackend(redis.Redis.from_url(redis_url), url=redis_url, prefix=redis_prefix)


@pytest.fixture(params=["store", "redis"])
def any_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The same sequence against the store's budget and Redis's: they must agree."""
    if request.param == "redis":
        yield request.getfixturevalue("backend")
        return
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        yield StoreRateBackend(store)


def test_reservations_count_calls_in_sliding_windows_like_the_store(any_backend: Any) -> None:
    b = any_backend
    assert [b.reserve("jst:app", RULES, 100.0 + i * 0.1) for i in range(3)] == [0.0, 0.0, 0.0]
    assert b.reserve("jst:app", RULES, 100.3) == pytest.approx(0.7)  # 100.0 leaves at 101.0
    assert b.reserve("jst:app", RULES, 100.3) == pytest.approx(0.7)  # a refusal records nothing
    assert b.reserve("other:app", RULES, 100.3) == 0.0  # budgets are per key
    assert b.reserve("jst:app", RULES, 101.0) == 0.0  # windows are half-open: 100.0 is out
    assert b.reserve("jst:app", RULES, 101.15) == 0.0  # 5 calls within the minute now
    assert b.reserve("jst:app", RULES, 102.5) == pytest.approx(100.0 + 60.0 - 102.5)
    assert b.reserve("jst:app", RULES, 160.05) == 0.0  # the first call left the minute
    b.penalize("other:app", 130.0, 120.0)
    b.penalize("other:app", 125.0, 120.0)  # a shorter hold never shortens the longer one
    assert b.reserve("other:app", RULES, 120.0) == pytest.approx(10.0)
    assert b.reserve("other:app", RULES, 130.0) == 0.0


def test_a_finished_call_counts_from_its_end_in_both_backends(any_backend: Any) -> None:
    b = any_backend
    assert [b.reserve("km:app", [(2, 1.0)], t) for t in (100.0, 100.1)] == [0.0, 0.0]
    b.finish("km:app", 100.0, 100.6)  # the calls took 0.6 s
    b.finish("km:app", 100.1, 100.7)
    # counted from their starts both would have left the second by 101.1; from their ends, 101.6
    assert b.reserve("km:app", [(2, 1.0)], 101.05) == pytest.approx(100.6 + 1.0 - 101.05)
    assert b.reserve("km:app", [(2, 1.0)], 101.6) == 0.0
    b.finish("km:app", 50.0, 101.7)  # a call longer than the window, dropped meanwhile: counted anew
    assert b.reserve("km:app", [(2, 1.0)], 101.8) == pytest.approx(101.6 + 1.0 - 101.8)


def test_the_n_plus_first_call_waits_until_the_oldest_leaves_the_second(
    backend: RedisRateBackend,
) -> None:
    clock = FakeClock()
    pacer = SharedPacer(backend, "kuaimai:app", 4, None, clock=clock, sleep=clock.sleep)
    assert [pacer.wait() for _ in range(4)] == [0.0] * 4
    assert pacer.wait() == pytest.approx(1.02)  # the 2% margin stretches each window
    assert clock.now == pytest.approx(1001.02)


def test_a_throttling_answer_holds_every_process_on_the_key(redis_url: str, redis_prefix: str) -> None:
    clock = FakeClock()
    first, second = (
        SharedPacer(
            RedisRateBackend(redis.Redis.from_url(redis_url), prefix=redis_prefix),
            "jst:app",
            5,
            None,
            clock=clock,
            sleep=clock.sleep,
        )
        for _ in range(2)
    )
    first.penalize(2.0)
    assert second.wait() == pytest.approx(2.0)
    first.penalize(None)  # the vendor gave no time: one second
    assert second.wait() == pytest.approx(1.0)


def test_keys_expire_once_they_no_longer_matter(backend: RedisRateBackend) -> None:
    backend.reserve("jst:app", RULES, 100.0)
    backend.penalize("jst:app", 100.0 + 300.0, 100.0)
    calls, not_before = backend.keys("jst:app")
    client = backend.client
    assert 60_000 < client.pttl(calls) <= 61_200 + 60_000  # the longest window plus a minute
    assert 300_000 < client.pttl(not_before) <= 360_000  # the rest of the hold plus a minute


def test_concurrent_reservations_never_exceed_the_budget(redis_url: str, redis_prefix: str) -> None:
    granted: list[float] = []
    lock = threading.Lock()

    def reserve_many() -> None:
        own = RedisRateBackend(redis.Redis.from_url(redis_url), prefix=redis_prefix)
        answers = [own.reserve("jst:app", [(5, 1.0)], 500.0) for _ in range(25)]
        with lock:
            granted.extend(a for a in answers if a == 0.0)

    threads = [threading.Thread(target=reserve_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 5


# -- the on/off proof ---------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False], ids=["one-redis-budget", "separate-budgets"])
def test_two_processes_share_the_vendor_budget_through_redis(
    server: tuple[Sandbox, dict[str, str]], tmp_path: Path, redis_url: str, redis_prefix: str, shared: bool
) -> None:
    sandbox, env = server
    urls = [f"sqlite:///{tmp_path / name}.db" for name in ("a", "b")]  # never one store
    for url in urls:  # migrate first, so the children only read and write
        open_store(url).close()
    prefixes = [redis_prefix if shared else f"{redis_prefix}{name}:" for name in ("a", "b")]
    results = run_two(env, urls, [{REDIS_URL_ENV: redis_url, REDIS_PREFIX_ENV: p} for p in prefixes])
    assert [status for status, _, _ in results] == ["succeeded", "succeeded"], results
    assert results[0][1] == results[1][1] > 0
    client = redis.Redis.from_url(redis_url)
    assert any(k.endswith(b":calls") for k in client.scan_iter(match=f"{redis_prefix}*"))
    client.close()
    throttled = [c for c in sandbox["jushuitan"].calls if c.fault == "throttled"]
    if shared:
        assert throttled == []
    else:
        assert throttled, "two processes with separate budgets must exceed the vendor's limit"


# -- configuration and errors ------------------------------------------------------------------


class _Source:
    name = "jst"


def test_pacer_for_uses_redis_when_configured(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, redis_prefix: str
) -> None:
    monkeypatch.setenv(REDIS_URL_ENV, redis_url)
    monkeypatch.setenv(REDIS_PREFIX_ENV, redis_prefix)
    pacer = pacer_for(_Source(), Limits(rate_per_second=5), sharing=RateSharing.from_env())
    assert isinstance(pacer, SharedPacer)
    assert isinstance(pacer.backend, RedisRateBackend)
    assert pacer.backend.prefix == redis_prefix


def test_ferry_without_redis_configured_never_imports_it(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from ferry.connectors.base import Limits\n"
        "from ferry.engine.pacing import SharedPacer, pacer_for\n"
        "from ferry.store import open_store\n"
        "class S:\n    name = 'jst'\n"
        f"store = open_store('sqlite:///{tmp_path / 'ferry.db'}')\n"
        "pacer = pacer_for(S(), Limits(rate_per_second=5), store)\n"
        "pacer.wait()\n"
        "assert isinstance(pacer, SharedPacer), pacer\n"
        "assert 'redis' not in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k != REDIS_URL_ENV}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://:s3cret@127.0.0.1:6379/0", "is not a Redis URL", id="wrong-scheme"),
        pytest.param("redis://:s3cret@127.0.0.1:1/0", "cannot reach Redis", id="nothing-listening"),
        pytest.param("redis://bob:s3cret@127.0.0.1:6379/0", "rejected the credentials", id="no-such-user"),
        pytest.param("redis://127.0.0.1:6379/999?password=s3cret", "refused", id="no-such-database"),
    ],
)
def test_a_bad_url_is_a_config_error_naming_the_url_without_its_password(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, url: str, expected: str
) -> None:
    monkeypatch.setenv(REDIS_URL_ENV, url)
    with pytest.raises(ConfigError, match=expected) as caught:
        pacer_for(_Source(), Limits(rate_per_second=5), sharing=RateSharing.from_env())
    message = str(caught.value)
    assert "s3cret" not in message
    assert mask_url(url) in message and "***" in message
    assert "FERRY_RATE_REDIS_URL" in message


def test_redis_lost_mid_run_is_retriable_and_masks_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "redis://user:s3cret@127.0.0.1:1/0"
    lost = RedisRateBackend(redis.Redis.from_url(url, socket_connect_timeout=1), url=url)
    with pytest.raises(RetriableError, match=r"127\.0\.0\.1:1") as caught:
        lost.reserve("jst:app", RULES, 100.0)
    assert "s3cret" not in str(caught.value) and "user:***@" in str(caught.value)
    with pytest.raises(RetriableError):
        lost.penalize("jst:app", 101.0, 100.0)


def test_a_backend_is_built_once_per_url_and_prefix(redis_url: str, redis_prefix: str) -> None:
    assert redis_backend(redis_url, redis_prefix) is redis_backend(redis_url, redis_prefix)
    assert redis_backend(redis_url, redis_prefix) is not redis_backend(redis_url, f"{redis_prefix}x")


def test_the_environment_is_read_where_the_process_starts_never_inside_a_run(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    monkeypatch.setenv(REDIS_URL_ENV, redis_url)
    store = open_store("sqlite://")
    try:
        pacer = pacer_for(_Source(), Limits(rate_per_second=5), store)  # no sharing passed in
        assert isinstance(pacer, SharedPacer) and isinstance(pacer.backend, StoreRateBackend)
    finally:
        store.close()
    assert RateSharing.from_env({REDIS_URL_ENV: "redis://h/0", REDIS_PREFIX_ENV: "p:"}) == RateSharing(
        "redis://h/0", "p:"
    )
    assert RateSharing.from_env({}) == RateSharing()
