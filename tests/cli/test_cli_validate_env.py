"""`ferry validate` with the variables of connections: every unset ${VAR} in one pass, connections
files read as such, `--env-file` (the file `ferry sandbox --write-env` writes), lookup cycles."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ferry.cli._envfile import load_env_file, read_env_file, write_env_file
from ferry.cli.main import app
from ferry.errors import ConfigError
from ferry.sandbox import Sandbox
from ferry.sandbox.seeds import examples_dir, examples_env

EXAMPLES = examples_dir()
SCHEMES = sorted(str(p) for p in EXAMPLES.glob("*/*.yaml"))
VARIABLES = {"K3CLOUD_URL", "K3CLOUD_ACCT_ID", "K3CLOUD_USERNAME", "K3CLOUD_APP_ID", "K3CLOUD_APP_SECRET"}


def validate(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [*args], env={"COLUMNS": "300", **(env or {})})


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable of the examples is set (whatever the machine's environment holds)."""
    for name in examples_env(Sandbox({})):
        monkeypatch.delenv(name, raising=False)


def test_every_unset_variable_of_a_scheme_file_is_reported_in_one_pass(bare_env: None) -> None:
    result = validate("validate", str(EXAMPLES / "000-k3cloud-saleorder-status-to-mysql" / "scheme.yaml"))

    assert result.exit_code == 2, result.output
    assert "6 errors" in result.output
    for name in [*VARIABLES, "MOM_MYSQL_URL"]:
        assert f"environment variable {name} is not set" in result.output, name
    assert (
        "connections.k3cloud.app_secret: field app_secret references ${K3CLOUD_APP_SECRET}" in result.output
    )
    assert "ferry --env-file FILE" in result.output  # the way out is named


def test_a_connections_file_is_validated_as_connections_not_as_metadata(bare_env: None) -> None:
    path = EXAMPLES / "002-jushuitan-otherinout-to-kis" / "connections.yaml"
    env = {k: v for k, v in examples_env(Sandbox({})).items() if k.startswith(("JST_", "KIS_"))}

    result = validate("validate", str(path), env=env)

    assert result.exit_code == 0, result.output
    assert "cannot tell whether this is source or target metadata" not in result.output
    assert "connections: jushuitan connection 'jushuitan', kingdee_kis connection 'kis'" in result.output
    assert "ledger connection 'qeasy_store'" in result.output

    env.pop("KIS_AUTH_CODE")
    env.pop("JST_APP_SECRET")
    again = validate("validate", str(path), env=env)
    assert again.exit_code == 2
    assert "connections.jushuitan.app_secret" in again.output and "connections.kis.auth_code" in again.output


def test_the_shipped_examples_validate_with_the_env_file_the_sandbox_writes(
    bare_env: None, tmp_path: Path
) -> None:
    env_file = write_env_file(tmp_path / ".env", examples_env(Sandbox({})), header="test")

    without = validate("validate", *SCHEMES)
    result = validate("--env-file", str(env_file), "validate", *SCHEMES)

    assert without.exit_code == 2
    assert result.exit_code == 0, result.output
    assert f"{len(SCHEMES)} files: {len(SCHEMES)} valid, 0 invalid" in result.output
    assert "INVALID" not in result.output


def test_the_environment_wins_over_the_env_file_and_quoting_round_trips(tmp_path: Path) -> None:
    values = {
        "PLAIN": "http://127.0.0.1:8700/k3cloud",
        "URL": "mysql+pymysql://u:p#w?@h:3306/bi?charset=utf8mb4",
        "SPACES": "a b 'c'",
    }
    path = write_env_file(tmp_path / ".env", values, header="two lines\nof header")
    assert read_env_file(path) == values
    assert path.stat().st_mode & 0o077 == 0, "the file holds credentials: owner only"

    environ = {"PLAIN": "already set"}
    added = load_env_file(path, environ)
    assert environ["PLAIN"] == "already set" and sorted(added) == ["SPACES", "URL"]


def test_a_line_that_is_no_assignment_is_named_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.env"
    bad.write_text("# fine\nK3CLOUD_URL=http://x\nthis is not an assignment\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.env:3: not a KEY=VALUE line"):
        read_env_file(bad)

    result = validate("--env-file", str(bad), "validate", SCHEMES[0])
    assert result.exit_code == 2
    assert "bad.env:3" in result.output
    missing = validate("--env-file", str(tmp_path / "nope.env"), "validate", SCHEMES[0])
    assert missing.exit_code == 2 and "cannot read the env file" in missing.output


def _lookup_scheme(folder: Path, scheme_id: str, looks_up_in: str) -> Path:
    """A scheme of a SQLite source and target whose target value looks up in ``looks_up_in``."""
    db = folder / f"{scheme_id}.db"
    raw = {
        "id": scheme_id,
        "name": scheme_id,
        "source": {
            "connection": {"type": "sql", "url": f"sqlite:///{db}"},
            "metadata": {"api": "SELECT id FROM t ORDER BY id", "effect": "QUERY", "id": "id"},
        },
        "target": {
            "connection": {"type": "ledger"},
            "metadata": {
                "api": "save",
                "effect": "EXECUTE",
                "request": [
                    {"field": "id", "value": "{id}"},
                    {
                        "field": "other",
                        "value": f"_findCollection find id from {looks_up_in} where id={{id}}",
                    },
                ],
            },
        },
        "window": {"start": "2024-05-01 00:00:00", "step": "1d"},
    }
    path = folder / f"{scheme_id}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_schemes_that_look_up_in_each_other_fail_validation_naming_the_cycle(tmp_path: Path) -> None:
    a = _lookup_scheme(tmp_path, "orders", "customers")
    b = _lookup_scheme(tmp_path, "customers", "orders")
    alone = validate("validate", str(a))
    assert alone.exit_code == 0, alone.output  # a lookup into a scheme not given is fine

    result = validate("validate", str(a), str(b))
    assert result.exit_code == 2, result.output
    assert re.search(r"lookup cycle: (orders|customers) -> (?!\1)(orders|customers) -> \1 ", result.output)
    assert "their lookups form a cycle" in result.output

    for command in ("run", "serve", "check"):
        refused = validate(command, str(a), str(b))
        assert refused.exit_code == 2, (command, refused.output)
        assert "lookup cycle" in refused.output, command


def test_the_example_env_names_every_variable_the_examples_read() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in EXAMPLES.glob("*/connections.yaml"))
    refs = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    env = examples_env(Sandbox({}))
    assert refs <= set(env), refs - set(env)
    assert env["BI_MYSQL_URL"].endswith("/bi?charset=utf8mb4")
    assert env["MOM_MYSQL_URL"].endswith("/ty_mes?charset=utf8mb4")
    assert json.dumps(env)  # plain strings only


def test_a_copied_example_folder_validates_with_relative_paths(bare_env: None, tmp_path: Path) -> None:
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder)
    env_file = write_env_file(tmp_path / ".env", examples_env(Sandbox({})))
    result = validate(
        "--env-file", str(env_file), "validate", *sorted(str(p) for p in folder.glob("*/*.yaml"))
    )
    assert result.exit_code == 0, result.output
