"""Fixtures shared by the engine tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferry.sandbox import Faults, Sandbox
from ferry.sandbox.seeds import sandbox_env
from ferry.sandbox.server import SandboxServer

VENDOR_PER_SECOND = 3
"""What the JuShuiTan of the shared-budget tests allows per second (Ferry is told 2)."""


@pytest.fixture
def server() -> Iterator[tuple[Sandbox, dict[str, str]]]:
    """JuShuiTan served over HTTP, allowing ``VENDOR_PER_SECOND`` calls per second."""
    sandbox = Sandbox.default(
        size=80, only=["jushuitan"], faults=Faults(rate_per_second=VENDOR_PER_SECOND, rate_per_minute=0)
    )
    with SandboxServer(sandbox) as running:
        yield sandbox, sandbox_env(sandbox, running.urls())
