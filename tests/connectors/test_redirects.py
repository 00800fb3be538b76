"""No credential leaves the configured host on a redirect: the http connector and the vendor clients.

httpx drops ``Authorization`` on a cross-origin redirect but sends custom headers (``X-Api-Key``,
K3Cloud's signed ``X-Api-*`` headers) on, and a 307/308 resends the body (KuaiMai's signed form,
K3Cloud's login). Each test answers one request of the real client with a redirect to
``elsewhere.example`` carrying the request's own path and query (a server that copies them into
``Location``) and asserts that nothing at all was sent there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from ferry.connectors._http_client import origin
from ferry.connectors.base import Delivery, PageState
from ferry.connectors.http import HttpConnector
from ferry.connectors.k3cloud import K3CloudConnection, K3CloudConnector
from ferry.connectors.kuaimai import KuaimaiConnection, KuaimaiConnector
from ferry.connectors.registry import parse_connection
from ferry.connectors.specs import HttpConnection
from ferry.errors import ConfigError
from ferry.sandbox import CHINA, Faults, SandboxTransport
from ferry.sandbox.k3cloud import K3CloudSimulator
from ferry.sandbox.kuaimai import KuaimaiSimulator

OTHER = "https://elsewhere.example"
API_KEY = "xk-9f2c47d1-api-key"
TOKEN = "tq-61be0a93-query-token"
Handler = Callable[[httpx.Request], httpx.Response]


class Redirecting(httpx.BaseTransport):
    """Answers request number ``at`` to the API with ``status`` and ``Location: <to><path>?<query>``;
    every other request goes to ``inner``. Keeps every request it was sent, whatever the host."""

    def __init__(self, inner: Handler, *, status: int = 302, at: int = 1, to: str = OTHER) -> None:
        self.inner, self.status, self.at, self.to = inner, status, at, to
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.url.host == "elsewhere.example":
            return httpx.Response(200, json={"data": {"list": []}, "code": 0})  # would take anything
        if len(self.requests) == self.at:
            location = f"{self.to}{request.url.raw_path.decode()}"
            return httpx.Response(self.status, headers={"Location": location})
        return self.inner(request)

    def sent_to(self, host: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == host]


def orders(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": {"list": [{"id": 1}, {"id": 2}]}})


def http_connector(
    transport: httpx.BaseTransport, base_url: str = "https://api.example.com"
) -> HttpConnector:
    spec = parse_connection(
        {
            "type": "http",
            "name": "shop",
            "base_url": base_url,
            "headers": {"X-Api-Key": API_KEY},
            "auth": {"type": "query", "name": "token", "value": TOKEN},
            "records_path": "data.list",
        },
        path="connections.yaml:shop",
    )
    assert isinstance(spec, HttpConnection)
    return HttpConnector(spec, transport=transport)


def assert_refused(error: ConfigError, transport: Redirecting, source: str) -> None:
    message = str(error)
    assert f"from {source} to {OTHER}" in message, message
    assert "hint: if the API has moved, set the connection's base_url" in message
    assert transport.sent_to("elsewhere.example") == [], "a request reached the other host"
    for secret in (API_KEY, TOKEN):
        assert secret not in message


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_http_source_refuses_a_redirect_to_another_host(status: int) -> None:
    transport = Redirecting(orders, status=status)
    with pytest.raises(ConfigError) as caught:
        http_connector(transport).fetch("/orders", "GET", {"since": "2024-01-01"}, PageState(page_size=2))
    assert_refused(caught.value, transport, "https://api.example.com")
    assert "http connection 'shop': GET /orders" in str(caught.value)
    [first] = transport.requests
    assert first.headers["x-api-key"] == API_KEY and first.url.params["token"] == TOKEN


@pytest.mark.parametrize("status", [302, 307])
def test_the_http_target_refuses_a_redirect_to_another_host(status: int) -> None:
    transport = Redirecting(lambda r: httpx.Response(200, json={"ok": True}), status=status)
    delivery = Delivery(api="/orders", method="POST", body={"id": 1}, record_ids=["1"])
    with pytest.raises(ConfigError) as caught:
        http_connector(transport).write(delivery)
    assert_refused(caught.value, transport, "https://api.example.com")


def test_a_redirect_on_the_same_host_is_followed_with_the_credentials() -> None:
    transport = Redirecting(orders, to="https://api.example.com/v2")
    page = http_connector(transport).fetch("/orders", "GET", {}, PageState(page_size=2))
    assert [r["id"] for r in page.records] == [1, 2]
    assert [r.url.path for r in transport.requests] == ["/orders", "/v2/orders"]
    assert all(r.headers["x-api-key"] == API_KEY for r in transport.requests)


def test_an_upgrade_to_https_on_the_same_host_is_followed() -> None:
    transport = Redirecting(orders, to="https://api.example.com")
    page = http_connector(transport, base_url="http://api.example.com").fetch(
        "/orders", "GET", {}, PageState(page_size=2)
    )
    assert len(page.records) == 2
    assert [str(r.url.scheme) for r in transport.requests] == ["http", "https"]


def test_another_port_on_the_same_host_is_another_host() -> None:
    transport = Redirecting(orders, to="https://api.example.com:8443")
    with pytest.raises(ConfigError) as caught:
        http_connector(transport).fetch("/orders", "GET", {}, PageState(page_size=2))
    assert "from https://api.example.com to https://api.example.com:8443" in str(caught.value)
    assert len(transport.requests) == 1


# -- vendor clients ----------------------------------------------------------------------------


T0 = datetime(2024, 7, 1, tzinfo=CHINA).timestamp()


@pytest.mark.parametrize(
    ("login", "status", "secret"),
    [
        pytest.param("signed_headers", 302, K3CloudSimulator.APP_SECRET, id="signed-headers-302"),
        pytest.param("app_secret", 307, K3CloudSimulator.APP_SECRET, id="login-body-307"),
        pytest.param("password", 308, K3CloudSimulator.PASSWORD, id="password-login-308"),
    ],
)
def test_the_k3cloud_client_sends_no_credential_to_another_host(login: str, status: int, secret: str) -> None:
    sim = K3CloudSimulator(size=4, clock=lambda: T0)
    sandbox = SandboxTransport({"k3cloud": sim})
    transport = Redirecting(sandbox.handle_request, status=status)
    spec = K3CloudConnection(
        name="erp",
        base_url=f"{sim.base_url}/k3cloud",
        acct_id=K3CloudSimulator.ACCT_ID,
        username=K3CloudSimulator.USERNAME,
        app_id=K3CloudSimulator.APP_ID,
        app_secret=K3CloudSimulator.APP_SECRET,
        password=K3CloudSimulator.PASSWORD,
        login=login,
    )
    connector = K3CloudConnector(spec, transport=transport, clock=lambda: T0)
    request = {"FID": "FID", "Fbillno": "FBillNo", "FormId": "SAL_SaleOrder"}
    with pytest.raises(ConfigError) as caught:
        connector.fetch("ExecuteBillQuery", "POST", request, PageState(page_size=2))
    assert_refused(caught.value, transport, origin(httpx.URL(sim.base_url)))
    assert "kingdee_k3cloud connection 'erp'" in str(caught.value)
    assert secret not in str(caught.value)


@pytest.mark.parametrize("status", [302, 307])
def test_the_kuaimai_client_sends_no_signed_form_to_another_host(status: int) -> None:
    sim = KuaimaiSimulator(size=4, faults=Faults(rate_per_second=0), clock=lambda: 1_717_000_000.0)
    transport = Redirecting(SandboxTransport({"kuaimai": sim}).handle_request, status=status)
    spec = KuaimaiConnection(
        name="km",
        base_url=f"{sim.base_url}/router",
        app_key=KuaimaiSimulator.APP_KEY,
        app_secret=KuaimaiSimulator.APP_SECRET,
        session=KuaimaiSimulator.SESSION,
    )
    connector = KuaimaiConnector(spec, transport=transport, clock=lambda: 1_717_000_000.0)
    window: dict[str, Any] = {"startModified": "2024-05-01 00:00:00", "endModified": "2024-06-01 00:00:00"}
    with pytest.raises(ConfigError) as caught:
        connector.fetch("erp.aftersale.list.query", "POST", window, PageState(page_size=2))
    assert_refused(caught.value, transport, origin(httpx.URL(sim.base_url)))
    [sent] = transport.requests
    assert KuaimaiSimulator.SESSION.encode() in sent.content, "the form carried the session to the API host"
    assert KuaimaiSimulator.SESSION not in str(caught.value)
