"""An alerts file that is not a regular file is refused unopened: `ferry serve --alerts` never hangs on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_alerts_check_refuses_what_is_not_a_regular_file_with_exit_2(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "alerts.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path("/dev/zero")
    done = subprocess.run(
        [sys.executable, "-m", "ferry", "alerts", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,  # a regression fails here instead of hanging the suite
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot read alert config" in done.stderr
    assert "not a regular file" in done.stderr or "is a directory, not a file" in done.stderr
    assert "Traceback" not in done.stderr
