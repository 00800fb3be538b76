"""Nothing without a login, no action without the CSRF token, and sessions that end."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from console_env import PASSWORD, SCHEME_ID, USER, ConsoleEnv, csrf_of, status_of

from ferry.console import add_user, hash_password, remove_user, verify_password
from ferry.errors import ConfigError
from ferry.store._schema import users

PAGES = [
    "/",
    "/schemes",
    f"/schemes/{SCHEME_ID}",
    "/runs",
    "/runs/1",
    "/records",
    "/records?status=error",
    f"/records/{SCHEME_ID}/{{error}}",
    "/apis",
    "/alerts",
]
API_GETS = [
    "/api/dashboard",
    "/api/schemes",
    f"/api/schemes/{SCHEME_ID}",
    f"/api/schemes/{SCHEME_ID}/preview",
    "/api/runs",
    "/api/runs/1",
    "/api/records",
    f"/api/records/{SCHEME_ID}/{{error}}",
    "/api/apis",
    "/api/alerts",
    "/openapi.json",
]
PAGE_POSTS = [
    ("/logout", {}),
    (f"/schemes/{SCHEME_ID}/enabled", {"enabled": "0"}),
    (f"/schemes/{SCHEME_ID}/run", {}),
    ("/records/replay", {"sel": "{sel}"}),
    ("/records/replay", {"mode": "filter", "scheme": SCHEME_ID, "status": "error"}),
]
API_POSTS = [
    ("/api/session/logout", None),
    (f"/api/schemes/{SCHEME_ID}/enabled", {"enabled": False}),
    (f"/api/schemes/{SCHEME_ID}/run", None),
    ("/api/records/replay", {"records": [{"scheme_id": SCHEME_ID, "record_id": "{error}"}]}),
    ("/api/records/replay", {"scheme_id": SCHEME_ID, "status": ["error"]}),
]


def fill(value: object, env: ConsoleEnv) -> object:
    """Put the test's record id into a path or body template."""
    text = json.dumps(value).replace("{error}", env.error_id)
    text = text.replace('"{sel}"', json.dumps(json.dumps([SCHEME_ID, env.error_id])))
    return json.loads(text)


