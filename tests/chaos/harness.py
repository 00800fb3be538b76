"""The chaos harness: run a seed scheme as a real ``ferry run`` process against the sandbox
(served over HTTP from the test process, so killing Ferry never kills the vendor), kill it at
random points, kill its MariaDB connections server-side, then let it converge and compare the
target with the source.

The sandbox's history is anchored at the real clock (``world.set_anchor``): a record modified
while paging gets the current time and so lands in a later incremental window, as it would at
the vendor.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pymysql
import sqlalchemy as sa

from ferry.engine.counts import RunCounts
from ferry.sandbox import CHINA, Faults, Sandbox, world
from ferry.sandbox.server import SandboxServer

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


@dataclass
class Outcome:
    scenario: str
    records: int
    faults: int
    retries: int
    kills: int
    db_kills: int
    lost: list[Any] = field(default_factory=list)
    duplicated: list[Any] = field(default_factory=list)
    dead: int = 0
    seconds: float = 0.0

    def row(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "records": self.records,
            "faults injected": self.faults,
            "retries": self.retries,
            "kills": f"{self.kills} + {self.db_kills} db",
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "dead": self.dead,
            "seconds": round(self.seconds, 1),
        }


def record_outcome(outcome: Outcome) -> None:
    """Keep the scenario's table row (written beside the session so the controller prints it)."""
    folder = os.environ.get("FERRY_CHAOS_REPORT")
    if folder:
        path = Path(folder) / f"{outcome.scenario.split()[0]}-{os.getpid()}.json"
        path.write_text(json.dumps(outcome.row(), ensure_ascii=False), encoding="utf-8")


def anchor_now(span: timedelta) -> tuple[datetime, timedelta]:
    """Anchor the sandbox history at the real clock (Beijing time); returns the old anchor."""
    now = datetime.now(CHINA).replace(tzinfo=None)
    return world.set_anchor(now - timedelta(seconds=30), span)


class DbKiller(threading.Thread):
    """Kills the target database's connections server-side (``KILL <id>``) while Ferry delivers."""

    def __init__(self, database: str, every: float = 0.4) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.every = every
        self.kills = 0
        self.stop = threading.Event()

    def run(self) -> None:
        conn = pymysql.connect(**MARIADB, autocommit=True)
        try:
            while not self.stop.wait(self.every):
                cur = conn.cursor()
                cur.execute(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()",
                    (self.database,),
                )
                for (pid,) in cur.fetchall():
                    try:
                        cur.execute(f"KILL {int(pid)}")
                        self.kills += 1
                    except pymysql.MySQLError:
                        pass  # it ended on its own meanwhile
        finally:
            conn.close()


def query(store_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``:named`` parameters) read from the store at ``store_url``."""
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def ferry(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ferry", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def kill_runs(scheme: Path, env: dict[str, str], cwd: Path, *, kills: int, rng: random.Random) -> int:
    """Start ``ferry run`` and SIGKILL it at a random moment until ``kills`` kills happened."""
    done = 0
    attempts = 0
    while done < kills and attempts < kills * 4:
        attempts += 1
        proc = ferry(["run", str(scheme)], env, cwd)
        time.sleep(rng.uniform(0.4, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            done += 1
        proc.communicate(timeout=60)
    return done


def storm(scheme: Path, env: dict[str, str], cwd: Path, *, kills: int, rng: random.Random) -> int:
    """The storm: ``kills`` runs killed at random moments, then one run left to finish (faults
    still on). Returns the kills made."""
    made = kill_runs(scheme, env, cwd, kills=kills, rng=rng)
    proc = ferry(["run", str(scheme)], env, cwd)
    out, _ = proc.communicate(timeout=600)
    if proc.returncode not in (0, 1):
        raise AssertionError(f"ferry run under faults exited {proc.returncode}:\n{out[-3000:]}")
    return made


def converge(
    scheme: Path,
    env: dict[str, str],
    cwd: Path,
    store_url: str,
    scheme_id: str,
    *,
    lag: float,
    rounds: int = 6,
    expected_failures: set[str] = frozenset(),  # type: ignore[assignment]
) -> None:
    """After the storm, rounds of an omissionRemedy sweep (as its crontab would run) and an
    incremental run, until both find nothing new and deliver nothing, with nothing left pending,
    queued or in error (but the ``expected_failures``: records the data makes fail on every
    attempt). A record that arrives late *during* a sweep, behind the sweep's offset, is found
    by the next sweep, as at a real vendor."""
    for number in range(rounds):
        time.sleep(lag + 0.5)  # records modified "now" must be older than the lag to be collected
        for args in (["run", "--remedy", str(scheme)], ["run", str(scheme)]):
            proc = ferry(args, env, cwd)
            out, _ = proc.communicate(timeout=600)
            if proc.returncode not in (0, 1):
                raise AssertionError(f"ferry {' '.join(args)} exited {proc.returncode}:\n{out[-3000:]}")
        busy = [
            rid
            for (rid,) in query(
                store_url,
                "SELECT record_id FROM ledger WHERE scheme_id = :s AND status IN ('pending', 'queued', 'error')",
                s=scheme_id,
            )
            if rid not in expected_failures
        ]
        last = query(
            store_url, "SELECT counts FROM runs WHERE scheme_id = :s ORDER BY id DESC LIMIT 2", s=scheme_id
        )
        quiet = all(
            counts.get("new", 1) == 0 and counts.get("delivered", 1) == 0
            for counts in (json.loads(row[0] or "{}") for row in last)
        )
        if number > 0 and not busy and quiet:
            return
    raise AssertionError(f"{scheme_id}: did not converge in {rounds} rounds")


def ledger_totals(store_url: str, scheme_id: str, explained: set[str] = frozenset()) -> tuple[int, int]:  # type: ignore[assignment]
    """(dead records but the ``explained`` ones, retries over every run) of the scheme."""
    dead_ids = query(
        store_url, "SELECT record_id FROM ledger WHERE scheme_id = :s AND status = 'dead'", s=scheme_id
    )
    dead = sum(1 for (rid,) in dead_ids if rid not in explained)
    runs = query(store_url, "SELECT counts FROM runs WHERE scheme_id = :s", s=scheme_id)
    retries = sum(json.loads(r[0] or "{}").get("retries", 0) for r in runs)
    return dead, retries


def unbalanced_runs(store_url: str) -> tuple[int, list[str]]:
    """Check the accounting identities (:meth:`RunCounts.imbalance`) of every run in the store
    that recorded its counts; a run killed mid-way recorded none and is skipped. Returns (runs
    checked, one line per run whose counts do not balance)."""
    checked, problems = 0, []
    for run_id, scheme_id, status, text in query(store_url, "SELECT id, scheme_id, status, counts FROM runs"):
        counts = json.loads(text or "{}")
        if "due" not in counts:  # killed before it could record its counts
            continue
        checked += 1
        problems += [
            f"run {run_id} of {scheme_id} ({status}): {p}" for p in RunCounts.from_dict(counts).imbalance()
        ]
    return checked, problems


def serve(sandbox: Sandbox) -> SandboxServer:
    server = SandboxServer(sandbox)
    server.start()
    return server


def base_env(tmp: Path, store_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env.update({"FERRY_HOME": str(tmp / "home"), "FERRY_STORE_URL": store_url, **extra})
    return env


__all__ = [
    "DbKiller",
    "Faults",
    "Outcome",
    "anchor_now",
    "base_env",
    "converge",
    "ferry",
    "kill_runs",
    "ledger_totals",
    "query",
    "record_outcome",
    "serve",
    "storm",
    "unbalanced_runs",
]
