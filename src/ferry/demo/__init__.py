"""A deterministic demo source: seeded products and orders behind a small JSON HTTP API.

Used by Ferry's main end-to-end job, benchmarks and tests::

    from ferry.demo import DemoSource

    with DemoSource(n_orders=80_000, n_products=500, seed=1) as demo:
        run_sync(demo.base_url)
        assert target_rows() == demo.order_lines()
"""

from ferry.demo.dataset import DEFAULT_END, DemoDataset, build_dataset
from ferry.demo.server import MAX_PAGE_SIZE, DemoApp, DemoSource

__all__ = ["DEFAULT_END", "MAX_PAGE_SIZE", "DemoApp", "DemoDataset", "DemoSource", "build_dataset"]
