"""No record vanishes, none blocks the others: the hostile records of ``hostile_records.yaml``.

Each case is served as raw bytes by a local HTTP source, between 20 good records on one page,
and run with ``ferry run`` into MariaDB: every record arrives exactly or is a dead letter with
its reason (and its raw bytes when it cannot be read), the page's good records arrive, the
window's cursor moves, the counts balance and the exit code is 1 when there are dead letters.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from typer.testing import CliRunner, Result

from ferry.cli.main import app
from ferry.store import LedgerRow, Store, open_store

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "hostile_records.yaml").read_text())
GOOD_BEFORE, GOOD_AFTER = range(1, 11), range(11, 21)
UNTIL = "2024-06-02 00:00:00"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def raw_bytes(text: str) -> bytes:
    """A record's raw text as the case writes it: ``<<x*N>>`` repeated, ``\\xHH`` a byte."""
    text = re.sub(r"<<(.+?)\*(\d+)>>", lambda m: m.group(1) * int(m.group(2)), text)
    return re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))


def good(i: int) -> bytes:
    return json.dumps({"id": i, "no": f"G{i}", "amount": i * 10}).encode()


def page(records: list[bytes]) -> bytes:
    items = [good(i) for i in GOOD_BEFORE] + records + [good(i) for i in GOOD_AFTER]
    return b'{"code": 0, "data": {"list": [' + b", ".join(items) + b"]}}"


class RawSource:
    """A local HTTP API answering every GET with the same raw bytes."""

    def __init__(self, body: bytes) -> None:
        served = body

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(served)))
                self.end_headers()
                self.wfile.write(served)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RawSource:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_scheme(folder: Path, scheme_id: str, source_url: str, target_url: str) -> Path:
    """An http source (page 1 of ``data.list``) into a MariaDB table, delivered by batchexecute."""
    scheme = {
        "id": scheme_id,
        "name": scheme_id,
        "connections": {
            "api": {
                "type": "http",
                "base_url": source_url,
                "paging": {
                    "style": "page",
                    "page_param": "page",
                    "size_param": "page_size",
                    "page_size": 100,
                },
                "records_path": "data.list",
                "last_page": "short_page",
            },
            "warehouse": {"type": "sql", "url": target_url},
        },
        "source": {
            "connection": "api",
            "metadata": {"api": "/orders", "effect": "QUERY", "method": "GET", "id": "id", "number": "no"},
        },
        "target": {
            "connection": "warehouse",
            "metadata": {
                "api": "batchexecute",
                "effect": "EXECUTE",
                "method": "SQL",
                "request": [
                    {"field": "id", "value": "{id}"},
                    {"field": "no", "value": "{no}"},
                    {"field": "amount", "value": "{amount}"},
                ],
                "otherRequest": [
                    {"field": "main_sql", "value": "REPLACE INTO received (id, no, amount) VALUES"},
                    {"field": "limit", "value": "100"},
                ],
            },
        },
        "window": {"start": "2024-06-01 00:00:00", "step": "1d"},
        "settings": {"retry": ["1m"]},
    }
    path = folder / f"{scheme_id}.yaml"
    path.write_text(yaml.safe_dump(scheme, allow_unicode=True))
    return path


@pytest.fixture
def target(
    mariadb_url: str, mariadb_raw: Callable[[str], Any]
) -> Iterator[tuple[str, Callable[[], set[int]]]]:
    """The MariaDB target: its URL, and a reader of the ids it received (exact integers)."""
    conn = mariadb_raw(mariadb_url.rsplit("/", 1)[1].split("?")[0])
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE received (id DECIMAL(65,0) PRIMARY KEY, no VARCHAR(255), amount DECIMAL(65,0))"
        )

    def received() -> set[int]:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM received")
            return {int(row[0]) for row in cur.fetchall()}

    yield mariadb_url, received
    conn.close()


