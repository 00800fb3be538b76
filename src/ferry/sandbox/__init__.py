"""Faithful local simulators of the six vendor systems (docs/architecture.md §6).

Each simulator is a plain ``httpx.Request -> httpx.Response`` object: tests and the main job use
them in-process through :class:`SandboxTransport`; ``ferry sandbox`` serves them on localhost.
They verify signatures, page, enforce window and page-size limits and rate budgets, answer with
the vendor's own error codes, and inject faults (:class:`Faults`).
"""

from __future__ import annotations

from ferry.sandbox._dataset import Dataset
from ferry.sandbox._faults import Faults
from ferry.sandbox._simulator import CHINA, Call, RateBudget, Simulator, TokenBook, json_response
from ferry.sandbox.transport import SIMULATORS, Sandbox, SandboxTransport

__all__ = [
    "CHINA",
    "SIMULATORS",
    "Call",
    "Dataset",
    "Faults",
    "RateBudget",
    "Sandbox",
    "SandboxTransport",
    "Simulator",
    "TokenBook",
    "json_response",
]
