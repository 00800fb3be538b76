"""Plugging simulators into httpx: in-process by host name, with no sockets.

::

    sandbox = Sandbox.default(size=100)
    client = httpx.Client(transport=sandbox.transport())
    client.post(f"{sandbox['jushuitan'].base_url}/open/other/inout/query", data=...)

Connectors take the transport through ``build_source(conn, transport=...)``; connection specs
point their ``base_url`` at ``http://<name>.sandbox`` (plus the vendor's path prefix).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from ferry.sandbox._faults import Faults
from ferry.sandbox._simulator import Simulator

__all__ = ["SIMULATORS", "Sandbox", "SandboxTransport"]

SIMULATORS: dict[str, str] = {
    "k3cloud": "ferry.sandbox.k3cloud:K3CloudSimulator",
    "kis": "ferry.sandbox.kis:KisSimulator",
    "jushuitan": "ferry.sandbox.jushuitan:JushuitanSimulator",
    "wangdiantong": "ferry.sandbox.wangdiantong:WangdiantongSimulator",
    "kuaimai": "ferry.sandbox.kuaimai:KuaimaiSimulator",
    "okki": "ferry.sandbox.okki:OkkiSimulator",
}
"""Simulator name -> ``module:Class``."""


def simulator_class(name: str) -> type[Simulator]:
    """The simulator class registered as ``name``."""
    try:
        ref = SIMULATORS[name]
    except KeyError:
        raise KeyError(f"unknown simulator {name!r}; known: {', '.join(sorted(SIMULATORS))}") from None
    module, _, attr = ref.partition(":")
    cls: type[Simulator] = getattr(importlib.import_module(module), attr)
    return cls


class SandboxTransport(httpx.BaseTransport):
    """Routes ``http://<name>.sandbox/...`` to the simulator named ``name``."""

    def __init__(self, simulators: Mapping[str, Simulator]) -> None:
        self.simulators = dict(simulators)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        name = host[: -len(".sandbox")] if host.endswith(".sandbox") else host
        simulator = self.simulators.get(name)
        if simulator is None:
            raise httpx.ConnectError(f"sandbox: no simulator serves host {host!r}", request=request)
        request.read()
        return simulator.handle(request)


class Sandbox:
    """A set of simulators, by name."""

    def __init__(self, simulators: Mapping[str, Simulator]) -> None:
        self.simulators = dict(simulators)

    @classmethod
    def default(
        cls,
        *,
        size: int = 200,
        faults: Faults | None = None,
        only: list[str] | None = None,
        **options: Any,
    ) -> Sandbox:
        """All six simulators (or ``only`` these), each with ``size`` records and ``faults``."""
        names = only or list(SIMULATORS)
        return cls({name: simulator_class(name)(size=size, faults=faults, **options) for name in names})

    def __getitem__(self, name: str) -> Simulator:
        return self.simulators[name]

    def __iter__(self) -> Iterator[Simulator]:
        return iter(self.simulators.values())

    def transport(self) -> SandboxTransport:
        """An httpx transport serving every simulator in-process."""
        return SandboxTransport(self.simulators)
