"""Connection specs and the registry: parsing, ${VAR} expansion, errors, secrets, lazy building."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from ferry.connectors import registry
from ferry.connectors.base import PageState, SourceConnector, TargetConnector
from ferry.connectors.http import HttpConnector
from ferry.connectors.registry import (
    CONNECTION_TYPES,
    build_source,
    build_target,
    load_connections,
    parse_connection,
    register_connection_type,
)
from ferry.connectors.specs import ConnectionSpec, HttpConnection, SqlConnection, expand_env, mask_url
from ferry.connectors.sql import SqlConnector
from ferry.errors import ConfigError

PASSWORD = "Pa55-w0rd!"


def test_unknown_type_lists_the_known_types() -> None:
    with pytest.raises(ConfigError) as info:
        parse_connection({"type": "oracle", "name": "legacy"}, path="connections.yaml:legacy")
    message = str(info.value)
    assert message.startswith("connections.yaml:legacy: unknown connection type 'oracle'")
    assert (
        "known: http, jushuitan, kingdee_k3cloud, kingdee_kis, kuaimai, ledger, okki, sql, wangdiantong"
        in message
    )


def test_missing_type_is_reported_with_the_known_types() -> None:
    with pytest.raises(
        ConfigError,
        match="connection 'x' has no type\n  hint: set type to one of: http, jushuitan, kingdee_k3cloud, kingdee_kis, kuaimai, ledger, okki, sql, wangdiantong",
    ):
        parse_connection({"name": "x", "url": "sqlite://"}, path="p")


def test_env_references_are_expanded_in_every_string_field() -> None:
    env = {"DB_PW": PASSWORD, "HOST": "db.internal", "TOKEN": "t0k"}
    sql = parse_connection(
        {"type": "sql", "name": "erp", "url": "mysql+pymysql://app:${DB_PW}@${HOST}:3306/erp"},
        path="p",
        env=env,
    )
    assert isinstance(sql, SqlConnection)
    assert sql.url.get_secret_value() == f"mysql+pymysql://app:{PASSWORD}@db.internal:3306/erp"
    http = parse_connection(
        {
            "type": "http",
            "name": "shop",
            "base_url": "https://${HOST}/api",
            "auth": {"type": "bearer", "value": "${TOKEN}"},
            "headers": {"X-Env": "${STAGE:-prod}", "X-Price": "$$5"},
        },
        path="p",
        env=env,
    )
    assert isinstance(http, HttpConnection)
    assert http.base_url == "https://db.internal/api"
    assert http.auth is not None and http.auth.value.get_secret_value() == "t0k"
    assert {k: v.get_secret_value() for k, v in http.headers.items()} == {"X-Env": "prod", "X-Price": "$5"}


def test_missing_env_var_names_connection_field_and_variable() -> None:
    with pytest.raises(ConfigError) as info:
        parse_connection(
            {
                "type": "http",
                "name": "shop",
                "base_url": "https://x",
                "auth": {"type": "bearer", "value": "${SHOP_TOKEN}"},
            },
            path="p",
            env={},
        )
    message = str(info.value)
    assert "connection 'shop'" in message
    assert "field auth.value" in message
    assert "environment variable SHOP_TOKEN is not set" in message


def test_expand_env_does_not_mutate_its_input() -> None:
    data = {"a": ["${X}"], "b": {"c": "${X}"}}
    assert expand_env(data, connection="c", env={"X": "1"}) == {"a": ["1"], "b": {"c": "1"}}
    assert data == {"a": ["${X}"], "b": {"c": "${X}"}}


def test_invalid_fields_are_all_reported_with_paths_and_secrets_never_quoted() -> None:
    data = {
        "type": "http",
        "name": "shop",
        "base_url": "ftp://nope",
        "timeout": -1,
        "paging": {"style": "cursor", "page_sise": 10},
        "auth": {"type": "basic", "value": PASSWORD},
    }
    with pytest.raises(ConfigError) as info:
        parse_connection(data, path="connections.yaml:shop")
    message = str(info.value)
    assert message.startswith("connections.yaml:shop: ")
    assert "base_url: String should match pattern" in message
    assert "(got 'ftp://nope')" in message
    assert "timeout: Input should be greater than 0 (got -1)" in message
    assert "paging.page_sise: Extra inputs are not permitted" in message
    assert "auth.type: Input should be 'header', 'query' or 'bearer' (got 'basic')" in message
    assert PASSWORD not in message


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        pytest.param({"paging": {"style": "cursor"}}, "needs cursor_path", id="cursor-without-path"),
        pytest.param({"last_page": "total"}, "needs total_path", id="total-without-path"),
        pytest.param({"last_page": {"rule": "flag"}}, "needs flag_path", id="flag-without-path"),
        pytest.param(
            {"paging": {"page_size": 500, "max_page_size": 100}}, "exceeds max_page_size", id="page-size"
        ),
    ],
)
def test_http_paging_rules_are_checked_for_consistency(spec: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_connection({"type": "http", "name": "x", "base_url": "https://x", **spec}, path="p")


def test_sql_url_must_look_like_a_url_and_is_never_quoted() -> None:
    with pytest.raises(ConfigError) as info:
        parse_connection({"type": "sql", "name": "db", "url": f"root:{PASSWORD}@localhost"}, path="p")
    assert "url: Value error, must be a SQLAlchemy URL" in str(info.value)
    assert PASSWORD not in str(info.value)


def test_last_page_accepts_a_string_shorthand() -> None:
    spec = parse_connection(
        {"type": "http", "name": "x", "base_url": "https://x", "last_page": "empty"}, path="p"
    )
    assert isinstance(spec, HttpConnection)
    assert spec.last_page.rule == "empty"


def test_sql_password_is_masked_in_repr_label_and_secret_list() -> None:
    spec = parse_connection(
        {"type": "sql", "name": "erp", "url": f"mysql+pymysql://app:{PASSWORD}@db:3306/erp"}, path="p"
    )
    assert isinstance(spec, SqlConnection)
    assert PASSWORD not in repr(spec)
    assert spec.label() == "sql connection 'erp' (mysql+pymysql://app:***@db:3306/erp)"
    assert PASSWORD in spec.secret_values()


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        pytest.param(
            "postgresql+psycopg://u:p%40ss@h:5432/db", "postgresql+psycopg://u:***@h:5432/db", id="pg"
        ),
        pytest.param("mysql+pymysql://u@h/db", "mysql+pymysql://u@h/db", id="no-password"),
        pytest.param("sqlite:///tmp/x.db", "sqlite:///tmp/x.db", id="sqlite"),
        pytest.param(
            "mysql://h/db?user=u&password=pw&x=1", "mysql://h/db?user=u&password=***&x=1", id="query"
        ),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_load_connections_from_yaml_names_each_by_its_key(tmp_path: Path) -> None:
    path = tmp_path / "connections.yaml"
    path.write_text(
        textwrap.dedent(
            """
            erp_db:
              type: sql
              url: sqlite:///${DATA}/erp.db
            shop:
              type: http
              base_url: https://api.example.com
              paging: {style: offset, size_param: limit}
              records_path: data.rows
            """
        ),
        encoding="utf-8",
    )
    connections = load_connections(path, env={"DATA": "/srv"})
    assert set(connections) == {"erp_db", "shop"}
    assert connections["erp_db"].name == "erp_db"
    assert isinstance(connections["erp_db"], SqlConnection)
    assert connections["erp_db"].masked_url() == "sqlite:////srv/erp.db"
    assert isinstance(connections["shop"], HttpConnection)
    assert connections["shop"].paging.style == "offset"


def test_load_connections_errors_carry_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "connections.yaml"
    path.write_text("shop:\n  type: http\n  name: other\n  base_url: https://x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"connections.yaml:shop: name 'other' differs from its key 'shop'"):
        load_connections(path)
    with pytest.raises(ConfigError, match="cannot read connections file"):
        load_connections(tmp_path / "missing.yaml")
    path.write_text("a: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_connections(path)


def test_load_connections_accepts_a_mapping() -> None:
    connections = load_connections({"local": {"type": "sql", "url": "sqlite://"}})
    assert connections["local"].name == "local"


def test_build_source_and_target_construct_the_registered_implementations(tmp_path: Path) -> None:
    sql = parse_connection({"type": "sql", "name": "db", "url": f"sqlite:///{tmp_path}/x.db"}, path="p")
    http = parse_connection({"type": "http", "name": "api", "base_url": "https://x"}, path="p")
    source = build_source(sql)
    target = build_target(http, transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[])))
    assert isinstance(source, SqlConnector) and isinstance(source, SourceConnector)
    assert isinstance(target, HttpConnector) and isinstance(target, TargetConnector)
    assert target.fetch("/x", "GET", {}, PageState()).records == []
    source.close()
    target.close()


def test_a_new_connection_type_plugs_in_with_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CONNECTION_TYPES, "readonly", f"{__name__}:ReadOnlyConnection")
    spec = parse_connection({"type": "readonly", "name": "ro"}, path="p")
    assert isinstance(build_source(spec), FakeSource)
    with pytest.raises(
        ConfigError,
        match="cannot be used as a target; types usable as a target: http, kingdee_k3cloud, kingdee_kis, ledger, sql",
    ):
        build_target(spec)


def test_register_connection_type_adds_to_the_known_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "CONNECTION_TYPES", dict(CONNECTION_TYPES))
    register_connection_type("readonly", f"{__name__}:ReadOnlyConnection")
    with pytest.raises(
        ConfigError,
        match="known: http, jushuitan, kingdee_k3cloud, kingdee_kis, kuaimai, ledger, okki, readonly, sql, wangdiantong",
    ):
        parse_connection({"type": "nope", "name": "n"}, path="p")


def test_loading_connections_imports_no_driver() -> None:
    code = textwrap.dedent(
        """
        import sys
        from ferry.connectors.registry import load_connections
        load_connections({"db": {"type": "sql", "url": "sqlite://"}, "api": {"type": "http", "base_url": "https://x"}})
        heavy = sorted(m for m in ("sqlalchemy", "httpx", "pymysql", "psycopg") if m in sys.modules)
        print(",".join(heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


class FakeSource:
    def __init__(self, spec: ConnectionSpec, *, transport: object = None) -> None:
        self.name = spec.name


class ReadOnlyConnection(ConnectionSpec):
    type: str = "readonly"
    source_impl = f"{__name__}:FakeSource"


def test_ledger_target_accepts_every_record_and_writes_nowhere() -> None:
    from ferry.connectors.base import Delivery

    target = build_target(parse_connection({"type": "ledger", "name": "store"}, path="p"))
    outcomes = target.write(Delivery(api="store", method="POST", body=[{}, {}], record_ids=["a", "b"]))
    assert [(o.record_id, o.ok, o.response) for o in outcomes] == [
        ("a", True, {"stored": "ledger"}),
        ("b", True, {"stored": "ledger"}),
    ]
    with pytest.raises(ConfigError, match="ledger connection 'store' cannot be used as a source"):
        build_source(parse_connection({"type": "ledger", "name": "store"}, path="p"))
