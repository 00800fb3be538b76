"""A deterministic demo source: seeded products and orders behind a small JSON HTTP API.

Used by Ferry's main end-to-end job, benchmarks and tests::

    from ferry.demo import DemoSource

    with DemoSource(n_orders=80_000, n_products=500, seed=1) as demo:
        run_sync(demo.base_url)
        assert target_rows() == demo.order_lines()

The server module is imported lazily so ``python -m ferry.demo.server`` runs it cleanly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ferry.demo.dataset import DEFAULT_END, DemoDataset, build_dataset

if TYPE_CHECKING:
    from ferry.demo.server import MAX_PAGE_SIZE, DemoApp, DemoSource

__all__ = ["DEFAULT_END", "MAX_PAGE_SIZE", "DemoApp", "DemoDataset", "DemoSource", "build_dataset"]

_FROM_SERVER = frozenset({"MAX_PAGE_SIZE", "DemoApp", "DemoSource"})


def __getattr__(name: str) -> Any:
    if name in _FROM_SERVER:
        from ferry.demo import server

        return getattr(server, name)
    raise AttributeError(f"module 'ferry.demo' has no attribute {name!r}")
