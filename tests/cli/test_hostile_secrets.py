"""The hostile-secret sweep: failing schemes run with hostile secrets, and no output shows one.

Secrets of every kind a deployment has: a MariaDB password holding ``/ # ? @ %`` and both quotes
(in its URL as SQLAlchemy accepts it: ``/ # ?`` raw, ``@`` and ``%`` percent-encoded; a real user
is created with it and SQLAlchemy connects with it), ``headers:`` values written in the
connections file (a long one and the one-character ``7``), and ``${VAR}`` values of 2, 4 and 40
characters (a query-string token, headers, the whole database URL). A local HTTP server echoes
every request's headers and query back, in its answers and in its errors, as real APIs sometimes do.

The schemes: SQL -> MariaDB (one record fails), SQL -> MariaDB with no access (the connection
fails), SQL -> the echoing API (one record rejected with the echo, the others answered with
it), the echoing API -> the ledger (401 with the echo), and a connection whose ``${VAR}`` value
is not a number. Every surface is grepped: the output of ``validate``, ``preview``, ``run``,
``runs``, ``runs show``, ``records`` and ``records show`` (text and JSON), every console page
and API answer, and every column of every table of the store. Values of at least
:data:`~ferry._redact.MIN_SECRET` characters must appear nowhere, in any encoding; shorter ones
are not replaced in arbitrary text ("7" is everywhere), but never appear as the value of their
header name (``X-Tenant: 7``, ``"x-tenant": "7"``).
"""

from __future__ import annotations

import html
import json
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import markupsafe
import pymysql
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from console_seed import csrf_of
from ferry._redact import forget_secrets
from ferry.cli.main import app
from ferry.console import add_user, create_app
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

TAG = secrets.token_hex(4)
DB_PASSWORD = f"p/w#d?x@y%z'q\"u-{TAG}"
DB_PASSWORD_IN_URL = DB_PASSWORD.replace("%", "%25").replace("@", "%40")
API_KEY = f"hk-{TAG}-\"q'/#?%&<x>"  # a header written in connections.yaml
TENANT = "7"  # a one-character header written in connections.yaml
TOKEN = f"tk/{TAG}#?{secrets.token_hex(14)}"  # ${SWEEP_TOKEN}: 40 characters, a query-string token
REGION = "q7#z"  # ${SWEEP_REGION}: 4 characters, a header
SHORT = "k9"  # ${SWEEP_SHORT}: 2 characters, a header
BAD_TIMEOUT = f"zz-timeout-{TAG}"  # ${SWEEP_BAD_TIMEOUT}: not a number
UNTIL = "2024-06-01 00:00:00"

PRODUCTS = [("A1", "IC-A1", "螺丝 M3"), ("A2", "IC-A2", "螺母 M3"), ("A3", None, "垫片 M3")]
SOURCE = {
    "api": "SELECT sku_id, item_code, sku_name FROM products ORDER BY sku_id",
    "effect": "QUERY",
    "method": "SQL",
    "id": "sku_id",
    "number": "sku_id",
    "request": [],
    "response": [{"field": "sku_id", "type": "string"}, {"field": "sku_name", "type": "string"}],
}
FIELDS = [
    {"field": "sku_id", "type": "string", "value": "{sku_id}"},
    {"field": "item_code", "type": "string", "value": "{item_code}"},
    {"field": "sku_name", "type": "string", "value": "{sku_name}"},
]
INSERT = "INSERT INTO product_copy (sku_id, item_code, sku_name) VALUES (:sku_id, :item_code, :sku_name)"
TO_MARIADB = {
    "api": "execute",
    "effect": "EXECUTE",
    "request": [{"field": "main_params", "type": "object", "value": "1", "children": FIELDS}],
    "otherRequest": [{"field": "main_sql", "type": "string", "value": INSERT}],
}
TO_API = {"api": "/write", "effect": "EXECUTE", "method": "POST", "request": FIELDS}
FROM_API = {
    "api": "/orders",
    "effect": "QUERY",
    "method": "GET",
    "id": "id",
    "request": [],
    "response": [{"field": "id", "type": "string"}],
}
SETTINGS = {
    "stream": "thread",
    "retry": ["1h"],
    "call_retry": {"attempts": 1, "base_delay": "0.01s", "max_delay": "0.01s"},
}


