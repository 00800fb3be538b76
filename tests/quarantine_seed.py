"""Seed 001 with a data-quality rule: the console's quarantine tests and its browser test.

KuaiMai serves work order 4000007 with ``status`` 99 (:mod:`ferry.sandbox.quality_demo`); the
scheme's source rule ``status-known`` (``enum: [1, 2, 3, 4, 5]``, ``action: quarantine``) holds
that one record, and every other record is delivered to the SQLite target.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import yaml

from console_seed import FAST, SEED, SIZE
from ferry.sandbox import Faults, Sandbox
from ferry.sandbox.quality_demo import quality_demo_sandbox
from ferry.sandbox.seeds import (
    HISTORY_START,
    RUN_UNTIL,
    prepare_sqlite_targets,
    sandbox_env,
    sqlite_connections,
)
from ferry.scheme.loader import load_scheme
from ferry.scheme.model import Scheme

__all__ = ["FAST", "RULE", "SCHEME_ID", "load_with_rule", "quality_sandbox", "run_until", "target_status"]

SCHEME_ID = "001-kuaimai-aftersale-to-mysql"
RULE = {"name": "status-known", "field": "status", "enum": [1, 2, 3, 4, 5], "action": "quarantine"}


def quality_sandbox() -> Sandbox:
    """The simulators with :data:`SIZE` records each, KuaiMai serving work order 4000007 bad."""
    return quality_demo_sandbox(size=SIZE, faults=Faults(rate_per_second=0))


def load_with_rule(sb: Sandbox, folder: Path) -> tuple[Scheme, dict[str, Path]]:
    """Seed 001 copied into ``folder`` with :data:`RULE` added, on ``sb`` and SQLite targets
    in ``folder``; the scheme and the target files."""
    copy = folder / "001"
    shutil.copytree(SEED.path.parent, copy, dirs_exist_ok=True)
    path = copy / SEED.file
    definition: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    definition["quality"] = {"source": [RULE]}
    path.write_text(yaml.safe_dump(definition, allow_unicode=True, sort_keys=False), encoding="utf-8")
    files = prepare_sqlite_targets(folder, SIZE)
    conns = sqlite_connections(SEED, files)
    conns["kuaimai"] = {**conns["kuaimai"], "rate_per_second": 1000}
    scheme = load_scheme(path, connections=conns, env=sandbox_env(sb))
    scheme.window = scheme.window.model_copy(update={"start": HISTORY_START.replace(tzinfo=scheme.tz)})
    return scheme, files


def target_status(target_db: Path, record_id: str) -> list[int]:
    """The ``status`` of each row of work order ``record_id`` in the target table."""
    with sqlite3.connect(target_db) as con:
        return [
            r[0] for r in con.execute("SELECT status FROM aftersale_list_query WHERE id = ?", (record_id,))
        ]


def run_until(scheme: Scheme) -> Any:
    """The fixed end of the runs (the sandbox's history ends there)."""
    return RUN_UNTIL.replace(tzinfo=scheme.tz)
