"""Helpers for the scheduler tests: small schemes, a recording stand-in runner, the demo schemes."""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ferry.engine.counts import RunCounts
from ferry.engine.runner import RunReport
from ferry.scheme.loader import load_scheme
from ferry.scheme.model import Scheme

TZ = ZoneInfo("Asia/Shanghai")
DEMO = Path(__file__).resolve().parents[2] / "src" / "ferry" / "demo" / "schemes"


def at(hh: int, mm: int, ss: int = 0, day: int = 1) -> datetime:
    """A time on 2024-06-<day> in Asia/Shanghai."""
    return datetime(2024, 6, day, hh, mm, ss, tzinfo=TZ)


def small_scheme(scheme_id: str = "orders", **schedule: str) -> Scheme:
    """A valid scheme over throw-away SQLite connections (the stand-in runner never opens them)."""
    return load_scheme(
        {
            "id": scheme_id,
            "name": scheme_id,
            "source": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {
                    "api": "/orders",
                    "effect": "QUERY",
                    "id": "id",
                    "request": [{"field": "since", "value": "{{LAST_SYNC_TIME|datetime}}"}],
                },
            },
            "target": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {
                    "api": "save",
                    "effect": "EXECUTE",
                    "request": [{"field": "id", "value": "{id}"}],
                },
            },
            "schedule": schedule,
            "window": {"start": "2024-05-01 00:00:00", "step": "1d"},
        }
    )


@dataclass
class Call:
    scheme_id: str
    kind: str
    remedy: bool
    now: datetime
    owner: str
    started: float
    finished: float | None = None


@dataclass
class Recorder:
    """A stand-in for ``run_scheme``: records each call; ``hold()`` makes runs wait for ``release()``."""

    calls: list[Call] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stops: list[str | None] = field(default_factory=list)
    options: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.gate.set()

    def hold(self) -> None:
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def runner(self, owner: str):
        def run(scheme, store, *, collect, deliver, remedy, now, stop, close_interrupted, **options):
            assert close_interrupted is False, "the scheduler closes interrupted runs itself"
            self.options.append(options)
            kind = "run" if collect and deliver else "collect" if collect else "deliver"
            call = Call(scheme.id, kind, remedy, now, owner, time.monotonic())
            with self.lock:
                self.calls.append(call)
            run_id = store.start_run(scheme.id, kind)
            while not self.gate.wait(0.01):
                if stop():
                    break
            reason = stop()
            with self.lock:
                self.stops.append(reason)
            status = "failed" if reason else "succeeded"
            store.finish_run(run_id, status, {}, f"stopped: {reason}" if reason else None)
            call.finished = time.monotonic()
            return RunReport(scheme.id, run_id, status, RunCounts(), f"stopped: {reason}" if reason else None)

        return run

    def kinds(self) -> list[tuple[str, str, bool]]:
        with self.lock:
            return [(c.scheme_id, c.kind, c.remedy) for c in self.calls]


def demo_connections(db: Path, page_size: int = 50, base_url: str = "http://demo.invalid") -> dict[str, Any]:
    """The shipped demo connections (``connections.yaml``) on ``base_url`` and the SQLite file ``db``."""
    import yaml

    connections: dict[str, Any] = yaml.safe_load((DEMO / "connections.yaml").read_text())
    connections["demo_api"]["base_url"] = base_url
    connections["demo_api"]["paging"]["page_size"] = page_size
    connections["warehouse"]["url"] = f"sqlite:///{db}"
    return connections


def demo_scheme(name: str, connections: dict[str, Any], *, schedule: dict[str, str], **patch: Any) -> Scheme:
    """The demo ``products`` or ``orders`` scheme with its metadata inline, on ``connections``."""
    import yaml

    raw = yaml.safe_load((DEMO / f"{name}.yaml").read_text())
    raw["connections"] = connections
    raw["schedule"] = schedule
    for side in ("source", "target"):
        meta = json.loads((DEMO / raw[side]["metadata"]).read_text())
        if side == "source" and "omissionRemedy" in patch:
            meta["omissionRemedy"] = patch.pop("omissionRemedy")
        raw[side]["metadata"] = meta
    for key, value in patch.items():
        raw[key] = {**raw.get(key, {}), **copy.deepcopy(value)}
    return load_scheme(raw)


def create_demo_tables(db: Path) -> None:
    import sqlite3

    with sqlite3.connect(db) as con:
        con.executescript((DEMO / "schema.sql").read_text())


def write_demo_scheme(tmp: Path, name: str, *, base_url: str, db: Path, schedule: dict[str, str]) -> Path:
    """The demo ``name`` scheme as a file in ``tmp`` (metadata and connections inline)."""
    import yaml

    raw = yaml.safe_load((DEMO / f"{name}.yaml").read_text())
    raw["connections"] = demo_connections(db, base_url=base_url)
    raw["schedule"] = schedule
    for side in ("source", "target"):
        raw[side]["metadata"] = json.loads((DEMO / raw[side]["metadata"]).read_text())
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path