class Echo(BaseHTTPRequestHandler):
    """Answers with the request's headers and path: 401 on GET, 400 for a body naming A3, else 200."""

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps({"echo": {"headers": dict(self.headers.items()), "path": self.path}, **body})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data.encode())))
        self.end_headers()
        self.wfile.write(data.encode())

    def do_GET(self) -> None:
        self._answer(401, {"error": "bad credentials"})

    def do_POST(self) -> None:
        received = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self._answer(400 if "A3" in received else 200, {"received": received})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hostile_db(mariadb_url: str) -> Iterator[tuple[str, str]]:
    """A MariaDB user whose password is :data:`DB_PASSWORD`, granted the test database, and the
    URL SQLAlchemy connects with; dropped after the test."""
    root = make_url(mariadb_url)
    user = f"ferry_sec_{TAG}"
    conn = pymysql.connect(host=root.host, port=root.port, user=root.username, password="", autocommit=True)
    hosts = ("localhost", "127.0.0.1", "%")
    try:
        with conn.cursor() as cur:
            for host in hosts:
                cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, DB_PASSWORD))
                cur.execute(f"GRANT ALL ON `{root.database}`.* TO %s@%s", (user, host))
            cur.execute(
                f"CREATE TABLE `{root.database}`.product_copy "
                "(sku_id VARCHAR(32) PRIMARY KEY, item_code VARCHAR(32) NOT NULL, sku_name VARCHAR(64))"
            )
        url = f"mysql+pymysql://{user}:{DB_PASSWORD_IN_URL}@{root.host}:{root.port}/{root.database}"
        assert make_url(url).password == DB_PASSWORD, "the URL is one SQLAlchemy reads the password from"
        yield url, root.database or ""
    finally:
        with conn.cursor() as cur:
            for host in hosts:
                cur.execute("DROP USER IF EXISTS %s@%s", (user, host))
        conn.close()


@dataclass
class Surfaces:
    """Every text the sweep greps, by where it came from (a command line, a page, the store)."""

    store: str
    texts: dict[str, str] = field(default_factory=dict)

    def add(self, where: str, text: str) -> None:
        assert where not in self.texts, where
        self.texts[where] = text

    def cli(self, *args: str) -> Any:
        """``ferry --store <store> *args`` in-process; its stdout and stderr are kept."""
        result = CliRunner().invoke(app, ["--store", self.store, *args], catch_exceptions=False)
        self.add(f"ferry {' '.join(args)}", f"{result.output}\n{getattr(result, 'stderr', '')}")
        return result


def leaks(text: str) -> list[str]:
    """The hostile secrets ``text`` shows, by name (in any of the encodings text gives them)."""
    found = []
    long_ones = {
        "db password": DB_PASSWORD,
        "db password as in the URL": DB_PASSWORD_IN_URL,
        "api key header": API_KEY,
        "query token": TOKEN,
        "4-character header": REGION,
    }
    for name, secret in long_ones.items():
        forms = {secret, repr(secret)[1:-1], quote(secret, safe=""), quote(secret, safe="/")}
        for _ in range(2):  # JSON in JSON (a stored answer served by the API), then HTML
            forms |= {json.dumps(f)[1:-1] for f in forms}
        forms |= {html.escape(f) for f in forms} | {str(markupsafe.escape(f)) for f in forms}
        if any(form in text for form in forms):
            found.append(name)
    # the short ones: never as the value of their header name, in any quoting
    for name, header, value in (("X-Tenant", "x-tenant", TENANT), ("X-Env", "x-env", SHORT)):
        if re.search(rf"(?i){header}\W{{1,6}}{re.escape(value)}(?![\w])", text):
            found.append(f"{name} value")
    return found


