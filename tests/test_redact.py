"""ferry._redact: URL passwords found by SQLAlchemy's parser, remembered secrets in every text form,
credential names, and what the connection loader remembers."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from ferry._redact import MASK, mask_url, redact, remember_secrets, url_password
from ferry.connectors.registry import parse_connection
from ferry.connectors.specs import SqlConnection
from ferry.errors import ConfigError

HOST = "@db.internal:3306/erp?charset=utf8mb4"


def in_text(url: str) -> list[str]:
    """``url`` as messages show it: in prose, in JSON, in a repr, in parentheses."""
    return [f"connect {url} failed", json.dumps({"url": url}), repr([url, "other"]), f"({url})"]


@pytest.mark.parametrize(
    ("written", "password"),
    [
        pytest.param("p/ss", "p/ss", id="slash"),
        pytest.param("p#ss", "p#ss", id="hash"),
        pytest.param("p?ss", "p?ss", id="question-mark"),
        pytest.param("p%40ss", "p@ss", id="at-encoded"),
        pytest.param("p%25ss", "p%ss", id="percent-encoded"),
        pytest.param("a/b#c?d%40e%25f", "a/b#c?d@e%f", id="all-of-them"),
        pytest.param("it's", "it's", id="single-quote"),
        pytest.param("p:ss", "p:ss", id="colon"),
        pytest.param("x", "x", id="one-character"),
    ],
)
def test_a_url_password_is_masked_where_sqlalchemy_reads_it(written: str, password: str) -> None:
    url = f"mysql+pymysql://app:{written}{HOST}"
    assert make_url(url).password == password, "the case is a password SQLAlchemy accepts"

    masked = mask_url(url)

    assert masked == f"mysql+pymysql://app:***{HOST}"
    assert masked == make_url(url).render_as_string(hide_password=True)
    assert url_password(url) == password
    for text in in_text(url):  # a URL Ferry never loaded: found by parsing alone
        shown = redact(text)
        assert f"app:***{HOST}" in shown, shown
        assert f":{written}@" not in shown


def test_a_password_with_a_double_quote_is_masked_once_loaded() -> None:
    # In text a URL ends at '"' (so a URL inside JSON never swallows the keys after it): such a
    # password is masked in text because loading the connection remembers it.
    url = f"mysql+pymysql://app:it's\"q{HOST}"
    spec = parse_connection({"type": "sql", "name": "db", "url": url}, path="p")
    assert isinstance(spec, SqlConnection)
    assert spec.label() == f"sql connection 'db' (mysql+pymysql://app:***{HOST})"
    for text in in_text(url):
        shown = redact(text)
        assert "it's" not in shown and "it\\'s" not in shown, shown


def test_a_raw_at_sign_in_a_password_is_masked_up_to_the_host() -> None:
    # SQLAlchemy splits at the first '@' (and would look for host "ss@db"): nothing before the
    # real host may show, whichever '@' SQLAlchemy took.
    assert mask_url("mysql://app:p@ss@db/erp") == "mysql://app:***@db/erp"


def test_a_url_sqlalchemy_cannot_parse_is_masked_up_to_its_last_at_sign() -> None:
    assert mask_url("mysql://app:s3cret@db:port/erp") == "mysql://app:***@db:port/erp"


@pytest.mark.parametrize(
    "url",
    ["sqlite:///tmp/x.db", "mysql+pymysql://app@db/erp", "https://api.example.com/v1/orders?page=2"],
)
def test_a_url_without_a_password_is_left_as_written(url: str) -> None:
    assert mask_url(url) == url
    assert redact(f"GET {url}") == f"GET {url}"


def test_masking_a_url_inside_json_keeps_the_json_valid() -> None:
    text = json.dumps({"a": "mysql://u:p/w#d@h/db", "b": "https://h", "c": "v:x@y"}, separators=(",", ":"))
    assert json.loads(redact(text)) == {"a": "mysql://u:***@h/db", "b": "https://h", "c": "v:x@y"}


def test_a_remembered_secret_is_masked_in_every_form_text_gives_it() -> None:
    secret = "k/e#y?@%&<\"'>"
    remember_secrets([secret])
    forms = {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "repr": repr(secret)[1:-1],
        "percent": quote(secret, safe=""),
        "html": "k/e#y?@%&amp;&lt;&#34;&#39;&gt;",
    }
    for name, form in forms.items():
        assert redact(f"before {form} after") == f"before {MASK} after", name


def test_a_short_secret_is_not_replaced_in_text_but_its_named_value_is() -> None:
    remember_secrets(["7"], names=["X-Tenant"])
    assert redact("fetched 7 of 17 records") == "fetched 7 of 17 records"
    echoed = [
        ('{"x-tenant": "7", "n": 7}', '{"x-tenant": "***", "n": 7}'),
        ("{'X-Tenant': '7'}", "{'X-Tenant': '***'}"),
        ("X-Tenant: 7\nAccept: */*", "X-Tenant: ***\nAccept: */*"),
        ("GET /o?x-tenant=7&page=1", "GET /o?x-tenant=***&page=1"),
    ]
    for text, shown in echoed:
        assert redact(text) == shown


def test_loading_a_connection_remembers_its_env_values_headers_and_password() -> None:
    env = {"SHOP_HOST": "api.shop-42.example", "TENANT": "t9"}
    parse_connection(
        {
            "type": "http",
            "name": "shop",
            "base_url": "https://${SHOP_HOST}/v1",
            "headers": {"X-Api-Key": "hk-literal-in-the-file", "X-Tenant": "${TENANT}"},
        },
        path="connections.yaml:shop",
        env=env,
    )
    sql = parse_connection(
        {"type": "sql", "name": "db", "url": "mysql+pymysql://app:pa%2Fss%40word@db/erp"}, path="p"
    )
    assert isinstance(sql, SqlConnection)
    text = "https://api.shop-42.example/v1 said hk-literal-in-the-file; the password pa/ss@word"
    assert redact(text) == "https://***/v1 said ***; the password ***"
    assert redact('{"x-tenant":"t9"}') == '{"x-tenant":"***"}'
    assert sql.label() == "sql connection 'db' (mysql+pymysql://app:***@db/erp)"


def test_a_value_from_the_environment_is_never_quoted_in_a_validation_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_connection(
            {"type": "http", "name": "shop", "base_url": "https://x", "timeout": "${TIMEOUT}"},
            path="connections.yaml:shop",
            env={"TIMEOUT": "zz"},
        )
    message = str(caught.value)
    assert "timeout: Input should be a valid number" in message
    assert "zz" not in message


def test_a_header_value_is_never_quoted_in_a_validation_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_connection(
            {"type": "http", "name": "shop", "base_url": "https://x", "headers": {"X-Tenant": 17}},
            path="connections.yaml:shop",
        )
    assert "headers.X-Tenant: Input should be a valid string" in str(caught.value)
    assert "17" not in str(caught.value)
