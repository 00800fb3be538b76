"""Errors: one clear line and the right exit code, no traceback unless --debug, no secrets."""

from __future__ import annotations

import pytest

from ferry.errors import FatalError
from ferry.store import Store


def test_unreachable_store_is_one_line_without_the_password(ferry):
    result = ferry("runs", store="mysql+pymysql://root:topsecret@127.0.0.1:1/ferry")

    assert result.exit_code == 1
    assert "topsecret" not in result.output
    assert result.output.startswith("error: store: ")
    assert "Traceback" not in result.output


def test_malformed_store_url_is_a_configuration_error(ferry):
    result = ferry("records", store="not-a-url")

    assert result.exit_code == 2
    assert "error: store URL 'not-a-url' is not a URL" in result.output
    assert "hint:" in result.output


def test_store_url_from_the_environment(ferry, monkeypatch, tmp_path):
    monkeypatch.setenv("FERRY_STORE_URL", f"sqlite:///{tmp_path / 'env.db'}")

    result = ferry("store", "info", store=None)

    assert result.exit_code == 0, result.output
    assert "env.db" in result.output


def test_default_store_lives_in_ferry_home(ferry, tmp_path):
    result = ferry("store", "info", "--json", store=None)

    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "ferry.db").exists()


def test_a_ferry_error_exits_1_with_its_message(ferry, store, monkeypatch):
    def broken(self, *args, **kwargs):
        raise FatalError("store: reading runs failed: disk I/O error")

    monkeypatch.setattr(Store, "list_runs", broken)

    result = ferry("runs")

    assert result.exit_code == 1
    assert result.output == "error: store: reading runs failed: disk I/O error\n"


def test_an_unexpected_exception_is_reported_as_internal_error_without_traceback(ferry, store, monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("something odd")

    monkeypatch.setattr(Store, "list_runs", broken)

    result = ferry("runs")

    assert result.exit_code == 1
    assert "error: internal error: RuntimeError: something odd" in result.output
    assert "--debug" in result.output
    assert "Traceback" not in result.output


def test_debug_adds_the_traceback(ferry, store, sqlite_url, monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("something odd")

    monkeypatch.setattr(Store, "list_runs", broken)

    result = ferry("--debug", "runs")

    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.output
    assert "error: internal error: RuntimeError: something odd" in result.output


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["run"], id="run-without-files"),
        pytest.param(["runs", "show", "abc"], id="non-numeric-run-id"),
        pytest.param(["records", "show", "only-scheme"], id="record-show-missing-id"),
    ],
)
def test_usage_errors_exit_2(ferry, store, args):
    assert ferry(*args).exit_code == 2


def test_store_info_lists_schemes_with_counts_per_state(ferry, store):
    store.save_scheme("s1", "订单", {})
    store.upsert_records("s1", [("1", None, {}), ("2", None, {})])

    result = ferry("store", "info")

    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("s1 "))
    assert line.split() == ["s1", "订单", "2", "0", "0", "0", "0"]
    assert f"revision: {store.current_revision()}" in result.output


def test_store_migrate_reports_the_revision(ferry, store):
    result = ferry("store", "migrate")

    assert result.exit_code == 0
    assert f"is at revision {store.head_revision()}" in result.output