def write_files(tmp: Path, echo_url: str, denied_url: str) -> dict[str, Path]:
    source_db = tmp / "products.db"
    with sqlite3.connect(source_db) as con:
        con.execute("CREATE TABLE products (sku_id TEXT PRIMARY KEY, item_code TEXT, sku_name TEXT)")
        con.executemany("INSERT INTO products VALUES (?, ?, ?)", PRODUCTS)
    connections = {
        "products": {"type": "sql", "url": f"sqlite:///{source_db}"},
        "mariadb": {"type": "sql", "url": "${SWEEP_DB_URL}"},
        "mariadb_denied": {"type": "sql", "url": denied_url},  # the password written in the file
        "echo_api": {
            "type": "http",
            "base_url": echo_url,
            "auth": {"type": "query", "name": "sig", "value": "${SWEEP_TOKEN}"},
            "headers": {"X-Api-Key": API_KEY, "X-Tenant": TENANT, "X-Region": "${SWEEP_REGION}"}
            | {"X-Env": "${SWEEP_SHORT}"},
            "records_path": "data",
            "paging": {"style": "none"},
        },
        "slow_api": {"type": "http", "base_url": echo_url, "timeout": "${SWEEP_BAD_TIMEOUT}"},
        "ledger": {"type": "ledger"},
    }
    (tmp / "connections.yaml").write_text(json.dumps(connections), encoding="utf-8")  # JSON is YAML
    metadata = {"products.json": SOURCE, "to_mariadb.json": TO_MARIADB, "to_api.json": TO_API}
    metadata |= {"from_api.json": FROM_API}
    for name, meta in metadata.items():
        (tmp / name).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    schemes = {
        "to-mariadb": ("products", "products.json", "mariadb", "to_mariadb.json"),
        "to-mariadb-denied": ("products", "products.json", "mariadb_denied", "to_mariadb.json"),
        "to-api": ("products", "products.json", "echo_api", "to_api.json"),
        "from-api": ("echo_api", "from_api.json", "ledger", "to_api.json"),
        "bad-timeout": ("slow_api", "from_api.json", "ledger", "to_api.json"),
    }
    paths = {}
    for scheme_id, (src, src_meta, tgt, tgt_meta) in schemes.items():
        scheme = {
            "id": f"sweep-{scheme_id}",
            "name": f"sweep {scheme_id}",
            "connections": "connections.yaml",
            "source": {"connection": src, "metadata": src_meta},
            "target": {"connection": tgt, "metadata": tgt_meta},
            "window": {"start": "2024-01-01 00:00:00", "step": "3650d"},
            "settings": SETTINGS,
        }
        paths[scheme_id] = tmp / f"{scheme_id}.yaml"
        paths[scheme_id].write_text(json.dumps(scheme, ensure_ascii=False), encoding="utf-8")
    return paths


