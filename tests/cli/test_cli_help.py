"""Every command answers --help with a description and an example; the app registers them all."""

from __future__ import annotations

import pytest

from ferry import __version__
from ferry.cli.main import COMMAND_MODULES

COMMANDS = [
    pytest.param([], id="ferry"),
    pytest.param(["validate"], id="validate"),
    pytest.param(["run"], id="run"),
    pytest.param(["preview"], id="preview"),
    pytest.param(["runs"], id="runs"),
    pytest.param(["runs", "show"], id="runs-show"),
    pytest.param(["records"], id="records"),
    pytest.param(["records", "show"], id="records-show"),
    pytest.param(["replay"], id="replay"),
    pytest.param(["schema"], id="schema"),
    pytest.param(["store"], id="store"),
    pytest.param(["store", "info"], id="store-info"),
    pytest.param(["store", "migrate"], id="store-migrate"),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(ferry, command):
    result = ferry(*command, "--help", store=None)

    assert result.exit_code == 0, result.output
    assert "Usage: ferry" in result.output
    assert "Example" in result.output
    assert "ferry " in result.output.split("Example", 1)[1]


def test_short_help_flag_works(ferry):
    result = ferry("records", "-h", store=None)

    assert result.exit_code == 0
    assert "--status" in result.output


def test_top_level_help_lists_every_command(ferry):
    result = ferry("--help", store=None)

    for name in ("validate", "run", "preview", "runs", "records", "replay", "schema", "store"):
        assert f" {name} " in result.output, name
    assert "--store" in result.output
    assert "--debug" in result.output


def test_version_is_printed(ferry):
    result = ferry("--version", store=None)

    assert result.exit_code == 0
    assert result.output.strip() == f"ferry {__version__}"


def test_command_modules_each_register_something():
    import importlib

    for name in COMMAND_MODULES:
        assert callable(importlib.import_module(name).register), name


def test_unknown_command_is_a_usage_error(ferry):
    result = ferry("frobnicate", store=None)

    assert result.exit_code == 2