def assert_nothing_changed(env: ConsoleEnv, runs_before: int) -> None:
    scheme = env.store.get_scheme(SCHEME_ID)
    assert scheme is not None and scheme["enabled"] is True
    assert status_of(env.store, env.error_id) == "error"
    assert not env.runner.running(SCHEME_ID)
    assert len(env.store.list_runs(SCHEME_ID, limit=100)) == runs_before


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_to_the_login_without_a_session(env: ConsoleEnv, path: str) -> None:
    answer = env.new_client().get(str(fill(path, env)), follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("path", API_GETS)
def test_api_answers_401_without_a_session(env: ConsoleEnv, path: str) -> None:
    answer = env.new_client().get(str(fill(path, env)))

    assert answer.status_code == 401
    assert answer.json() == {"detail": "login required: POST /api/session first"}


@pytest.mark.parametrize(("path", "form"), PAGE_POSTS)
def test_page_actions_without_a_session_redirect_and_change_nothing(
    env: ConsoleEnv, path: str, form: dict
) -> None:
    runs = len(env.store.list_runs(SCHEME_ID, limit=100))
    client = env.new_client()
    token = csrf_of(client.get("/login").text)  # a valid token of an anonymous session is not enough

    answer = client.post(path, data={**fill(form, env), "csrf_token": token}, follow_redirects=False)  # type: ignore[dict-item]

    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert_nothing_changed(env, runs)


@pytest.mark.parametrize(("path", "body"), API_POSTS)
def test_api_actions_without_a_session_answer_401(env: ConsoleEnv, path: str, body: object) -> None:
    runs = len(env.store.list_runs(SCHEME_ID, limit=100))
    client = env.new_client()
    token = client.get("/api/session").json()["csrf_token"]

    answer = client.post(path, json=fill(body, env), headers={"X-CSRF-Token": token})

    assert answer.status_code == 401
    assert_nothing_changed(env, runs)


@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing", "wrong"])
@pytest.mark.parametrize(("path", "form"), PAGE_POSTS)
def test_page_actions_without_the_csrf_token_are_forbidden(
    env: ConsoleEnv, path: str, form: dict, token: str | None
) -> None:
    env.login()
    runs = len(env.store.list_runs(SCHEME_ID, limit=100))
    data = fill(form, env)
    if token is not None:
        data["csrf_token"] = token  # type: ignore[index]

    answer = env.client.post(path, data=data, follow_redirects=False)  # type: ignore[arg-type]

    assert answer.status_code == 403
    assert "CSRF" in answer.text
    assert_nothing_changed(env, runs)
    assert env.client.get("/", follow_redirects=False).status_code == 200, "still logged in"


@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing", "wrong"])
@pytest.mark.parametrize(("path", "body"), API_POSTS)
def test_api_actions_without_the_csrf_header_are_forbidden(
    env: ConsoleEnv, path: str, body: object, token: str | None
) -> None:
    good = env.api_login()
    runs = len(env.store.list_runs(SCHEME_ID, limit=100))
    headers = {} if token is None else {"X-CSRF-Token": token}

    answer = env.client.post(path, json=fill(body, env), headers=headers)

    assert answer.status_code == 403
    assert "CSRF" in answer.json()["detail"]
    assert_nothing_changed(env, runs)
    assert env.client.get("/api/session").json()["authenticated"] is True
    # A form field does not replace the header for the JSON API.
    assert env.client.post(path, data={"csrf_token": good}).status_code in (403, 422)


def test_login_needs_the_csrf_token_and_the_right_password(env: ConsoleEnv) -> None:
    client = env.new_client()
    token = csrf_of(client.get("/login").text)

    no_token = client.post("/login", data={"username": USER, "password": PASSWORD}, follow_redirects=False)
    wrong = client.post(
        "/login",
        data={"username": USER, "password": "nope-nope", "csrf_token": token},
        follow_redirects=False,
    )
    unknown = client.post(
        "/login", data={"username": "eve", "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )

    assert no_token.status_code == 403
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    assert unknown.status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 303
    right = client.post(
        "/login", data={"username": USER, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert right.status_code == 303 and right.headers["location"] == "/"
    assert client.get("/", follow_redirects=False).status_code == 200


def test_api_login_needs_the_csrf_token_and_the_right_password(env: ConsoleEnv) -> None:
    client = env.new_client()
    token = client.get("/api/session").json()["csrf_token"]

    assert client.post("/api/session", json={"username": USER, "password": PASSWORD}).status_code == 403
    wrong = client.post(
        "/api/session", json={"username": USER, "password": "x" * 9}, headers={"X-CSRF-Token": token}
    )
    assert wrong.status_code == 401
    assert client.get("/api/dashboard").status_code == 401
    assert env.api_login(client)
    assert client.get("/api/dashboard").status_code == 200


def test_the_session_cookie_is_signed_httponly_and_samesite_lax(env: ConsoleEnv) -> None:
    client = env.new_client()
    page = client.get("/login")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("ferry_session=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    token = csrf_of(page.text)
    answer = client.post(
        "/login", data={"username": USER, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert PASSWORD not in answer.headers["set-cookie"]
    # A tampered cookie is no session at all.
    forged = env.new_client()
    forged.cookies.set(
        "ferry_session", answer.headers["set-cookie"].split(";")[0].split("=", 1)[1][:-3] + "AAA"
    )
    assert forged.get("/", follow_redirects=False).status_code == 303


def test_the_login_token_changes_and_logout_ends_the_session(env: ConsoleEnv) -> None:
    before = csrf_of(env.client.get("/login").text)
    after = env.login()
    assert after != before, "a fresh session (and CSRF token) after login"

    answer = env.client.post("/logout", data={"csrf_token": after}, follow_redirects=False)

    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert env.client.get("/", follow_redirects=False).status_code == 303


def test_a_removed_user_loses_the_open_session(env: ConsoleEnv) -> None:
    env.login()
    assert env.client.get("/", follow_redirects=False).status_code == 200

    assert remove_user(env.store, USER)

    assert env.client.get("/", follow_redirects=False).status_code == 303
    assert env.client.get("/api/schemes").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(env: ConsoleEnv, target: str) -> None:
    client = env.new_client()
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"username": USER, "password": PASSWORD, "csrf_token": token, "next": target},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_the_original_page_is_shown_after_login(env: ConsoleEnv) -> None:
    client = env.new_client()
    first = client.get("/runs?scheme=x", follow_redirects=True)
    token = csrf_of(first.text)
    assert 'name="next" value="/runs?scheme=x"' in first.text
    answer = client.post(
        "/login",
        data={"username": USER, "password": PASSWORD, "csrf_token": token, "next": "/runs?scheme=x"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/runs?scheme=x"


def test_passwords_are_stored_as_salted_scrypt_hashes(env: ConsoleEnv) -> None:
    one, two = hash_password("same-password"), hash_password("same-password")
    assert one != two and one.startswith("scrypt$")
    assert verify_password("same-password", one) and verify_password("same-password", two)
    assert not verify_password("other-password", one)
    assert not verify_password("same-password", "md5$abc")
    with env.store.transaction() as conn:
        stored = conn.execute(sa.select(users.c.password_hash).where(users.c.username == USER)).scalar_one()
    assert PASSWORD not in stored and verify_password(PASSWORD, stored)


def test_users_need_a_long_password_and_a_unique_name(env: ConsoleEnv) -> None:
    with pytest.raises(ConfigError, match="at least 8"):
        add_user(env.store, "short", "1234567")
    with pytest.raises(ConfigError, match="already exists"):
        add_user(env.store, USER, "another-password")
    with pytest.raises(ConfigError, match="invalid user name"):
        add_user(env.store, "two words", "another-password")
    assert add_user(env.store, USER, "another-password", replace=True) is False


def test_metrics_need_no_session_but_the_bearer_token(env: ConsoleEnv) -> None:
    console = env.app.state.console
    console.render_metrics = lambda store: (b"ferry_records 3\n", "text/plain; version=0.0.4")
    client = env.new_client()
    assert client.get("/metrics").status_code == 200, "no token configured: open"

    console.metrics_token = "m-token-123"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer m-token-123"})
    assert answer.status_code == 200 and answer.text == "ferry_records 3\n"
    assert answer.headers["content-type"].startswith("text/plain")
    assert "m-token-123" not in client.get("/metrics").text


def test_pages_carry_security_headers(env: ConsoleEnv) -> None:
    answer = env.new_client().get("/login")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
