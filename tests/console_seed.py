"""Seed 001 (KuaiMai after-sales -> SQLite) as the console tests and the browser test run it.

The target table gets a trigger (:data:`BLOCK`) that rejects items with a quantity above 2, so
a run leaves finished and failed records in the ledger; dropping the trigger (``DROP TRIGGER
block_big``) lets a replay deliver them.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from ferry.engine.retry import RetryPolicy
from ferry.sandbox import Faults, Sandbox
from ferry.sandbox.seeds import SEEDS, load_seed, prepare_sqlite_targets, sandbox_env, sqlite_connections
from ferry.scheme.model import Scheme

SEED = next(s for s in SEEDS if s.key == "001")
SCHEME_ID = "001-kuaimai-aftersale-to-mysql"
SIZE = 8
FAST = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.01)
BLOCK = (
    "CREATE TRIGGER block_big BEFORE INSERT ON aftersale_list_query WHEN NEW.qty > 2 "
    "BEGIN SELECT RAISE(ABORT, 'qty above the limit'); END"
)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sandbox() -> Sandbox:
    """The in-process KuaiMai simulator with :data:`SIZE` records per dataset and no faults."""
    return Sandbox.default(size=SIZE, only=["kuaimai"], faults=Faults(rate_per_second=0))


def blocked_targets(folder: Path) -> dict[str, Path]:
    """Seed 001's SQLite target files in ``folder``, the after-sales table behind :data:`BLOCK`."""
    files = prepare_sqlite_targets(folder, SIZE)
    with sqlite3.connect(files["bi"]) as con:
        con.execute(BLOCK)
    return files


def load(sb: Sandbox, files: dict[str, Path]) -> Scheme:
    """Seed 001 on ``sb`` with its MySQL target as the SQLite file ``files['bi']``, unpaced."""
    conns = sqlite_connections(SEED, files)
    conns["kuaimai"] = {**conns["kuaimai"], "rate_per_second": 1000}
    return load_seed(SEED, env=sandbox_env(sb), connections=conns)


def csrf_of(html: str) -> str:
    """The CSRF token of a console form."""
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)
