"""Loading metadata and schemes: formats, side inference, path resolution, connections, errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr

from ferry.errors import SchemeError
from ferry.scheme import SourceMetadata, TargetMetadata, load_any, load_metadata, load_scheme

SOURCE = {
    "api": "/orders",
    "effect": "QUERY",
    "id": "order_id",
    "request": [{"field": "start", "value": "x"}],
}
TARGET = {
    "api": "batchexecute",
    "effect": "EXECUTE",
    "request": [{"field": "order_no", "value": "{order_no}"}],
    "otherRequest": [{"field": "main_sql", "value": "REPLACE INTO orders (order_no) VALUES"}],
}
CONNECTIONS = {
    "api": {"type": "http", "base_url": "http://localhost:8000"},
    "db": {"type": "sql", "url": "sqlite://"},
}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _issues(exc: pytest.ExceptionInfo[SchemeError]) -> dict[str, str]:
    return {i.path: str(i) for i in exc.value.issues}


# -- load_metadata ---------------------------------------------------------------------------


def test_metadata_jsonc_with_comments_and_trailing_commas_loads(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "source.jsonc",
        """\
        // pasted from the QEasy console
        {
          "api": "erp.aftersale.list.query", /* KuaiMai */
          "type": "QUERY",
          "id": "id",
          "request": [{"field": "pageNo", "value": "1"},],
        }
        """,
    )
    meta = load_metadata(path)
    assert isinstance(meta, SourceMetadata)
    assert (meta.api, meta.id, meta.request[0].field) == ("erp.aftersale.list.query", "id", "pageNo")


def test_metadata_yaml_and_json_text_and_mapping_load(tmp_path: Path) -> None:
    yaml_path = _write(
        tmp_path / "t.yaml", "api: batchSave\neffect: WRITE\nrequest: [{field: FBillNo, value: '{io_id}'}]\n"
    )
    assert isinstance(load_metadata(yaml_path), TargetMetadata)
    assert load_metadata(json.dumps(SOURCE)).id == "order_id"
    assert isinstance(load_metadata(TARGET), TargetMetadata)


def test_metadata_side_is_inferred_from_effect_or_type() -> None:
    assert isinstance(load_metadata({"api": "q", "type": "query", "id": "x"}), SourceMetadata)
    assert load_metadata({"api": "w", "effect": "WRITE"}).effect == "EXECUTE"


def test_metadata_without_effect_says_how_to_name_the_side() -> None:
    with pytest.raises(SchemeError) as info:
        load_metadata({"api": "/orders", "request": []})
    (issue,) = info.value.issues
    assert issue.path == "effect"
    assert "cannot tell whether this is source or target metadata" in issue.message
    assert '"effect": "QUERY"' in (issue.hint or "")


def test_metadata_given_the_wrong_side_reports_the_swap() -> None:
    with pytest.raises(SchemeError) as info:
        load_metadata(SOURCE, side="target")
    assert "target.effect" in _issues(info)
    assert "did you swap source and target" in _issues(info)["target.effect"]


def test_malformed_json_reports_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.json", '{\n  "api": "x",\n  "effect": "QUERY",,\n}\n')
    with pytest.raises(SchemeError) as info:
        load_metadata(path)
    (issue,) = info.value.issues
    assert issue.message.startswith("invalid JSON")
    assert "(line 3, column 21)" in issue.message  # the second comma
    assert info.value.source == str(path)


def test_missing_metadata_file_is_reported_not_raised_as_oserror(tmp_path: Path) -> None:
    with pytest.raises(SchemeError) as info:
        load_metadata(tmp_path / "nope.json")
    assert "file not found" in str(info.value)


def test_metadata_errors_are_all_reported_with_user_paths() -> None:
    data = {
        "api": "batchSave",
        "effect": "EXECUTE",
        "request": [
            {"field": "FBillNo", "type": "strng"},
            {"field": "FEntity", "type": "array", "children": [{"field": "FQty", "type": "nmber"}]},
        ],
        "operation": {"method": "merge", "rows": 0},
    }
    with pytest.raises(SchemeError) as info:
        load_metadata(data)
    assert set(_issues(info)) == {
        "target.request[0].type",
        "target.request[1].children[0].type",
        "target.operation.rows",
    }


# -- load_scheme -----------------------------------------------------------------------------


def test_scheme_resolves_metadata_and_connections_relative_to_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "schemes" / "orders"
    _write(folder / "meta" / "source.json", json.dumps(SOURCE))
    _write(folder / "meta" / "target.json", json.dumps(TARGET))
    _write(
        folder / "conn.yaml",
        "api: {type: http, base_url: 'http://localhost:8000'}\ndb: {type: sql, url: 'sqlite://'}\n",
    )
    path = _write(
        folder / "scheme.yaml",
        """\
        id: orders
        name: Orders
        connections: conn.yaml
        source: {connection: api, metadata: meta/source.json}
        target: {connection: db, metadata: meta/target.json}
        """,
    )
    monkeypatch.chdir(tmp_path)
    scheme = load_scheme(Path("schemes/orders/scheme.yaml"))
    assert scheme.base_dir == str(path.parent)
    assert scheme.source_meta is not None and scheme.source_meta.id == "order_id"
    assert scheme.target_meta is not None and scheme.target_meta.api == "batchexecute"
    assert scheme.source_connection.type == "http" and scheme.source_connection.name == "api"
    assert scheme.target_connection.type == "sql" and scheme.target_connection.name == "db"


def test_scheme_with_inline_metadata_and_inline_connections_loads() -> None:
    scheme = load_scheme(
        {
            "id": "inline",
            "name": "Inline",
            "connections": CONNECTIONS,
            "source": {"connection": "api", "metadata": SOURCE},
            "target": {"connection": {"type": "sql", "url": "sqlite://"}, "metadata": TARGET},
        }
    )
    assert scheme.source_meta is not None and scheme.source_meta.request[0].field == "start"
    assert scheme.target_connection.type == "sql"
    assert scheme.target_connection.name == "inline-target"


def test_scheme_from_yaml_text_with_connections_argument_overriding_the_file() -> None:
    text = textwrap.dedent(
        f"""\
        id: text
        name: From text
        connections: does-not-exist.yaml
        source: {{connection: api, metadata: {json.dumps(SOURCE)}}}
        target: {{connection: db, metadata: {json.dumps(TARGET)}}}
        """
    )
    scheme = load_scheme(text, connections=CONNECTIONS)
    assert scheme.source_connection.name == "api"
    assert scheme.model_dump(exclude_none=True)["connections"] == "does-not-exist.yaml"
    assert "source_meta" not in scheme.model_dump()


def test_env_references_in_connections_resolve_and_stay_secret() -> None:
    scheme = load_scheme(
        {
            "id": "env",
            "name": "Env",
            "connections": {**CONNECTIONS, "db": {"type": "sql", "url": "sqlite:///${DB_FILE}"}},
            "source": {"connection": "api", "metadata": SOURCE},
            "target": {"connection": "db", "metadata": TARGET},
        },
        env={"DB_FILE": "/tmp/x.db"},
    )
    assert isinstance(scheme.target_connection.url, SecretStr)
    assert scheme.target_connection.url.get_secret_value() == "sqlite:////tmp/x.db"


def test_unset_env_variable_is_an_issue_naming_the_variable_not_a_value() -> None:
    with pytest.raises(SchemeError) as info:
        load_scheme(
            {
                "id": "env",
                "name": "Env",
                "connections": {**CONNECTIONS, "db": {"type": "sql", "url": "mysql://u:${DB_PASSWORD}@h/db"}},
                "source": {"connection": "api", "metadata": SOURCE},
                "target": {"connection": "db", "metadata": TARGET},
            },
            env={},
        )
    issues = _issues(info)
    assert list(issues) == ["connections.db.url"]
    assert "DB_PASSWORD is not set" in issues["connections.db.url"]


def test_unused_broken_connection_does_not_fail_the_scheme() -> None:
    scheme = load_scheme(
        {
            "id": "shared",
            "name": "Shared connections",
            "connections": {**CONNECTIONS, "other": {"type": "nope", "x": "${UNSET_VAR}"}},
            "source": {"connection": "api", "metadata": SOURCE},
            "target": {"connection": "db", "metadata": TARGET},
        },
        env={},
    )
    assert scheme.target_connection.name == "db"


def test_scheme_name_without_connections_says_where_to_declare_them() -> None:
    with pytest.raises(SchemeError) as info:
        load_scheme(
            {
                "id": "x",
                "name": "x",
                "source": {"connection": "api", "metadata": SOURCE},
                "target": {"connection": "db", "metadata": TARGET},
            }
        )
    issues = _issues(info)
    assert set(issues) == {"source.connection", "target.connection"}
    assert "add `connections: connections.yaml`" in issues["source.connection"]


def test_every_problem_in_scheme_metadata_and_connections_is_reported_together(tmp_path: Path) -> None:
    _write(
        tmp_path / "target.json", json.dumps({**TARGET, "request": [{"field": "order_no", "type": "strng"}]})
    )
    path = _write(
        tmp_path / "scheme.yaml",
        """\
        id: many
        name: Many errors
        connections: {api: {type: http, base_url: "http://localhost:8000"}}
        window: {step: soon}
        schedule: {source: "99 * * * *"}
        source:
          connection: api
          metadata: {api: /orders, effect: QUERY, request: [{field: s, value: "{{LAST_SYNC_TIME|datetim}}"}]}
        target: {connection: warehouse, metadata: target.json}
        """,
    )
    with pytest.raises(SchemeError) as info:
        load_scheme(path)
    assert set(_issues(info)) == {
        "window.step",
        "schedule.source",
        "source.id",
        "source.request[0].value",
        "target.request[0].type",
        "target.connection",
    }
    assert str(info.value).startswith(f"{path}: 6 errors in scheme")


def test_yaml_syntax_error_in_scheme_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "scheme.yaml", "id: x\nname: [unclosed\nsource: {}\n")
    with pytest.raises(SchemeError) as info:
        load_scheme(path)
    (issue,) = info.value.issues
    assert issue.message.startswith("invalid YAML")
    assert "(line 3, column" in issue.message


def test_missing_metadata_file_is_located_at_the_side(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "scheme.yaml",
        """\
        id: x
        name: x
        connections: {api: {type: http, base_url: "http://localhost:8000"}}
        source: {connection: api, metadata: nowhere.json}
        target: {connection: api, metadata: {api: /b, effect: EXECUTE}}
        """,
    )
    with pytest.raises(SchemeError) as info:
        load_scheme(path)
    issues = _issues(info)
    assert list(issues) == ["source.metadata"]
    assert f"file not found: {tmp_path / 'nowhere.json'}" in issues["source.metadata"]


def test_loader_filled_attributes_cannot_be_set_from_the_file() -> None:
    with pytest.raises(SchemeError) as info:
        load_scheme(
            {
                "id": "x",
                "name": "x",
                "base_dir": "/etc",
                "connections": CONNECTIONS,
                "source": {"connection": "api", "metadata": SOURCE},
                "target": {"connection": "db", "metadata": TARGET},
            }
        )
    assert list(_issues(info)) == ["base_dir"]


def test_load_any_tells_a_scheme_from_bare_metadata(tmp_path: Path) -> None:
    meta_path = _write(tmp_path / "target.json", json.dumps(TARGET))
    scheme_path = _write(
        tmp_path / "scheme.yaml",
        f"id: a\nname: a\nconnections: {json.dumps(CONNECTIONS)}\n"
        f"source: {{connection: api, metadata: {json.dumps(SOURCE)}}}\n"
        "target: {connection: db, metadata: target.json}\n",
    )
    assert isinstance(load_any(meta_path), TargetMetadata)
    assert load_any(scheme_path).id == "a"
