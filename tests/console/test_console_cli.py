"""``ferry users ...`` and ``ferry console FILES...`` (the server itself is replaced by a capture)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from console_env import csrf_of
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ferry.cli.main import app
from ferry.console import SchemeFiles, authenticate, list_users
from ferry.sandbox import Sandbox
from ferry.sandbox.seeds import examples_dir, sandbox_env
from ferry.store import open_store

SEED_FOLDER = "002-jushuitan-otherinout-to-kis"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ferry.db'}"


@pytest.fixture
def seed_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables seed 002's connections.yaml reads (the sandbox's demo credentials)."""
    for name, value in sandbox_env(Sandbox.default(size=1, only=["jushuitan", "kis"])).items():
        monkeypatch.setenv(name, value)


def ferry(store_url: str, *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, ["--store", store_url, *args], input=stdin)


def test_users_add_from_stdin_list_and_remove(store_url: str) -> None:
    created = ferry(store_url, "users", "add", "ops", "--password-stdin", stdin="s3cret-password\n")
    again = ferry(store_url, "users", "add", "ops", "--password-stdin", stdin="other-password\n")
    short = ferry(store_url, "users", "add", "dev", "--password-stdin", stdin="short\n")

    assert created.exit_code == 0 and "user ops created" in created.output
    assert again.exit_code == 2 and "already exists" in again.output and "--replace" in again.output
    assert short.exit_code == 2 and "at least 8" in short.output
    with open_store(store_url) as store:
        assert authenticate(store, "ops", "s3cret-password")
        assert not authenticate(store, "ops", "other-password")
    listing = ferry(store_url, "users", "list")
    assert "ops" in listing.output and "s3cret" not in listing.output
    assert ferry(store_url, "users", "remove", "ops").exit_code == 0
    assert ferry(store_url, "users", "remove", "ops").exit_code == 2
    with open_store(store_url) as store:
        assert list_users(store) == []


def test_users_add_asks_twice_for_the_password(store_url: str) -> None:
    result = ferry(store_url, "users", "add", "ops", stdin="long-password\nlong-password\n")
    assert result.exit_code == 0, result.output
    assert "long-password" not in result.output


@pytest.mark.usefixtures("seed_env")
def test_console_serves_the_scheme_files_and_lists_the_broken_ones(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    monkeypatch.setenv("FERRY_CONSOLE_SECRET", "a-secret-for-the-test")
    folder = tmp_path / "seed"
    shutil.copytree(examples_dir() / SEED_FOLDER, folder)
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "id: broken\nname: b\nsource: {connection: x, metadata: missing.json}\n", encoding="utf-8"
    )
    assert (
        ferry(store_url, "users", "add", "ops", "--password-stdin", stdin="s3cret-password\n").exit_code == 0
    )

    result = ferry(store_url, "console", str(folder / "scheme.yaml"), str(broken), "--port", "8123")

    assert result.exit_code == 0, result.output
    assert served["port"] == 8123 and served["host"] == "127.0.0.1"
    assert f"INVALID {broken}" in result.output and "1 scheme loaded" in result.output
    client = TestClient(served["app"])
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": "ops", "password": "s3cret-password", "csrf_token": token})
    listing = client.get("/schemes").text
    assert "002-jushuitan-otherinout-to-kis" in listing and "jushuitan" in listing
    assert str(broken) in listing and "target" in listing


def test_console_lists_the_rules_of_its_alerts_file(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    bad = tmp_path / "bad-alerts.yaml"
    bad.write_text("rules: [{type: no_such_rule}]\n", encoding="utf-8")
    assert (
        ferry(store_url, "users", "add", "ops", "--password-stdin", stdin="s3cret-password\n").exit_code == 0
    )

    refused = ferry(store_url, "console", "--alerts", str(bad))
    assert refused.exit_code == 2 and "type must be one of" in refused.output and not served

    result = ferry(store_url, "console", "--alerts", str(EXAMPLES / "alerts.yaml"))
    assert result.exit_code == 0, result.output
    client = TestClient(served["app"])
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": "ops", "password": "s3cret-password", "csrf_token": token})
    rules = client.get("/alerts").text.split('id="rules"')[1]
    assert "kuaimai-stalled" in rules and "ops-dingtalk, mail" in rules


def test_console_refuses_missing_files(store_url: str, tmp_path: Path) -> None:
    result = ferry(store_url, "console", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "no such scheme file" in result.output


def test_console_and_users_have_help_with_an_example(store_url: str) -> None:
    for command in (["console"], ["users", "add"], ["users", "list"], ["users", "remove"]):
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output, command


@pytest.mark.usefixtures("seed_env")
def test_scheme_files_reload_when_a_file_changes(tmp_path: Path) -> None:
    folder = tmp_path / "seed"
    shutil.copytree(examples_dir() / SEED_FOLDER, folder)
    files = SchemeFiles([folder / "scheme.yaml"])
    [first] = files.schemes().values()
    assert files.issues() == {} and files.schemes()[first.id] is first, "unchanged files are not reloaded"

    text = (folder / "scheme.yaml").read_text(encoding="utf-8")
    (folder / "scheme.yaml").write_text(text.replace("step: 7d", "step: oops"), encoding="utf-8")
    import os

    os.utime(folder / "scheme.yaml", (1, 1))

    assert files.schemes() == {}
    [issues] = files.issues().values()
    assert any(i.path == "window.step" for i in issues)
