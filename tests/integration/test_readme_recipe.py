"""The README followed literally on a fresh machine: its first set-up command's `ferry demo`, then
its serve recipe (users, sandbox with an env file, databases and tables, `ferry serve` with its
start-up runs), executed in a fresh folder with the commands read from README.md itself, so this
test fails when the README drifts from the code.

What a test must change, and nothing more: `ferry` is this Python's `-m ferry`; the password is
given on stdin (`--password-stdin`); the sandbox and the console listen on free ports; the two
MySQL databases get unique names (the environment wins over the env file, and the copied seed
000 names its database in its SQL) and are dropped at the end.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from console_seed import csrf_of
from ferry.sandbox import Sandbox
from ferry.sandbox.seeds import examples_dir
from ferry.store import open_store

README = Path(__file__).resolve().parents[2] / "README.md"
PASSWORD = "a-console-password"
SERVED = {
    "kis-material",
    "caf5709b-629b-3414-8bb2-97c82ce8c366",
    "000-k3cloud-saleorder-status-to-mysql",
    "001-kuaimai-aftersale-to-mysql",
    "002-jushuitan-otherinout-to-kis",
    "003-wdt-stockout-to-k3cloud-customer",
    "004-okki-receipts-to-k3cloud",
}


def bash_blocks(text: str) -> list[tuple[str, list[list[str]]]]:
    """Every ```bash block as (the heading above it, its commands split like a shell, comments dropped)."""
    blocks = []
    for match in re.finditer(r"```bash\n(.*?)```", text, re.S):
        heading = re.findall(r"^#+ .*$", text[: match.start()], re.M)
        commands = [shlex.split(line, comments=True) for line in match.group(1).splitlines()]
        blocks.append((heading[-1] if heading else "", [c for c in commands if c]))
    return blocks


def ferry_commands(words: list[str]) -> list[list[str]]:
    """The ``ferry ...`` commands of one line (``pip install -e . && ferry demo`` -> [[ferry, demo]])."""
    found: list[list[str]] = [[]]
    for word in words:
        if word in ("&&", ";"):
            found.append([])
        else:
            found[-1].append(word)
    return [c for c in found if c and c[0] == "ferry"]


def setup_demo() -> list[str]:
    """The `ferry` part of the README's first set-up command."""
    _, commands = bash_blocks(README.read_text(encoding="utf-8"))[0]
    [demo] = ferry_commands(commands[0])
    return demo


def serve_recipe() -> list[list[str]]:
    """The commands of the README's serve recipe (the bash block of the Scheduling section)."""
    [block] = [c for h, c in bash_blocks(README.read_text(encoding="utf-8")) if "Scheduling" in h]
    return block


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def expanded(words: list[str], cwd: Path) -> list[str]:
    """Globs expanded as bash does (sorted; a pattern without a match stays as it is)."""
    out: list[str] = []
    for word in words:
        matches = sorted(glob.glob(word, root_dir=cwd)) if any(c in word for c in "*?[") else []
        out += matches or [word]
    return out


def wait_until(check: Callable[[], Any], what: str, seconds: float, proc: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"the process ended (exit {proc.returncode}) before {what}")
        time.sleep(0.5)
    pytest.fail(f"timed out after {seconds:.0f}s waiting for {what}")


class Shell:
    """Runs the README's commands in one folder with one environment, as a terminal would."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = cwd, env
        self.background: list[subprocess.Popen[str]] = []

    def argv(self, words: list[str]) -> list[str]:
        assert words[0] == "ferry", words
        return [sys.executable, "-m", "ferry", *expanded(words[1:], self.cwd)]

    def run(self, words: list[str], *, stdin: str | None = None, timeout: float = 300) -> str:
        done = subprocess.run(
            self.argv(words),
            cwd=self.cwd,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        said = done.stdout + done.stderr
        assert done.returncode == 0, f"{shlex.join(words)} exited {done.returncode}:\n{said}"
        return said

    def start(self, words: list[str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            self.argv(words),
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.background.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.background:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


@pytest.fixture
def databases(mariadb_raw: Any) -> Iterator[dict[str, str]]:
    """Unique names for the recipe's databases bi and ty_mes; the recipe creates them, we drop them."""
    names = {
        "bi": f"ferry_test_{uuid.uuid4().hex[:12]}_bi",
        "ty_mes": f"ferry_test_{uuid.uuid4().hex[:12]}_mes",
    }
    yield names
    con = mariadb_raw()
    for name in names.values():
        con.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    con.close()


@pytest.fixture
def fresh_folder(tmp_path: Path, databases: dict[str, str]) -> Path:
    """An empty folder holding a copy of examples/ (the recipe names examples/...), seed 000's
    SQL naming the unique database instead of ty_mes."""
    folder = tmp_path / "fresh"
    shutil.copytree(examples_dir(), folder / "examples")
    for target in (folder / "examples").glob("000-*/target.json"):
        target.write_text(
            target.read_text(encoding="utf-8").replace("ty_mes.", f"{databases['ty_mes']}."), encoding="utf-8"
        )
    return folder


@pytest.fixture
def shell(fresh_folder: Path, databases: dict[str, str]) -> Iterator[Shell]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FERRY_", "K3CLOUD_", "KUAIMAI_", "JST_", "KIS_", "WDT_", "OKKI_"))
        and k not in ("BI_MYSQL_URL", "MOM_MYSQL_URL")
    }
    env |= {
        "COLUMNS": "200",
        "BI_MYSQL_URL": f"mysql+pymysql://root@127.0.0.1:3306/{databases['bi']}?charset=utf8mb4",
        "MOM_MYSQL_URL": f"mysql+pymysql://root@127.0.0.1:3306/{databases['ty_mes']}?charset=utf8mb4",
    }
    runner = Shell(fresh_folder, env)
    yield runner
    runner.stop_all()


def expected_closed_orders() -> set[str]:
    """The sales orders K3Cloud closed or cancelled: what seed 000 sets CLOSED in the MES."""
    bills = Sandbox.default(size=200, only=["k3cloud"])["k3cloud"].bills("SAL_SaleOrder")  # type: ignore[attr-defined]
    return {b["FBillNo"] for b in bills if b["FCloseStatus"] == "B" or b["FCancelStatus"] == "B"}


def test_the_readme_serve_recipe_followed_literally_after_the_demo_delivers_into_mariadb(
    shell: Shell, fresh_folder: Path, databases: dict[str, str], mariadb_raw: Any
) -> None:
    recipe = serve_recipe()
    assert [c[1:3] for c in recipe] == [
        ["users", "add"],
        ["sandbox", "--write-env"],
        ["--env-file", ".env"],
        ["--env-file", ".env"],
    ], "the README's serve recipe changed: users, sandbox with an env file, check, serve"
    users, sandbox, check, serve = recipe
    assert sandbox[-1] == "&" and "--create-tables" in check and "serve" in serve

    # the README's first command, then the recipe, in the same folder
    shell.run(setup_demo())
    assert (fresh_folder / ".ferry" / "demo" / "ferry.db").is_file()
    shell.run([*users, "--password-stdin"], stdin=PASSWORD + "\n")
    server = shell.start([*sandbox[:-1], "--port", "0"])
    env_file = fresh_folder / sandbox[sandbox.index("--write-env") + 1]
    wait_until(env_file.is_file, "the sandbox's env file", 60, server)
    said = shell.run(check)
    assert f"created database {databases['bi']}" in said and f"created database {databases['ty_mes']}" in said
    assert "checks passed" in said and "FAILED" not in said

    port = free_port()
    began = datetime.now(UTC)
    served = shell.start([*serve, "--port", str(port)])
    mes, bi = mariadb_raw(databases["ty_mes"]), mariadb_raw(databases["bi"])

    def count(con: Any, sql: str) -> int:
        cur = con.cursor()
        cur.execute(sql)
        return int(cur.fetchone()[0])

    wait_until(
        lambda: count(bi, "SELECT COUNT(*) FROM aftersale_list_query") > 0,
        "001's rows in MariaDB (its start-up run follows the helpers' and 000's)",
        240,
        served,
    )
    store_url = f"sqlite:///{fresh_folder / '.ferry' / 'ferry.db'}"
    with open_store(store_url) as store:  # (a crontab slot passing meanwhile may add a later run)
        run_000 = min(store.list_runs("000-k3cloud-saleorder-status-to-mysql"), key=lambda r: r["id"])
        stored = sorted(store.list_runs(), key=lambda r: r["id"])
        order = [r["scheme_id"] for r in stored]
    assert list(dict.fromkeys(order))[:4] == [
        "kis-material",
        "caf5709b-629b-3414-8bb2-97c82ce8c366",
        "000-k3cloud-saleorder-status-to-mysql",
        "001-kuaimai-aftersale-to-mysql",
    ], "lookup schemes first, then in the order given"
    assert run_000["status"] == "succeeded", run_000
    cur = mes.cursor()
    cur.execute("SELECT SO_NUMBER FROM mt_so_head WHERE SO_STATUS='CLOSED'")
    assert {r[0] for r in cur.fetchall()} == expected_closed_orders()

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as web:
        login = web.get("/login")
        answer = web.post(
            "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_of(login.text)}
        )
        assert answer.status_code == 303, answer.text
        runs = web.get("/api/runs", params={"limit": 1000}).json()
    assert runs and {r["scheme_id"] for r in runs} <= SERVED
    assert all(datetime.fromisoformat(r["started_at"]) >= began for r in runs), "no run of the demo is shown"
    console_000 = next(r for r in runs if r["id"] == run_000["id"])
    assert console_000["counts"]["delivered"] == len(expected_closed_orders())
    assert {r["id"] for r in stored} <= {r["id"] for r in runs}, "every run of this deployment is shown"

    served.send_signal(signal.SIGTERM)
    out, _ = served.communicate(timeout=60)
    assert served.returncode == 0, out
    assert "at start, each scheme runs once, lookup schemes first" in out
    assert out.rstrip().endswith("stopped")
