"""`ferry check`: every connection logs in or connects for real, and a SQL target's tables and
columns are looked up, against the sandbox over HTTP and the machine's MariaDB. Each failure
names the connection and the fix; `ferry run` and `ferry serve` fail the same way, at once."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
from typer.testing import CliRunner, Result

from ferry.cli.main import app
from ferry.sandbox import Sandbox
from ferry.sandbox.seeds import examples_dir, examples_env
from ferry.sandbox.server import SandboxServer
from ferry.store import open_store

MES = "000-k3cloud-saleorder-status-to-mysql"
BI = "001-kuaimai-aftersale-to-mysql"
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


@pytest.fixture
def sandbox() -> Iterator[tuple[Sandbox, dict[str, str]]]:
    simulators = Sandbox.default(size=20, only=["k3cloud", "kuaimai"])
    with SandboxServer(simulators) as server:
        yield simulators, examples_env(simulators, server.urls())


@pytest.fixture
def database(mariadb_url: str) -> str:
    return mariadb_url.rsplit("/", 1)[1].split("?")[0]


@pytest.fixture
def examples(tmp_path: Path, database: str) -> Path:
    """Seeds 000 and 001, copied; 000's statement names the test's database instead of ty_mes."""
    folder = tmp_path / "examples"
    for name in (MES, BI):
        shutil.copytree(examples_dir() / name, folder / name)
    target = folder / MES / "target.json"
    target.write_text(target.read_text(encoding="utf-8").replace("ty_mes.", f"{database}."), encoding="utf-8")
    return folder


@pytest.fixture
def env(sandbox: tuple[Sandbox, dict[str, str]], mariadb_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **sandbox[1],
        "BI_MYSQL_URL": mariadb_url,
        "MOM_MYSQL_URL": mariadb_url,
        "FERRY_STORE_URL": f"sqlite:///{tmp_path / 'ferry.db'}",
        "COLUMNS": "400",
    }


def ferry(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def schemes(examples: Path) -> list[str]:
    return [str(examples / MES / "scheme.yaml"), str(examples / BI / "scheme.yaml")]


def row(output: str, connection: str) -> str:
    """The table row of ``connection`` (the first that names it)."""
    return next(line for line in output.splitlines() if connection in line)


def sql(database: str, statement: str) -> None:
    with pymysql.connect(**MARIADB, database=database, autocommit=True) as con:
        con.cursor().execute(statement)


def test_every_connection_passes_once_create_tables_ran_schema_sql(
    env: dict[str, str], examples: Path, database: str, mariadb_raw: Any
) -> None:
    result = ferry(env, "check", "--create-tables", *schemes(examples))

    assert result.exit_code == 0, result.output
    assert f"{MES}: ran schema.sql in {database}" in result.output
    assert "4 checks passed" in result.output
    assert "ok: connected; tables and columns present: aftersale_list_query" in row(
        result.output, "'bi_mysql'"
    )
    assert f"{database}.mt_so_head" in row(result.output, "'mom_mysql'")
    assert "ok: ExecuteBillQuery: first page of" in row(result.output, "kingdee_k3cloud connection 'k3cloud'")
    cur = mariadb_raw(database).cursor()
    cur.execute("SHOW TABLES")
    assert {r[0] for r in cur.fetchall()} == {"aftersale_list_query", "mt_so_head"}


@pytest.mark.parametrize(
    ("variable", "connection", "said", "fix"),
    [
        pytest.param(
            "KUAIMAI_APP_SECRET",
            "kuaimai connection 'kuaimai'",
            "vendor code",
            "app_secret",
            id="kuaimai-sign",
        ),
        pytest.param(
            "K3CLOUD_APP_SECRET",
            "kingdee_k3cloud connection 'k3cloud'",
            "LoginResultType",
            "app_secret",
            id="k3cloud-login",
        ),
    ],
)
def test_a_wrong_vendor_secret_fails_naming_the_connection_and_what_to_check(
    env: dict[str, str], examples: Path, variable: str, connection: str, said: str, fix: str
) -> None:
    ferry(env, "check", "--create-tables", *schemes(examples))  # the targets are fine
    result = ferry({**env, variable: "not-the-secret"}, "check", *schemes(examples))

    assert result.exit_code == 2, result.output
    failed = row(result.output, connection)
    assert "FAILED:" in failed and said in failed, failed
    assert fix in failed.split("FAILED:", 1)[1], "the hint says which credential to check"
    assert "not-the-secret" not in result.output
    assert "1 check failed" in result.output


def test_a_database_that_does_not_exist_fails_naming_the_connection_and_create_tables(
    env: dict[str, str], examples: Path
) -> None:
    missing = f"ferry_test_{uuid.uuid4().hex[:12]}"
    result = ferry(
        {**env, "BI_MYSQL_URL": f"mysql+pymysql://root@127.0.0.1:3306/{missing}"}, "check", *schemes(examples)
    )

    assert result.exit_code == 2, result.output
    failed = row(result.output, "sql connection 'bi_mysql'")
    assert f"FAILED: MySQL 1049: Unknown database '{missing}'" in failed
    assert "ferry check --create-tables SCHEME" in failed


def test_create_tables_creates_a_missing_database_and_its_tables(env: dict[str, str], examples: Path) -> None:
    missing = f"ferry_test_{uuid.uuid4().hex[:12]}"
    url = f"mysql+pymysql://root@127.0.0.1:3306/{missing}?charset=utf8mb4"
    try:
        result = ferry({**env, "BI_MYSQL_URL": url}, "check", "--create-tables", schemes(examples)[1])
        assert result.exit_code == 0, result.output
        assert f"{BI}: created database {missing}; ran schema.sql in {missing} (1 statement)" in result.output
        again = ferry({**env, "BI_MYSQL_URL": url}, "check", "--create-tables", schemes(examples)[1])
        assert again.exit_code == 0 and "created database" not in again.output  # idempotent
    finally:
        with pymysql.connect(**MARIADB, autocommit=True) as con:
            con.cursor().execute(f"DROP DATABASE IF EXISTS `{missing}`")


def test_create_tables_creates_the_connection_s_own_database_when_the_statement_names_another(
    env: dict[str, str], examples: Path, database: str
) -> None:
    own = f"ferry_test_{uuid.uuid4().hex[:12]}"  # the MOM URL names it; 000's UPDATE names `database`.
    url = f"mysql+pymysql://root@127.0.0.1:3306/{own}?charset=utf8mb4"
    try:
        result = ferry({**env, "MOM_MYSQL_URL": url}, "check", "--create-tables", schemes(examples)[0])
        assert result.exit_code == 0, result.output
        assert f"{MES}: created database {own}; ran schema.sql in {database} (1 statement)" in result.output
        assert "FAILED" not in row(result.output, "mom_mysql")
    finally:
        with pymysql.connect(**MARIADB, autocommit=True) as con:
            con.cursor().execute(f"DROP DATABASE IF EXISTS `{own}`")


def test_a_missing_table_fails_naming_the_statement_and_create_tables(
    env: dict[str, str], examples: Path
) -> None:
    result = ferry(env, "check", *schemes(examples))

    assert result.exit_code == 2, result.output
    failed = row(result.output, "sql connection 'bi_mysql'")
    assert "FAILED: main_sql: table aftersale_list_query does not exist" in failed
    assert "ferry check --create-tables SCHEME" in failed
    assert "2 checks failed" in result.output  # mt_so_head too


def test_a_missing_column_fails_naming_the_column_and_the_table_s_columns(
    env: dict[str, str], examples: Path, database: str
) -> None:
    ferry(env, "check", "--create-tables", *schemes(examples))
    sql(database, "ALTER TABLE aftersale_list_query DROP COLUMN qty")

    result = ferry(env, "check", *schemes(examples))

    assert result.exit_code == 2, result.output
    failed = row(result.output, "sql connection 'bi_mysql'")
    assert "FAILED: main_sql: table aftersale_list_query has no column qty (its columns: id, tid," in failed
    assert "ALTER TABLE aftersale_list_query ADD COLUMN qty" in failed


def test_the_key_column_of_an_update_s_where_is_checked_too(
    env: dict[str, str], examples: Path, database: str
) -> None:
    sql(database, "CREATE TABLE mt_so_head (SO_NO VARCHAR(64) PRIMARY KEY, SO_STATUS VARCHAR(16))")
    ferry(env, "check", "--create-tables", schemes(examples)[1])

    result = ferry(env, "check", *schemes(examples))

    assert result.exit_code == 2, result.output
    failed = row(result.output, "sql connection 'mom_mysql'")
    assert f"main_sql: table {database}.mt_so_head has no column SO_NUMBER" in failed
    assert "1 check failed" in result.output


def test_run_fails_before_collecting_when_the_target_table_is_missing(
    env: dict[str, str], examples: Path, sandbox: tuple[Sandbox, dict[str, str]]
) -> None:
    result = ferry(env, "run", schemes(examples)[1])

    assert result.exit_code == 2, result.output
    assert "sql connection 'bi_mysql'" in result.output
    assert "main_sql: table aftersale_list_query does not exist" in result.output
    assert "ferry check --create-tables SCHEME" in result.output
    assert sandbox[0]["kuaimai"].calls == [], "not one source page was read"
    with open_store(env["FERRY_STORE_URL"]) as store:
        [run] = store.list_runs()
        assert run["status"] == "failed" and run["counts"]["fetched"] == 0


def test_serve_refuses_to_start_listing_every_failed_check(env: dict[str, str], examples: Path) -> None:
    result = ferry(
        {**env, "KUAIMAI_APP_SECRET": "wrong"}, "serve", "--once", "--initial-run", *schemes(examples)
    )

    assert result.exit_code == 2, result.output
    assert "FAILED" in row(result.output, "kuaimai connection 'kuaimai'")
    assert "table aftersale_list_query does not exist" in row(result.output, "sql connection 'bi_mysql'")
    assert "does not exist" in row(result.output, "sql connection 'mom_mysql'")
    assert "refusing to start: 3 checks failed" in result.output
    with open_store(env["FERRY_STORE_URL"]) as store:
        assert store.list_runs() == [], "nothing ran"
    skipped = ferry(
        {**env, "KUAIMAI_APP_SECRET": "wrong"}, "serve", "--once", "--no-check", *schemes(examples)
    )
    assert "refusing" not in skipped.output
