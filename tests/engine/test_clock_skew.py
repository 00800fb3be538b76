"""Clock skew between Ferry and the vendor: a vendor whose clock is behind stamps a change it
makes after a window was read with a time inside that window. The cursor follows the vendor's
own clock (its HTTP ``Date`` header), so the next window reads that span again; with
``settings.follow_vendor_clock: false`` the change is lost."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.sandbox import Faults, Sandbox
from ferry.sandbox.seeds import SEEDS, load_seed, sandbox_env
from ferry.sandbox.server import SandboxServer
from ferry.sandbox.transport import simulator_class
from ferry.store import open_store

SEED = {seed.key: seed for seed in SEEDS}
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
BEHIND = -90.0
UNLIMITED = {"rate_per_second": 0, "rate_per_minute": 0}


def skewed_jushuitan(skew: float) -> Sandbox:
    sim = simulator_class("jushuitan")(size=40, faults=Faults(clock_skew=skew, **UNLIMITED))
    return Sandbox({"jushuitan": sim})


def told_time(response: httpx.Response) -> datetime:
    return parsedate_to_datetime(response.headers["Date"])


@pytest.mark.parametrize("served", [False, True], ids=["in-process", "http"])
def test_the_simulator_tells_its_skewed_clock_in_the_date_header(served: bool) -> None:
    sandbox = skewed_jushuitan(BEHIND)
    if served:
        server = SandboxServer(sandbox)
        server.start()
        try:
            response = httpx.post(server.urls()["jushuitan"] + "/open/other/inout/query", data={})
        finally:
            server.stop()
    else:
        client = httpx.Client(transport=sandbox.transport())
        response = client.post("http://jushuitan.sandbox/open/other/inout/query", data={})
    behind = (datetime.now(UTC) - told_time(response)).total_seconds()
    assert 88 <= behind <= 93, response.headers["Date"]


def modify_now(sandbox: Sandbox, io_id: int) -> None:
    """The vendor commits a change to a confirmed 其它退货 record, stamped by its own clock."""
    sim = sandbox["jushuitan"]
    data = sim.inout  # type: ignore[attr-defined]
    stamp = sim.now()
    row = copy.deepcopy(data.all()[0])
    row.update(io_id=io_id, modified=stamp.strftime("%Y-%m-%d %H:%M:%S"), status="Confirmed", type="其它退货")
    data.put(str(io_id), row, stamp)


def two_runs(tmp_path: Path, *, follow: bool, skew: float) -> tuple[set[str], list[dict]]:
    sandbox = skewed_jushuitan(skew)
    scheme = load_seed(SEED["002"], env=sandbox_env(sandbox))
    first = datetime.now(scheme.tz).replace(microsecond=0)
    scheme.window = scheme.window.model_copy(
        update={"start": first - timedelta(hours=1), "lookback": timedelta(0), "lag": timedelta(0)}
    )
    scheme.settings = scheme.settings.model_copy(update={"follow_vendor_clock": follow})
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        report = run_scheme(
            scheme, store, deliver=False, now=first, transport=sandbox.transport(), retry=FAST
        )
        assert report.status == "succeeded", report.error
        modify_now(sandbox, 99_003)  # right after the read: stamped ~90 s before the window's end
        second = first + timedelta(seconds=2)
        again = run_scheme(
            scheme, store, deliver=False, now=second, transport=sandbox.transport(), retry=FAST
        )
        assert again.status == "succeeded", again.error
        ids = {r.record_id for r in store.find_records(scheme.id, limit=10_000)}
    return ids, [w.as_dict() for w in report.windows]  # as the run record stores them


@pytest.mark.parametrize("follow", [True, False], ids=["on", "off"])
def test_a_change_stamped_by_a_vendor_clock_behind_ours_is_collected(tmp_path: Path, follow: bool) -> None:
    ids, windows = two_runs(tmp_path, follow=follow, skew=BEHIND)
    assert ("99003" in ids) is follow
    held = [w.get("held_back_s") for w in windows if "held_back_s" in w]
    assert (held != []) is follow
    if follow:
        assert all(89 <= h <= 93 for h in held), held


def test_a_vendor_clock_ahead_of_ours_holds_nothing_back(tmp_path: Path) -> None:
    ids, windows = two_runs(tmp_path, follow=True, skew=+90.0)
    assert all("held_back_s" not in w for w in windows)
    assert "99003" not in ids  # stamped 90 s in Ferry's future: the window that reaches it will read it
