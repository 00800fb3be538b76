"""A tiny JSON HTTP API over the demo dataset, in a background thread or its own process.

Endpoints (all ``GET``, JSON, ``{"code": 0, "msg": "ok", "data": {...}}`` on success and
HTTP 400/404 with ``{"code": <status>, "msg": ...}`` otherwise):

``/products?page=1&page_size=100``
    ``data.list``: products ordered by ``sku_id``; ``data.total``: the product count.
``/orders?start=YYYY-MM-DD HH:MM:SS&end=...&page=1&page_size=100``
    Orders with ``start <= modified < end`` ordered by ``(modified, order_id)``; ``data.total``:
    how many match the window. ``start``/``end`` may be omitted (unbounded).

Pages are 1-based, ``page_size`` is 1..1000. Run standalone (so a test can kill a Ferry
process without killing its source)::

    python -m ferry.demo.server --port 8765 --orders 80000
    # prints: http://127.0.0.1:8765
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from ferry.demo.dataset import DEFAULT_END, TIME_FORMAT, DemoDataset, build_dataset, parse_time

__all__ = ["MAX_PAGE_SIZE", "DemoApp", "DemoSource", "main"]

MAX_PAGE_SIZE = 1000


class _BadRequest(Exception):
    pass


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise _BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def _time_param(params: Mapping[str, str], name: str) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_time(raw).strftime(TIME_FORMAT)
    except ValueError:
        raise _BadRequest(f"{name} must be 'YYYY-MM-DD HH:MM:SS', got {raw!r}") from None


class DemoApp:
    """The API as a function of (path, query parameters) -> (status, JSON bytes); no I/O."""

    def __init__(self, dataset: DemoDataset, *, latency_ms: float = 0) -> None:
        self.dataset = dataset
        self.latency_ms = latency_ms
        self.requests: dict[str, int] = {}
        self._lock = threading.Lock()

    def handle(self, path: str, params: Mapping[str, str]) -> tuple[int, bytes]:
        """Answer one request (sleeping ``latency_ms`` first)."""
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        with self._lock:
            self.requests[path] = self.requests.get(path, 0) + 1
        try:
            if path == "/products":
                data = self._products(params)
            elif path == "/orders":
                data = self._orders(params)
            elif path == "/health":
                data = {"orders": len(self.dataset.orders), "products": len(self.dataset.products)}
            else:
                return 404, orjson.dumps({"code": 404, "msg": f"no such endpoint: {path}"})
        except _BadRequest as exc:
            return 400, orjson.dumps({"code": 400, "msg": str(exc)})
        return 200, orjson.dumps({"code": 0, "msg": "ok", "data": data})

    @staticmethod
    def _paging(params: Mapping[str, str]) -> tuple[int, int]:
        page = _int_param(params, "page", 1, 1, 10**9)
        size = _int_param(params, "page_size", 100, 1, MAX_PAGE_SIZE)
        return page, size

    def _products(self, params: Mapping[str, str]) -> dict[str, Any]:
        page, size = self._paging(params)
        products = self.dataset.products
        first = (page - 1) * size
        return {
            "list": products[first : first + size],
            "total": len(products),
            "page": page,
            "page_size": size,
        }

    def _orders(self, params: Mapping[str, str]) -> dict[str, Any]:
        page, size = self._paging(params)
        start, end = _time_param(params, "start"), _time_param(params, "end")
        if start is not None and end is not None and start > end:
            raise _BadRequest(f"start {start!r} is after end {end!r}")
        lo, hi = self.dataset.window(start, end)
        first = lo + (page - 1) * size
        rows = self.dataset.orders[first : min(hi, first + size)] if first < hi else []
        return {"list": rows, "total": hi - lo, "page": page, "page_size": size}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # close idle keep-alive connections
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        status, body = self.server.app.handle(url.path, params)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: DemoApp) -> None:
        super().__init__(address, _Handler)
        self.app = app


class DemoSource:
    """The demo API over HTTP on ``127.0.0.1`` in a background thread.

    ::

        with DemoSource(n_orders=1000, n_products=50) as demo:
            httpx.get(demo.base_url + "/orders", params={"page_size": 100})
            expected = demo.orders()
    """

    def __init__(
        self,
        n_orders: int = 1000,
        n_products: int = 100,
        seed: int = 1,
        latency_ms: float = 0,
        *,
        days: int = 30,
        end: datetime = DEFAULT_END,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.dataset = build_dataset(n_orders=n_orders, n_products=n_products, seed=seed, days=days, end=end)
        self.app = DemoApp(self.dataset, latency_ms=latency_ms)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the running server."""
        if self._server is None:
            raise RuntimeError("DemoSource is not started; call start() or use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Start serving (a random free port unless one was given); return the base URL."""
        if self._server is None:
            self._server = _Server(self._address, self.app)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="ferry-demo",
                daemon=True,
            )
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> DemoSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def transport(self) -> Any:
        """An ``httpx.MockTransport`` answering from the same app in-process (no socket needed)."""
        import httpx

        def handler(request: httpx.Request) -> httpx.Response:
            params = dict(request.url.params)
            status, body = self.app.handle(request.url.path, params)
            return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

        return httpx.MockTransport(handler)

    def connection(self, name: str = "demo", *, page_size: int = 100, base_url: str | None = None) -> Any:
        """An :class:`~ferry.connectors.specs.HttpConnection` for this API (page-numbered, 1-based).

        ``base_url`` defaults to the running server's URL (``http://demo.invalid`` when not
        started, for use with :meth:`transport`).
        """
        from ferry.connectors.specs import HttpConnection

        url = base_url or (self.base_url if self._server is not None else "http://demo.invalid")
        return HttpConnection.model_validate(
            {
                "type": "http",
                "name": name,
                "base_url": url,
                "paging": {"style": "page", "page_size": page_size, "max_page_size": MAX_PAGE_SIZE},
                "records_path": "data.list",
                "total_path": "data.total",
            }
        )

    def orders(self) -> list[dict[str, Any]]:
        """Every order as served, by ``(modified, order_id)``. Treat as read-only."""
        return list(self.dataset.orders)

    def products(self) -> list[dict[str, Any]]:
        """Every product as served, by ``sku_id``. Treat as read-only."""
        return list(self.dataset.products)

    def order_lines(self) -> list[dict[str, Any]]:
        """One dict per order item line (see :meth:`DemoDataset.order_lines`)."""
        return self.dataset.order_lines()


def main(argv: list[str] | None = None) -> int:
    """``python -m ferry.demo.server``: serve until SIGTERM/SIGINT, printing the URL first."""
    parser = argparse.ArgumentParser(prog="python -m ferry.demo.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a random free port")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=0)
    args = parser.parse_args(argv)
    source = DemoSource(
        n_orders=args.orders,
        n_products=args.products,
        seed=args.seed,
        latency_ms=args.latency_ms,
        days=args.days,
        host=args.host,
        port=args.port,
    )
    server = _Server(source._address, source.app)
    host, port = str(server.server_address[0]), server.server_address[1]

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    print(f"http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
