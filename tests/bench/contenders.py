"""The contenders of the end-to-end bench and what they share: the demo API, MariaDB, the rows.

Every contender reads the same demo API (``python -m ferry.demo`` in its own process, same
data, pages of 1,000) and writes the same flattened order lines into its own fresh MariaDB
database, where :func:`count_lines` counts what it left:

- :func:`minimal_sync`: httpx pages + flatten + PyMySQL ``executemany`` REPLACE INTO, in this
  process, one core, no ledger and no DSL;
- :func:`ferry`: the demo schemes (products, then orders) run by Ferry in a child process
  with its SQLite ledger; only the orders scheme is timed;
- :func:`dlt`: ``dlt_pipeline.py`` in a child process: ``@dlt.resource`` with a primary key,
  ``write_disposition="merge"``, the sqlalchemy destination with primary keys created.

Ferry is whichever ``ferry`` package this interpreter imports, so ``PYTHONPATH=<checkout>/src``
measures another checkout: its package, its demo API and its demo schemes (read through that
checkout's ``tests/integration/demo_env.py`` when it has one).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pymysql
from demo_lines import COLUMNS, ORDER_WINDOW, PAGE_SIZE, START, UNTIL, order_lines, pages, product_codes

BENCH = Path(__file__).resolve().parent
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
LINES_PER_ORDER = 2.0  # 1..4 items per order (2.5 on average), and the scheme filters out 1 shop in 5
PRODUCTS = 2000


def ferry_package() -> Path:
    """The ``ferry/__init__.py`` this interpreter (and so every child it starts) imports."""
    spec = importlib.util.find_spec("ferry")
    if spec is None or spec.origin is None:
        raise SystemExit("ferry is not importable: install it or set PYTHONPATH=<checkout>/src")
    return Path(spec.origin).resolve()


def ferry_checkout() -> Path | None:
    """The checkout whose ``src/ferry`` this interpreter imports (None for an installed wheel)."""
    root = ferry_package().parents[2]
    return root if (root / "src" / "ferry").is_dir() else None


def _demo_env() -> Any:
    checkout = ferry_checkout()
    own = checkout / "tests" / "integration" if checkout else None
    folder = own if own and (own / "demo_env.py").is_file() else BENCH.parent / "integration"
    sys.path.insert(0, str(folder))
    import demo_env

    return demo_env


demo_env = _demo_env()


# --- the source and the databases -------------------------------------------------------


def start_source(orders: int) -> tuple[subprocess.Popen[str], str]:
    """The demo API in its own process; returns it and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferry.demo", "--orders", str(orders), "--products", str(PRODUCTS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def stop_source(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def target_url(database: str) -> str:
    return f"mysql+pymysql://root@127.0.0.1:3306/{database}?charset=utf8mb4"


def fresh_database(*, tables: bool = True) -> str:
    """A new empty MariaDB database, with the demo's target tables when ``tables``."""
    name = f"ferry_bench_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(**MARIADB, autocommit=True)
    conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()
    if tables:
        db = pymysql.connect(**MARIADB, database=name, autocommit=True)
        demo_env.create_target_tables(db)
        db.close()
    return name


def drop_database(name: str) -> None:
    """Drop ``name`` and the ``<name>_staging`` database dlt makes for a merge."""
    conn = pymysql.connect(**MARIADB, autocommit=True)
    for database in (name, f"{name}_staging"):
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")
    conn.close()


def count_lines(database: str) -> int:
    """Rows in ``order_lines`` (distinct keys: each contender's table has its primary key)."""
    conn = pymysql.connect(**MARIADB, database=database)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT line_id) FROM order_lines")
        rows, keys = cur.fetchone()
    conn.close()
    if rows != keys:
        raise SystemExit(f"{database}.order_lines holds {rows - keys} duplicated line ids")
    return int(rows)


# --- the contenders -------------------------------------------------------------------------