def dump_store(url: str) -> str:
    """Every row of every table of the store, every column, as text."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    lines = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                lines.append(f"{table.name}: " + " | ".join(str(v) for v in row))
    engine.dispose()
    return "\n".join(lines)


def console_pages(client: TestClient, store_url: str) -> dict[str, str]:
    """Log in, then every console page and API answer over what the store holds."""
    with open_store(store_url) as st:
        add_user(st, "ops", "sweep-password-1", replace=True)
        runs = [r["id"] for r in st.list_runs(limit=100)]
        records = [(r.scheme_id, r.record_id) for r in st.find_records(limit=1000)]
    schemes = sorted({scheme_id for scheme_id, _ in records} | {"sweep-to-mariadb-denied", "sweep-from-api"})
    login = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "username": "ops",
            "password": "sweep-password-1",
            "csrf_token": csrf_of(login.text),
            "next": "/",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    pages = ["/", "/schemes", "/runs", "/records", "/records?status=error", "/apis", "/alerts"]
    pages += [f"/runs/{run}" for run in runs] + [f"/schemes/{s}" for s in schemes]
    pages += [f"/records/{s}/{r}" for s, r in records]
    api = ["/api/dashboard", "/api/schemes", "/api/runs", "/api/records", "/api/apis", "/api/alerts"]
    api += [f"/api/runs/{run}" for run in runs] + [f"/api/schemes/{s}" for s in schemes]
    api += [f"/api/records/{s}/{r}" for s, r in records]
    shown = {}
    for path in pages + [f"{p}{'&' if '?' in p else '?'}lang=zh" for p in pages] + api:
        response = client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code, response.text[:300])
        shown[path] = response.text
    assert len(records) >= 6 and len(runs) >= 4, (records, runs)
    return shown


def show_later(out: Surfaces) -> None:
    """What a later process shows from the store alone: it loaded no scheme, remembers nothing."""
    forget_secrets()
    with open_store(out.store) as st:
        runs = sorted(r["id"] for r in st.list_runs(limit=100))
        records = [(r.scheme_id, r.record_id) for r in st.find_records(limit=1000)]
    for json_flag in ([], ["--json"]):
        out.cli("runs", *json_flag)
        out.cli("records", "--limit", "1000", *json_flag)
        for run_id in runs:
            out.cli("runs", "show", *json_flag, str(run_id))
        for scheme_id, record_id in records:
            out.cli("records", "show", *json_flag, scheme_id, record_id)
    out.add("store", dump_store(out.store))


def show_in_the_console(out: Surfaces, scheme_files: list[str]) -> None:
    """The console over the store alone (it loaded no scheme), then with the schemes loaded."""
    with open_store(out.store) as st, TestClient(create_app(st, schemes=dict, secret_key="k")) as client:
        for path, text in console_pages(client, out.store).items():
            out.add(f"console {path}", text)
    forget_secrets()
    loaded = {s.id: s for s in (load_scheme(p) for p in scheme_files)}
    with (
        open_store(out.store) as st,
        TestClient(create_app(st, schemes=lambda: loaded, secret_key="k")) as client,
    ):
        for path, text in console_pages(client, out.store).items():
            out.add(f"console with schemes {path}", text)
        for scheme_id in loaded:
            out.add(f"console preview {scheme_id}", client.get(f"/api/schemes/{scheme_id}/preview").text)


def assert_the_runs_failed_as_planned(store: str, database: str) -> None:
    """SQLAlchemy connected with the hostile password (two rows arrived), the echoing API
    answered, and every scheme left failures to show."""
    with pymysql.connect(host="127.0.0.1", user="root", password="", database=database) as conn:
        cur = conn.cursor()
        cur.execute("SELECT sku_id FROM product_copy ORDER BY sku_id")
        assert [r[0] for r in cur.fetchall()] == ["A1", "A2"]
    with open_store(store) as st:
        runs = {r["scheme_id"]: r for r in st.list_runs(limit=100)}
        statuses = {s: st.count_by_status(f"sweep-{s}") for s in ("to-mariadb", "to-api")}
        responses = [r.target_response or "" for r in st.find_records("sweep-to-api", status="finished")]
    assert "Access denied" in runs["sweep-to-mariadb-denied"]["error"]
    assert "HTTP 401, credentials rejected" in runs["sweep-from-api"]["error"]
    assert statuses["to-mariadb"]["finished"] == 2 and statuses["to-mariadb"]["error"] == 1
    assert statuses["to-api"]["finished"] == 2 and statuses["to-api"]["error"] == 1
    assert responses and all('"echo"' in r and "***" in r for r in responses), "the echo is stored masked"


@pytest.mark.mariadb
def test_no_hostile_secret_reaches_any_output_page_or_stored_value(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    echo_url: str,
    hostile_db: tuple[str, str],
) -> None:
    db_url, database = hostile_db
    paths = write_files(tmp_path, echo_url, denied_url=db_url.replace(f"/{database}", f"/no_access_{TAG}"))
    env = {"SWEEP_DB_URL": db_url, "SWEEP_TOKEN": TOKEN, "SWEEP_REGION": REGION, "SWEEP_SHORT": SHORT}
    for name, value in (env | {"SWEEP_BAD_TIMEOUT": BAD_TIMEOUT}).items():
        monkeypatch.setenv(name, value)
    out = Surfaces(store=f"sqlite:///{tmp_path / 'ferry.db'}")
    runnable = [str(paths[k]) for k in ("to-mariadb", "to-mariadb-denied", "to-api", "from-api")]

    assert out.cli("validate", *runnable).exit_code == 0
    invalid = out.cli("validate", str(paths["bad-timeout"]))
    assert invalid.exit_code == 2 and "timeout: Input should be a valid number" in invalid.output
    for key in ("to-mariadb", "to-api", "from-api"):
        out.cli("preview", str(paths[key]))
        out.cli("preview", "--json", str(paths[key]))
    ran = out.cli("run", *runnable, "--until", UNTIL)
    assert ran.exit_code == 2, ran.output  # two connections are refused: configuration errors
    assert_the_runs_failed_as_planned(out.store, database)
    show_later(out)
    show_in_the_console(out, runnable)

    found = {where: leaks(text) for where, text in out.texts.items()}
    assert {where: names for where, names in found.items() if names} == {}
    assert len(out.texts) > 100 and "***" in out.texts["store"]
    assert "mysql+pymysql://ferry_sec_" in out.texts[f"ferry validate {' '.join(runnable)}"], (
        "labels stay useful"
    )
