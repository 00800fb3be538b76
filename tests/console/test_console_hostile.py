"""Hostile console requests, as data (``hostile_requests.yaml``): every one is answered 4xx
with a message naming what was wrong, never 500, and changes nothing in the ledger."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from console_env import SCHEME_ID, ConsoleEnv

CASES = yaml.safe_load((Path(__file__).parent / "hostile_requests.yaml").read_text(encoding="utf-8"))[
    "requests"
]
_REPEAT = re.compile(r"<<(\d+):(.*?)>>", re.DOTALL)


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return _REPEAT.sub(lambda m: m.group(2) * int(m.group(1)), value).replace("{scheme}", SCHEME_ID)
    if isinstance(value, dict):
        return {key: _expand(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item) for item in value]
    return value


def _send(env: ConsoleEnv, token: str, case: dict[str, Any]) -> httpx.Response:
    if "get" in case:
        return env.client.get(_expand(case["get"]), params=_expand(case.get("params", {})))
    path = _expand(case["post"])
    if "form" in case:
        form = {**_expand(case["form"]), "csrf_token": token}
        return env.client.post(path, data=form, follow_redirects=True)
    headers = {"X-CSRF-Token": token, "content-type": "application/json"}
    if "body_bytes" in case:
        padding = "x" * (case["body_bytes"] - len('{"number": ""}'))
        return env.client.post(path, content=json.dumps({"number": padding}), headers=headers)
    body = _expand(case["json"])
    if "listed_records" in case:
        body["records"] = [
            {"scheme_id": SCHEME_ID, "record_id": str(i)} for i in range(case["listed_records"])
        ]
    return env.client.post(path, content=json.dumps(body), headers=headers)


def _said(answer: httpx.Response) -> str:
    if answer.headers.get("content-type", "").startswith("application/json"):
        body = answer.json()
        return body["message"] if isinstance(body.get("message"), str) else str(body.get("detail"))
    return html.unescape(answer.text)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_hostile_request_is_answered_4xx_with_a_message(env: ConsoleEnv, case: dict[str, Any]) -> None:
    token = env.login()
    before = env.store.count_by_status(SCHEME_ID)

    answer = _send(env, token, case)

    assert answer.status_code == case["status"], answer.text[:1000]
    assert case["message"] in _said(answer), _said(answer)[:1000]
    assert len(answer.content) < 100_000, "the answer echoes the request in full"
    assert env.store.count_by_status(SCHEME_ID) == before


def test_a_time_without_a_zone_is_in_the_schemes_zone(env: ConsoleEnv) -> None:
    env.login()
    updated = sorted(r.updated_at for r in env.store.find_records(SCHEME_ID, limit=1000))
    middle = updated[len(updated) // 2].astimezone(env.scheme.tz)
    naive = middle.replace(tzinfo=None).isoformat()

    def ids(since: str, scheme: str | None = SCHEME_ID) -> list[str]:
        params = {"since": since, "limit": "1000", **({"scheme_id": scheme} if scheme else {})}
        answer = env.client.get("/api/records", params=params)
        assert answer.status_code == 200, answer.text
        return [r["record_id"] for r in answer.json()["records"]]

    expected = ids(middle.isoformat())
    assert 0 < len(expected) < len(updated)
    assert ids(naive) == expected, "a naive since is read in the scheme's zone"
    assert ids(naive, scheme=None) == expected, "without a scheme: the console's zone, Asia/Shanghai"


def test_a_body_sent_in_chunks_is_cut_off_at_the_limit(env: ConsoleEnv) -> None:
    token = env.login()

    def chunks():  # no Content-Length: the size is only known while reading
        yield b'{"number": "'
        for _ in range(300):
            yield b"x" * 10_000
        yield b'"}'

    answer = env.client.post(
        "/api/records/replay",
        content=chunks(),
        headers={"X-CSRF-Token": token, "content-type": "application/json"},
    )

    assert answer.status_code == 413
    assert answer.json()["detail"].startswith("request body too large: more than 2,097,152 bytes")


def test_a_search_for_a_wildcard_alone_is_no_filter(env: ConsoleEnv) -> None:
    env.login()
    everything = env.client.get("/api/records", params={"limit": 1000}).json()["records"]

    for pattern in ("*", "%", "**", " "):
        found = env.client.get("/api/records", params={"number": pattern, "limit": 1000}).json()["records"]
        assert found == everything, pattern
