"""Serving simulators over HTTP on localhost, one port per simulator.

``ferry sandbox`` uses this so a Ferry process (or curl, or a vendor SDK) can talk to the
simulators exactly as to the vendors. An injected timeout becomes a connection closed without
an answer; everything else is the simulator's own response.

::

    with SandboxServer(Sandbox.default(size=100), port=8700) as server:
        print(server.urls())   # {"k3cloud": "http://127.0.0.1:8700", "kis": "http://127.0.0.1:8701", ...}
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from ferry.sandbox._simulator import Simulator
from ferry.sandbox.transport import Sandbox

__all__ = ["SandboxServer"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    disable_nagle_algorithm = True
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host, port = self.server.server_address[:2]
        request = httpx.Request(
            self.command,
            f"http://{host!s}:{port}{self.path}",
            headers=[(k, v) for k, v in self.headers.items() if k.lower() not in ("host", "content-length")],
            content=body,
        )
        try:
            response = self.server.simulator.handle(request)
        except httpx.TimeoutException:
            self.close_connection = True  # the client sees the connection drop: its timeout
            return
        content = response.content
        self.send_response(response.status_code)
        for key, value in response.headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header tells the simulated vendor's clock (which may be skewed)."""
        return self.server.simulator.http_date()

    def log_message(self, format: str, *args: Any) -> None:  # the simulator keeps its own call log
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (a killed Ferry process) is not the simulator's problem."""

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator


class SandboxServer:
    """Every simulator of ``sandbox`` on consecutive ports from ``port`` (0: any free ports)."""

    def __init__(self, sandbox: Sandbox, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self.host = host
        self.port = port
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> dict[str, str]:
        """Start serving; returns each simulator's root URL."""
        for i, (name, simulator) in enumerate(self.sandbox.simulators.items()):
            port = self.port + i if self.port else 0
            server = _Server((self.host, port), simulator)
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"sandbox-{name}",
                daemon=True,
            )
            thread.start()
            self._servers[name] = server
            self._threads.append(thread)
        return self.urls()

    def urls(self) -> dict[str, str]:
        """``{name: "http://127.0.0.1:<port>"}`` of the running servers."""
        return {
            name: f"http://{server.server_address[0]!s}:{server.server_address[1]}"
            for name, server in self._servers.items()
        }

    def stop(self) -> None:
        """Stop every server."""
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