def ferry(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def dead_letters(store: Store, scheme_id: str) -> list[LedgerRow]:
    return store.find_records(scheme_id, status="dead", limit=100)


def kept_raw(row: LedgerRow) -> bytes | None:
    import base64

    if "raw_base64" in row.content:
        return base64.b64decode(row.content["raw_base64"])
    raw = row.content.get("raw")
    return raw.encode("utf-8") if isinstance(raw, str) else None


def same_record(kept: bytes, sent: bytes) -> bool:
    """The raw bytes as sent, or (a record read whole, then found not to be an object) the
    same JSON value re-encoded."""
    return kept == sent or json.loads(kept) == json.loads(sent)


@pytest.mark.mariadb
@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_every_hostile_record_is_delivered_exactly_or_a_dead_letter_and_the_window_moves(
    case: dict[str, Any], tmp_path: Path, target: tuple[str, Callable[[], set[int]]], sqlite_url: str
) -> None:
    target_url, received = target
    sent = [raw_bytes(text) for text in case["records"]]
    delivered, reasons = case.get("delivered", []), case["dead"]
    scheme_id = f"hostile-{case['case']}"
    with RawSource(page(sent)) as source:
        path = write_scheme(tmp_path, scheme_id, source.url, target_url)
        result = ferry("--store", sqlite_url, "run", str(path), "--until", UNTIL)

    assert result.exit_code == (1 if reasons else 0), result.output
    good_ids = set(GOOD_BEFORE) | set(GOOD_AFTER)
    assert received() == good_ids | set(delivered), "the good records and the exact ids arrived"
    store = open_store(sqlite_url)
    try:
        letters = dead_letters(store, scheme_id)
        errors = [row.last_error or "" for row in letters]
        for reason in reasons:
            match = next((e for e in errors if reason in e), None)
            assert match is not None, f"no dead letter says {reason!r}: {errors}"
            errors.remove(match)
        assert errors == [], "every dead letter is one of the case's records"
        if case.get("raw"):
            for row in letters:
                kept = kept_raw(row)
                assert kept is not None and any(same_record(kept, s) for s in sent), row.content
        for record_id in delivered:
            [row] = store.find_records(scheme_id, record_id=str(record_id), limit=2)
            assert row.content["id"] == record_id and type(row.content["id"]) is int, "kept exactly"
        assert store.get_cursor(scheme_id, "main") == datetime(2024, 6, 2, tzinfo=SHANGHAI), (
            "the window moved"
        )
        [run] = store.list_runs(scheme_id)
        counts = run["counts"]
    finally:
        store.close()
    fetched = len(good_ids) + len(sent)
    assert counts["fetched"] == fetched == len(good_ids) + len(delivered) + len(reasons)
    stored = counts["new"] + counts["changed"] + counts["unchanged"]
    assert counts["fetched"] == counts["filtered_out"] + counts["no_id"] + counts["rejected"] + stored
    assert counts["dead"] == counts["no_id"] + counts["rejected"] == len(reasons)
    assert counts["delivered"] == len(good_ids) + len(delivered)


@pytest.mark.mariadb
@pytest.mark.postgres
@pytest.mark.parametrize("ledger", ["mariadb", "postgres"])
def test_every_hostile_record_on_one_page_of_a_database_ledger_is_kept(
    tmp_path: Path, target: tuple[str, Callable[[], set[int]]], ledger: str, request: pytest.FixtureRequest
) -> None:
    """All the cases at once, with the ledger on MariaDB (where ids really are 191 characters)
    and on PostgreSQL."""
    target_url, received = target
    store_url = target_url if ledger == "mariadb" else request.getfixturevalue("postgres_url")
    sent = [raw_bytes(text) for case in CASES for text in case["records"]]
    reasons = [reason for case in CASES for reason in case["dead"]]
    delivered = {i for case in CASES for i in case.get("delivered", [])}
    with RawSource(page(sent)) as source:
        path = write_scheme(tmp_path, "hostile-all", source.url, target_url)
        result = ferry("--store", store_url, "run", str(path), "--until", UNTIL)

    assert result.exit_code == 1, result.output
    assert received() == set(GOOD_BEFORE) | set(GOOD_AFTER) | delivered
    store = open_store(store_url)
    try:
        letters = dead_letters(store, "hostile-all")
        assert len(letters) == len(reasons)
        errors = [row.last_error or "" for row in letters]
        # Alone, a record nested 300 levels is read whole and refused by the ledger; here other
        # records spoil the page, so it is read record by record and refused by the reader.
        expected = ["nested 301 levels deep" if "Recursion limit" in r else r for r in reasons]
        assert [r for r in expected if any(r in e for e in errors)] == expected, errors
        assert store.get_cursor("hostile-all", "main") == datetime(2024, 6, 2, tzinfo=SHANGHAI)
    finally:
        store.close()


def test_terminal_output_escapes_control_characters_from_source_data(tmp_path: Path, sqlite_url: str) -> None:
    """An id and a field carrying terminal escape sequences are shown as text, never obeyed."""
    hostile = {"id": "esc-\x1b]0;pwned\x07-\x1b[2J", "no": "\x9b31m-\u202egnp.exe", "amount": 1}
    body = b'{"code": 0, "data": {"list": [' + json.dumps(hostile).encode() + b"]}}"
    target_db = tmp_path / "target.db"
    import sqlite3

    with sqlite3.connect(target_db) as conn:
        conn.execute("CREATE TABLE received (id TEXT PRIMARY KEY, no TEXT, amount INTEGER)")
    with RawSource(body) as source:
        path = write_scheme(tmp_path, "hostile-terminal", source.url, f"sqlite:///{target_db}")
        outputs = {
            "preview": ferry("--store", sqlite_url, "preview", str(path)),
            "run": ferry("--store", sqlite_url, "run", str(path), "--until", UNTIL),
        }
    outputs["records"] = ferry("--store", sqlite_url, "records", "--scheme", "hostile-terminal")
    outputs["records show"] = ferry(
        "--store", sqlite_url, "records", "show", "hostile-terminal", hostile["id"]
    )
    outputs["runs show"] = ferry("--store", sqlite_url, "runs", "show", "1")
    outputs["records --json"] = ferry(
        "--store", sqlite_url, "records", "--scheme", "hostile-terminal", "--json"
    )
    for command, result in outputs.items():
        assert result.exit_code == 0, f"{command}: {result.output}"
        text = result.output
        for char in ("\x1b", "\x07", "\x9b", "\u202e"):
            assert char not in text, f"{command} printed {char!r} from the source: {text!r}"
    assert "esc-\\x1b]0;pwned" in outputs["records show"].output
    assert "\\u001b]0;pwned" in outputs["records --json"].output, "JSON stays valid JSON"
    assert json.loads(outputs["records --json"].output)[0]["record_id"] == hostile["id"]
