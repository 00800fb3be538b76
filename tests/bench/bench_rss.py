"""Benchmark: Ferry's peak memory at two sizes, with the source in its own process.

Runs Ferry on the demo schemes exactly as ``bench_http_to_mariadb.py`` does (the demo API
served by its own ``python -m ferry.demo`` process, whose memory is not counted; a fresh
MariaDB database; the SQLite ledger) at each size of ``--sizes`` flattened order lines.
While Ferry runs, this process samples Ferry's process tree every ``--interval`` seconds:
the run process and every descendant alive at that moment (the forked deliver workers of
the products scheme, then of the orders scheme). Per size it prints:

- **tree**: the peak over the samples of the tree's SUM of proportional set sizes (``Pss``
  in ``/proc/<pid>/smaps_rollup``: a page shared by n processes counts 1/n in each), i.e. the
  memory the whole tree held at its fullest moment, shared pages counted once. The goal
  (docs/architecture.md §8: flat within +-20% from 100k to 1M records) is read on this;
- **largest process**: the MAX over the processes of each one's own peak resident set
  (``VmHWM`` in ``/proc/<pid>/status``, which the kernel keeps, so no sample misses it; the
  run process's and its largest child's ``getrusage`` peaks at exit are folded in). A forked
  child's resident set counts the pages it shares with its parent.

Usage: python tests/bench/bench_rss.py [--sizes 100000,1000000] [--settings '{"deliver_workers": 2}']
Another checkout: PYTHONPATH=<checkout>/src python tests/bench/bench_rss.py
Linux only (``/proc``); needs psutil (the ``test`` extra). Never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import contenders as c
import psutil

GOAL = 0.20


def _status_mb(path: str, key: str) -> float | None:
    """``key``'s value (in kB) in a ``/proc`` status-like file, in MB; None once the process is gone."""
    try:
        with open(path) as status:
            for line in status:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class TreePeaks:
    """Peaks of a process tree's memory, sampled while it runs (see the module docstring)."""

    interval: float
    tree_peak: float = 0.0
    """The largest sum of ``Pss`` over the tree's live processes at one sample (MB)."""
    peaks: dict[tuple[int, float], float] = field(default_factory=dict)
    """Each process's own ``VmHWM`` (MB) by (pid, start time)."""
    root: int = 0

    def watch(self, proc: subprocess.Popen[bytes]) -> None:
        """Sample ``proc`` and its descendants until ``proc`` exits."""
        self.root = proc.pid
        tree = psutil.Process(proc.pid)
        while proc.poll() is None:
            self.sample(tree)
            time.sleep(self.interval)

    def sample(self, tree: psutil.Process) -> None:
        try:
            processes = [tree, *tree.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        total = 0.0
        for process in processes:
            try:
                key = (process.pid, process.create_time())
            except psutil.NoSuchProcess:
                continue
            peak = _status_mb(f"/proc/{process.pid}/status", "VmHWM:")
            if peak is not None:
                self.peaks[key] = max(peak, self.peaks.get(key, 0.0))
            total += _status_mb(f"/proc/{process.pid}/smaps_rollup", "Pss:") or 0.0
        self.tree_peak = max(self.tree_peak, total)

    def run_peak(self) -> float:
        return max((mb for (pid, _), mb in self.peaks.items() if pid == self.root), default=0.0)

    def child_peaks(self) -> list[float]:
        return [mb for (pid, _), mb in self.peaks.items() if pid != self.root]


def measure(lines: int, settings: dict[str, Any], interval: float) -> dict[str, Any]:
    """Ferry at about ``lines`` order lines: records, seconds and the tree's peaks in MB."""
    source, url = c.start_source(int(lines / c.LINES_PER_ORDER))
    database = c.fresh_database()
    peaks = TreePeaks(interval)
    try:
        result = c.ferry(url, database, settings=settings, watch=peaks.watch)
        counted = c.count_lines(database)
    finally:
        c.drop_database(database)
        c.stop_source(source)
    delivered = result["orders"]["delivered"]
    if not peaks.tree_peak:
        raise SystemExit("no sample of the Ferry process tree could read /proc/<pid>/smaps_rollup")
    if counted != delivered:
        raise SystemExit(f"ferry reported {delivered:,} order lines delivered, order_lines holds {counted:,}")
    run = max(peaks.run_peak(), result["peak_rss_mb"])
    children = peaks.child_peaks()
    largest_child = max([*children, result["worker_peak_rss_mb"]])
    return {
        "records": delivered,
        "seconds": result["orders"]["seconds"],
        "run": run,
        "children": len(children),
        "largest_child": largest_child,
        "tree": peaks.tree_peak,
        "max": max(run, largest_child),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="order line counts, smallest first")
    parser.add_argument("--settings", default="{}", help="JSON merged into Ferry's orders scheme settings")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between two samples")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size]
    print(f"ferry from {c.ferry_checkout() or 'an installed package'}")
    results = []
    for size in sizes:
        r = measure(size, json.loads(args.settings), args.interval)
        results.append(r)
        print(
            f"{r['records']:>10,} records ({r['seconds']:.1f} s): tree (Pss) {r['tree']:7.1f} MB; "
            f"largest process (VmHWM) {r['max']:7.1f} MB (run process {r['run']:.1f} MB, "
            f"{r['children']} children, largest {r['largest_child']:.1f} MB)"
        )
    if len(results) >= 2:
        first, last = results[0], results[-1]
        ratio = last["tree"] / first["tree"]
        verdict = "flat" if abs(ratio - 1) <= GOAL else "NOT flat"
        print(
            f"peak memory {last['records']:,} / {first['records']:,} records: tree {ratio:.2f}, "
            f"largest process {last['max'] / first['max']:.2f}  "
            f"(goal: within +-{GOAL:.0%}, {1 - GOAL:.2f}-{1 + GOAL:.2f}: {verdict})"
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
