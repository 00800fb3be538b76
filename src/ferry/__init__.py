"""Ferry: metadata-driven data integration that never loses or duplicates a record.

The curated public surface; everything else is internal and may change::

    from ferry import load_scheme, open_store, run_scheme

    scheme = load_scheme("examples/000-k3cloud-saleorder-status-to-mysql/scheme.yaml")
    report = run_scheme(scheme, open_store())
    print(report.status, report.counts)

Names are imported on first use, so ``import ferry`` (and the ``ferry`` command) stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ferry._version import __version__
from ferry.errors import (
    AuthExpiredError,
    ConfigError,
    ExpressionError,
    FatalError,
    FerryError,
    Issue,
    RecordError,
    RetriableError,
    SchemeError,
    ThrottledError,
)

if TYPE_CHECKING:
    from ferry.engine.preview import preview
    from ferry.engine.runner import RunReport, run_scheme
    from ferry.expr import EvalContext, compile_value
    from ferry.scheme.loader import load_metadata, load_scheme
    from ferry.store import open_store

_LAZY = {
    "EvalContext": "ferry.expr",
    "RunReport": "ferry.engine.runner",
    "compile_value": "ferry.expr",
    "load_metadata": "ferry.scheme.loader",
    "load_scheme": "ferry.scheme.loader",
    "open_store": "ferry.store",
    "preview": "ferry.engine.preview",
    "run_scheme": "ferry.engine.runner",
}

__all__ = [
    "AuthExpiredError",
    "ConfigError",
    "EvalContext",
    "ExpressionError",
    "FatalError",
    "FerryError",
    "Issue",
    "RecordError",
    "RetriableError",
    "RunReport",
    "SchemeError",
    "ThrottledError",
    "__version__",
    "compile_value",
    "load_metadata",
    "load_scheme",
    "open_store",
    "preview",
    "run_scheme",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ferry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
