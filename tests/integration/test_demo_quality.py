"""`ferry demo`'s data-quality step: seed 001's rule quarantines KuaiMai work order 4000007
(served with status 99), the demo names the rule, the path, the value and the reason, and the
commands it prints fix and deliver the record when pasted into a shell after it, run from the
same folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

from ferry.store import Hold, RecordResult, open_store, quarantine

ROOT = Path(__file__).resolve().parents[2]
SCHEME = "001-kuaimai-aftersale-to-mysql"
RECORD = "4000007-0"
SIZE = 60


def ferry(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``ferry ARGS`` as a user runs it: from the checkout, with the demo's FERRY_HOME."""
    env = {**os.environ, "FERRY_HOME": str(home), "COLUMNS": "400"}
    env.pop("FERRY_STORE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "ferry", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )


def printed(output: str, *words: str) -> list[str]:
    """The one printed ``ferry ...`` command (to the end of its line) holding every one of
    ``words``, split like a shell, without the leading ``ferry``."""
    lines = [ln[ln.index("ferry --store") :] for ln in output.splitlines() if "ferry --store" in ln]
    [line] = [ln for ln in lines if all(w in shlex.split(ln) for w in words)]
    return shlex.split(line)[1:]


def quality_block(output: str) -> str:
    """The demo's "Data quality" block (up to the result line)."""
    match = re.search(r"^Data quality\n(.*?)^result:", output, re.S | re.M)
    assert match, output
    return match.group(1)


def target_row(home: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "demo" / "bi.db") as con:
        return con.execute(
            "SELECT id, outer_id, status FROM aftersale_list_query WHERE id = '4000007'"
        ).fetchall()


def target_count(home: Path) -> int:
    with sqlite3.connect(home / "demo" / "bi.db") as con:
        return int(con.execute("SELECT count(*) FROM aftersale_list_query").fetchone()[0])


def runs_of(home: Path) -> list[dict[str, int]]:
    """The counts of seed 001's runs, oldest first."""
    with sqlite3.connect(home / "demo" / "ferry.db") as con:
        rows = con.execute("SELECT counts FROM runs WHERE scheme_id = ? ORDER BY id", (SCHEME,)).fetchall()
    return [json.loads(counts) for (counts,) in rows]


def ledger_status(home: Path) -> str:
    with sqlite3.connect(home / "demo" / "ferry.db") as con:
        row = con.execute("SELECT status FROM ledger WHERE scheme_id = ? AND record_id = ?", (SCHEME, RECORD))
        return str(row.fetchone()[0])


def test_the_demo_holds_one_record_and_its_printed_edit_command_delivers_it_fixed(tmp_path: Path) -> None:
    first = ferry(tmp_path, "demo", "--size", str(SIZE))
    assert first.returncode == 0, first.stdout + first.stderr
    block = quality_block(first.stdout)
    assert f"{SCHEME}: 1 record quarantined (this run held it), not written to bi.db" in block
    assert f"record {RECORD} (KuaiMai work order 4000007, its one item line)" in block
    assert "rule status-known (quality.source): status = 99: must be one of [1, 2, 3, 4, 5]" in block
    assert "KuaiMai shows status 2 for this work order" in block
    assert "result: as planned, nothing else failing (exit 0)" in first.stdout
    # the accounting counts it: due = delivered + quarantined, and bi.db lacks exactly that line
    counts = runs_of(tmp_path)[-1]
    assert (counts["quarantined"], counts["due"]) == (1, counts["delivered"] + 1), counts
    assert target_row(tmp_path) == [] and ledger_status(tmp_path) == "quarantined"
    delivered = target_count(tmp_path)

    # A second demo holds nothing again and delivers nothing twice: it says the record still waits.
    second = ferry(tmp_path, "demo", "--size", str(SIZE))
    assert second.returncode == 0, second.stdout + second.stderr
    again = quality_block(second.stdout)
    assert re.search(rf"{SCHEME}: 1 record quarantined \(held since run \d+, still waiting", again), again
    assert second.stdout.count("Data quality") == 1 and second.stdout.count("quarantine edit") == 1
    assert (runs_of(tmp_path)[-1]["quarantined"], runs_of(tmp_path)[-1]["delivered"]) == (0, 0)
    assert ledger_status(tmp_path) == "quarantined" and target_count(tmp_path) == delivered

    # The printed fix, pasted as it is: edit status back to 2 and deliver at once.
    fix = printed(again, "quarantine", "edit")
    assert fix[-4:-2] == ["--set", "status=2"] and fix[-2:] == ["--now", f"examples/{SCHEME}/scheme.yaml"]
    fixed = ferry(tmp_path, *fix)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert f"record {RECORD} of scheme {SCHEME} edited and released by" in fixed.stdout
    assert target_row(tmp_path) == [("4000007", "SKU00019", 2)]
    assert ledger_status(tmp_path) == "finished" and target_count(tmp_path) == delivered + 1
    with open_store(f"sqlite:///{tmp_path / 'demo' / 'ferry.db'}") as store:
        [audit] = quarantine.audit_log(store, scheme_id=SCHEME)
    assert (audit.operation, audit.record_id, audit.status_before, audit.status_after) == (
        "edit", RECORD, "quarantined", "pending",
    )  # fmt: skip
    assert (audit.content_before or {})["status"] == 99 and (audit.content_after or {})["status"] == 2

    # The next demo says what the operator did, holds nothing again and writes nothing twice.
    third = ferry(tmp_path, "demo", "--size", str(SIZE))
    assert third.returncode == 0, third.stdout + third.stderr
    assert re.search(
        rf"{SCHEME}: record {RECORD} \(work order 4000007\) was edited and released by \S+ at .*; "
        r"it is finished now, nothing is held",
        quality_block(third.stdout),
    ), third.stdout
    assert ledger_status(tmp_path) == "finished" and target_count(tmp_path) == delivered + 1
    assert target_row(tmp_path) == [("4000007", "SKU00019", 2)]


def test_the_printed_release_delivers_the_record_as_it_is_and_another_hold_is_not_planned(
    tmp_path: Path,
) -> None:
    first = ferry(tmp_path, "demo", "--size", str(SIZE))
    assert first.returncode == 0, first.stdout + first.stderr
    release = printed(quality_block(first.stdout), "quarantine", "release")
    released = ferry(tmp_path, *release)
    assert released.returncode == 0, released.stdout + released.stderr
    assert target_row(tmp_path) == [("4000007", "SKU00019", 99)]  # as it is: the operator's call
    assert ledger_status(tmp_path) == "finished"

    # A record the demo did not plan to hold makes it exit 1 and says where to see it.
    with open_store(f"sqlite:///{tmp_path / 'demo' / 'ferry.db'}") as store:
        other = next(
            r.record_id
            for r in store.find_records(SCHEME, status="finished", limit=5)
            if r.record_id != RECORD
        )
        hold = Hold("status-known", "status", 7, "must be one of [1, 2, 3, 4, 5]", "source")
        store.record_results(SCHEME, [RecordResult(other, "quarantined", hold=hold)])
    second = ferry(tmp_path, "demo", "--size", str(SIZE))
    assert second.returncode == 1, second.stdout + second.stderr
    block = quality_block(second.stdout)
    assert f"record {RECORD} (work order 4000007) was released by" in block
    assert "not planned: 1 other record quarantined; see them: ferry --store sqlite:///" in block
    assert "result: not as planned (exit 1)" in second.stdout
    listed = ferry(tmp_path, *printed(block, "quarantine", "list"), "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert [h["record_id"] for h in json.loads(listed.stdout)] == [other]
