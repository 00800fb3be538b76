"""Hostile files for ``ferry validate`` and wildcard ids for ``ferry replay``, as data
(``hostile_inputs.yaml``): a clear message and exit 2, never an internal error, a traceback, a
flood of output or a hang."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry.store import RecordResult, Store

DATA = yaml.safe_load((Path(__file__).parent / "hostile_inputs.yaml").read_text(encoding="utf-8"))
_REPEAT = re.compile(r"<<(\d+):(.*?)>>", re.DOTALL)


def _expand(text: str, folder: Path) -> str:
    text = _REPEAT.sub(lambda m: m.group(2) * int(m.group(1)), text)
    return text.replace("{folder}", str(folder)).replace("{fifo}", str(folder / "hostile.fifo"))


def _target(case: dict[str, Any], folder: Path) -> str:
    """Arrange the case's files in ``folder``; the path to validate."""
    os.mkfifo(folder / "hostile.fifo")
    if "edit" in case:
        edit = case["edit"]
        file = folder / edit["file"]
        original = file.read_text(encoding="utf-8")
        assert edit["replace"] in original, f"{edit['file']} has no {edit['replace']!r}"
        file.write_text(original.replace(edit["replace"], _expand(edit["with"], folder)), encoding="utf-8")
        return str(folder / "products.yaml")
    if "write" in case:
        file = folder / case["write"]["file"]
        file.write_text(_expand(case["write"]["text"], folder), encoding="utf-8")
        return str(file)
    return _expand(case["path"], folder).replace("{nul}", "\x00")


def _validate_in_a_child(path: str, case: dict[str, Any]) -> tuple[int, str]:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ferry", "validate", path],
            stdin=subprocess.PIPE if case.get("stdin") == "pipe" else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"ferry validate {case['id']} did not finish in 60 s (a hang)")
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("case", DATA["validate"], ids=[c["id"] for c in DATA["validate"]])
def test_validate_answers_a_hostile_file_with_exit_2_and_a_message(ferry, shop, case):
    folder = Path(shop.schemes)
    path = _target(case, folder)

    started = time.monotonic()
    if case.get("subprocess"):
        code, output = _validate_in_a_child(path, case)
    else:
        result = ferry("validate", path, store=None)
        code, output = result.exit_code, result.output
    elapsed = time.monotonic() - started

    assert code == case.get("exit", 2), output[:2000]
    assert _expand(case["message"], folder) in output, output[:2000]
    assert "internal error" not in output and "Traceback" not in output
    assert len(output) <= case.get("max_output", 5000), f"{len(output):,} characters of output"
    assert elapsed < case.get("seconds", 20), f"took {elapsed:.1f} s"


@pytest.mark.parametrize("record_id", DATA["replay_wildcards"], ids=repr)
def test_replay_refuses_an_id_that_selects_everything(ferry, store: Store, record_id: str):
    store.save_scheme("shop-orders", "Shop orders", {"id": "shop-orders"})
    store.upsert_records("shop-orders", [("1", "SO-001", {}), ("2", "SO-002", {})])
    store.claim("shop-orders", 2, datetime.now(UTC))
    store.record_results("shop-orders", [RecordResult("1", "finished"), RecordResult("2", "dead", error="x")])
    before = store.count_by_status("shop-orders")

    result = ferry("replay", "shop-orders", "--id", record_id)

    said = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())  # unwrap the error box
    assert result.exit_code == 2, result.output
    assert f"{record_id!r} is blank or only wildcards, which would replay every record" in said
    assert "give exact record ids" in said
    assert store.count_by_status("shop-orders") == before
