"""Local receivers that check requests the way DingTalk, WeCom and Feishu do, and store-state builders."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from ferry.connectors.base import Delivery, Limits, Outcome, Page, PageState
from ferry.store import Store
from ferry.store._schema import ledger, runs

DINGTALK_TOKEN, DINGTALK_SECRET = "dt-token-1234", "SECdingtalk-secret-5678"
WECOM_KEY = "wecom-key-abcd"
FEISHU_HOOK, FEISHU_SECRET = "fs-hook-efgh", "feishu-secret-9012"
WEBHOOK_TOKEN = "hook-bearer-3456"
SECRETS = (DINGTALK_TOKEN, DINGTALK_SECRET, WECOM_KEY, FEISHU_HOOK, FEISHU_SECRET, WEBHOOK_TOKEN)


@dataclass
class Received:
    """One request a receiver got, and whether it accepted it."""

    channel: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    accepted: bool


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 playing the three robots and a webhook.

    Paths: ``/dingtalk/robot/send``, ``/wecom/webhook/send``, ``/feishu/bot/v2/hook/<token>``,
    ``/hook``. ``status[channel] = 500`` makes that channel answer HTTP 500 until reset.
    """

    requests: list[Received] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    raw: dict[str, bytes] = field(default_factory=dict)
    """``raw[channel] = b"<html>..."``: that channel answers HTTP 200 with this body instead."""
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def got(self, channel: str, *, accepted: bool = True) -> list[Received]:
        return [r for r in self.requests if r.channel == channel and r.accepted == accepted]

    def config(self) -> dict[str, Any]:
        """An alerts ``channels:`` section pointing every HTTP channel here."""
        return {
            "ding": {
                "type": "dingtalk",
                "webhook": f"{self.base}/dingtalk/robot/send?access_token={DINGTALK_TOKEN}",
                "secret": DINGTALK_SECRET,
            },
            "wecom": {"type": "wecom", "webhook": f"{self.base}/wecom/webhook/send?key={WECOM_KEY}"},
            "feishu": {
                "type": "feishu",
                "webhook": f"{self.base}/feishu/bot/v2/hook/{FEISHU_HOOK}",
                "secret": FEISHU_SECRET,
            },
            "hook": {
                "type": "webhook",
                "url": f"{self.base}/hook",
                "headers": {"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
            },
        }

    # -- the vendors' checks ----------------------------------------------------------------------

    def judge(
        self, path: str, query: dict[str, str], headers: Mapping[str, str], body: Any
    ) -> tuple[str, int, Any]:
        now = time.time()
        if path == "/dingtalk/robot/send":
            if query.get("access_token") != DINGTALK_TOKEN:
                return "ding", 200, {"errcode": 300001, "errmsg": "token is not exist"}
            ts = query.get("timestamp", "")
            digest = hmac.new(DINGTALK_SECRET.encode(), f"{ts}\n{DINGTALK_SECRET}".encode(), hashlib.sha256)
            fresh = ts.isdigit() and abs(now * 1000 - int(ts)) < 3600_000
            if not fresh or query.get("sign") != base64.b64encode(digest.digest()).decode():
                return "ding", 200, {"errcode": 310000, "errmsg": "sign not match"}
            if body.get("msgtype") != "markdown" or "Ferry" not in body["markdown"]["text"]:
                return "ding", 200, {"errcode": 310000, "errmsg": "keywords not in content"}
            return "ding", 200, {"errcode": 0, "errmsg": "ok"}
        if path == "/wecom/webhook/send":
            if query.get("key") != WECOM_KEY:
                return "wecom", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
            return "wecom", 200, {"errcode": 0, "errmsg": "ok"}
        if path.startswith("/feishu/bot/v2/hook/"):
            if path.rsplit("/", 1)[1] != FEISHU_HOOK:
                return (
                    "feishu",
                    200,
                    {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"},
                )
            ts = str(body.get("timestamp", ""))
            key = f"{ts}\n{FEISHU_SECRET}".encode()
            expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            if not ts.isdigit() or abs(now - int(ts)) > 3600 or body.get("sign") != expected:
                return (
                    "feishu",
                    200,
                    {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"},
                )
            return "feishu", 200, {"code": 0, "msg": "success", "data": {}}
        if path == "/hook":
            if headers.get("Authorization") != f"Bearer {WEBHOOK_TOKEN}":
                return "hook", 401, {"error": "unauthorized"}
            return "hook", 200, {"ok": True}
        return "unknown", 404, {"error": "no such path"}

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                channel, status, answer = receiver.judge(parts.path, query, self.headers, body)
                if receiver.status.get(channel, 200) != 200:
                    status, answer = receiver.status[channel], {"error": "injected"}
                ok = status == 200 and answer.get("errcode", answer.get("code", 0)) == 0
                data = json.dumps(answer).encode()
                if channel in receiver.raw:
                    ok, data = False, receiver.raw[channel]
                receiver.requests.append(Received(channel, query, dict(self.headers), body, ok))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """What the local SMTP server received: ``(mail_from, rcpt_tos, message bytes)``."""

    port: int = 0
    mails: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    refuse: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 try again later"
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def start_smtp(mailbox: Mailbox, **options: Any) -> Any:
    from aiosmtpd.controller import Controller

    mailbox.port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **options)
    controller.start()
    return controller


# -- store states ----------------------------------------------------------------------------------


def ensure_scheme(store: Store, scheme: str) -> None:
    """Register ``scheme`` as ``run_scheme`` does (rules watch the store's enabled schemes)."""
    if store.get_scheme(scheme) is None:
        store.save_scheme(scheme, scheme, {})


def add_run(
    store: Store,
    scheme: str,
    status: str,
    started: datetime,
    finished: datetime | None = None,
    *,
    kind: str = "run",
    counts: Mapping[str, int] | None = None,
    error: str | None = None,
) -> int:
    """Insert a run with exact times (the Store API stamps the wall clock); registers the scheme."""
    ensure_scheme(store, scheme)
    with store.transaction(write=True) as conn:
        stmt = sa.insert(runs).values(
            scheme_id=scheme,
            kind=kind,
            status=status,
            started_at=started,
            finished_at=finished if finished is not None or status == "running" else started,
            counts=json.dumps(dict(counts or {})),
            error=error,
        )
        return int(conn.execute(stmt).inserted_primary_key[0])


def add_dead(store: Store, scheme: str, ids: Sequence[str], at: datetime) -> None:
    """Put records in the ledger as dead letters that went dead at ``at``; registers the scheme."""
    ensure_scheme(store, scheme)
    from ferry.store import RecordResult

    store.upsert_records(scheme, [(i, f"N-{i}", {"id": i}) for i in ids])
    store.record_results(scheme, [RecordResult(i, "dead", error="rejected") for i in ids])
    with store.transaction(write=True) as conn:
        conn.execute(
            sa.update(ledger)
            .where(ledger.c.scheme_id == scheme, ledger.c.record_id.in_(ids))
            .values(updated_at=at)
        )


# -- fake connectors for real runs -----------------------------------------------------------------


@dataclass
class FakeSource:
    """Serves ``records`` in pages of 2; call numbers in ``fail_calls`` raise ``error``."""

    records: list[dict[str, Any]]
    fail_calls: set[int] = field(default_factory=set)
    error: Exception | None = None
    limits: Limits = field(default_factory=lambda: Limits(default_page_size=2))
    name: str = "shop-api"
    calls: int = 0

    def fetch(self, api: str, method: str, request: Mapping[str, Any], state: PageState) -> Page:
        self.calls += 1
        if self.calls in self.fail_calls and self.error is not None:
            raise self.error
        chunk = self.records[state.offset : state.offset + state.page_size]
        more = state.offset + state.page_size < len(self.records)
        nxt = PageState(state.index + 1, state.page_size, state.offset + len(chunk)) if more else None
        return Page(records=[dict(r) for r in chunk], next=nxt, total=len(self.records))

    def close(self) -> None:
        pass

    def vendor_time(self) -> datetime | None:
        return None  # no vendor clock: the cursor is never held back


@dataclass
class FakeTarget:
    """Accepts every payload; records whose ``no`` is in ``reject`` fail."""

    reject: set[str] = field(default_factory=set)
    limits: Limits = field(default_factory=Limits)
    name: str = "warehouse"

    def write(self, delivery: Delivery) -> Sequence[Outcome]:
        return [
            Outcome(rid, ok=False, error="rejected by the warehouse")
            if row.get("no") in self.reject
            else Outcome(rid, ok=True, response={"code": 0})
            for rid, row in zip(delivery.record_ids, delivery.rows, strict=True)
        ]

    def close(self) -> None:
        pass