def minimal_sync(url: str, database: str) -> tuple[int, float]:
    """The minimal sync: page, flatten, look up, compute, executemany upsert. (lines, seconds)"""
    started = time.perf_counter()
    client = httpx.Client(base_url=url, timeout=60)
    codes = product_codes(client)
    db = pymysql.connect(**MARIADB, database=database, charset="utf8mb4")
    cur = db.cursor()
    sql = f"REPLACE INTO order_lines ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    lines = 0
    for orders in pages(client, "/orders", ORDER_WINDOW):
        rows = order_lines(orders, codes)
        if rows:
            cur.executemany(sql, rows)
            db.commit()
        lines += len(rows)
    db.close()
    client.close()
    return lines, time.perf_counter() - started


FERRY_RUN = """
import json, resource, sys, time
import ferry
from ferry.engine.runner import run_scheme
from ferry.scheme.loader import load_scheme
from ferry.store import open_store
from ferry.cli._common import parse_time
store = open_store(sys.argv[1])
out = {"ferry": ferry.__file__}
for name in ("products", "orders"):
    scheme = load_scheme(sys.argv[2] + f"/{name}.yaml")
    t = time.perf_counter()
    rep = run_scheme(scheme, store, now=parse_time(sys.argv[3], option="until", tz=scheme.tz))
    assert rep.status == "succeeded", rep.error
    out[name] = {"seconds": time.perf_counter() - t, "delivered": rep.counts.delivered}
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["worker_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # deliver workers
print(json.dumps(out))
"""


def ferry(
    url: str,
    database: str,
    settings: dict[str, Any] | None = None,
    watch: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> dict[str, Any]:
    """Run the demo schemes with Ferry in a child process; its JSON report.

    ``watch`` is called with the running child and must return once it has exited (the RSS
    bench samples the process tree meanwhile)."""
    with tempfile.TemporaryDirectory(prefix="ferry-bench-") as tmp:
        paths = demo_env.write_schemes(
            Path(tmp),
            source_url=url,
            target_url=target_url(database),
            page_size=PAGE_SIZE,
            orders_patch={
                "window": {"start": START, "step": "7d"},
                "settings": {"batch_size": 2000, **(settings or {})},
            },
        )
        argv = [
            sys.executable,
            "-c",
            FERRY_RUN,
            f"sqlite:///{tmp}/ferry.db",
            str(paths["orders"].parent),
            UNTIL,
        ]
        with open(Path(tmp) / "out", "w+b") as out, open(Path(tmp) / "err", "w+b") as err:
            proc = subprocess.Popen(argv, stdout=out, stderr=err)
            if watch:
                watch(proc)
            proc.wait()
            out.seek(0), err.seek(0)
            if proc.returncode:
                raise SystemExit(f"ferry failed:\n{err.read().decode(errors='replace')}")
            result: dict[str, Any] = json.loads(out.read().decode().strip().splitlines()[-1])
    if Path(result["ferry"]).resolve() != ferry_package():
        raise SystemExit(f"the Ferry contender imported {result['ferry']}, not {ferry_package()}")
    return result


def dlt_version() -> str | None:
    """The installed dlt's version, or None (it is in the ``bench`` extra, never a dependency)."""
    if importlib.util.find_spec("dlt") is None:
        return None
    from importlib.metadata import version

    return version("dlt")


def dlt(url: str, database: str) -> dict[str, Any]:
    """Run ``dlt_pipeline.py`` in a child process, offline, its state in a temporary folder."""
    tmp = tempfile.mkdtemp(prefix="dlt-bench-")
    env = {
        **os.environ,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": tmp,
        "DLT_PROJECT_DIR": tmp,
    }
    argv = [sys.executable, str(BENCH / "dlt_pipeline.py"), url, target_url(database), database, tmp]
    try:
        proc = subprocess.run(argv, cwd=tmp, env=env, capture_output=True, text=True, check=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode:
        raise SystemExit(f"dlt failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
