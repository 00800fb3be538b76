"""The tree stays ruff-clean (lint and format) and mypy-clean, as docs/style.md asks; CI fails otherwise."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "args", [["check", "src", "tests"], ["format", "--check", "src", "tests"]], ids=["lint", "format"]
)
def test_ruff_is_clean(args):
    ruff = shutil.which("ruff")
    assert ruff, "ruff is a test dependency: pip install -e '.[test]'"
    proc = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean_on_src(tmp_path):
    mypy = shutil.which("mypy")
    assert mypy, "mypy is a test dependency: pip install -e '.[test]'"
    proc = subprocess.run(
        [mypy, "src", "--cache-dir", str(tmp_path / "mypy")], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
