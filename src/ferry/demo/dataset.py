"""The demo dataset: products and orders generated deterministically from a seed.

Orders are spread uniformly over ``days`` days before a fixed ``end`` (naive local time,
Asia/Shanghai, as the Chinese vendor APIs report it), each with 1..4 item lines, and kept
sorted by ``(modified, order_id)`` -- the order the demo API serves them in.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["DEFAULT_END", "TIME_FORMAT", "DemoDataset", "build_dataset", "parse_time"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_END = datetime(2024, 6, 1, 0, 0, 0)
"""Fixed end of the order time range, so every run sees the same data."""
SHANGHAI = timezone(timedelta(hours=8))

_NAMES = ("保温杯", "帆布包", "蓝牙耳机", "笔记本", "数据线", "台灯", "雨伞", "T恤", "运动鞋", "收纳盒")
_COLOURS = ("黑", "白", "红", "蓝", "灰", "绿")
_UNITS = ("个", "件", "箱", "套", "kg")
_SHOPS = ("SHOP01", "SHOP02", "SHOP03", "SHOP04", "SHOP05")
_DISCOUNTS = (0.0, 0.0, 0.0, 0.5, 1.0, 2.5)


def parse_time(text: str) -> datetime:
    """Parse ``YYYY-MM-DD HH:MM:SS`` (a ``T`` separator or a bare date is also accepted).

    Raises:
        ValueError: Anything else.
    """
    text = text.strip().replace("T", " ")
    if len(text) == 10:
        text += " 00:00:00"
    return datetime.strptime(text, TIME_FORMAT)


@dataclass
class DemoDataset:
    """Products (by ``sku_id``) and orders (by ``(modified, order_id)``)."""

    products: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    end: datetime
    days: int
    _modified: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._modified = [order["modified"] for order in self.orders]

    @property
    def start(self) -> datetime:
        """Start of the order time range (``end - days``)."""
        return self.end - timedelta(days=self.days)

    def window(self, start: str | None, end: str | None) -> tuple[int, int]:
        """Index range ``[lo, hi)`` of the orders with ``start <= modified < end``.

        ``start``/``end`` are ``YYYY-MM-DD HH:MM:SS`` text (``None``: unbounded).
        """
        lo = bisect.bisect_left(self._modified, start) if start is not None else 0
        hi = bisect.bisect_left(self._modified, end) if end is not None else len(self._modified)
        return lo, max(lo, hi)

    def order_lines(self) -> list[dict[str, Any]]:
        """One dict per item line: ``order_id``, ``order_no``, ``line_no`` (0-based) and the item."""
        return [
            {"order_id": order["order_id"], "order_no": order["order_no"], "line_no": index, **item}
            for order in self.orders
            for index, item in enumerate(order["items"])
        ]


def build_dataset(
    *, n_orders: int, n_products: int, seed: int = 1, days: int = 30, end: datetime = DEFAULT_END
) -> DemoDataset:
    """Generate the dataset; the same arguments always give the same data.

    Raises:
        ValueError: ``n_products < 1`` with orders to fill, negative counts, or ``days < 1``.
    """
    if n_orders < 0 or n_products < 0 or days < 1:
        raise ValueError("n_orders and n_products must be >= 0 and days >= 1")
    if n_orders and not n_products:
        raise ValueError("orders need at least one product")
    rng = random.Random(seed)
    rand = rng.random  # int(rand() * n) is several times faster than randrange(n)
    products = []
    for i in range(1, n_products + 1):
        products.append(
            {
                "sku_id": f"SKU{i:06d}",
                "sku_name": f"{_COLOURS[int(rand() * 6)]}色{_NAMES[int(rand() * 10)]} {i}",
                "item_code": f"IC{i:06d}",
                "unit": _UNITS[int(rand() * 5)],
                "price": (100 + int(rand() * 99_800)) / 100,
            }
        )
    span = days * 86_400
    end_epoch = int(end.replace(tzinfo=SHANGHAI).timestamp())
    day_prefix: dict[int, tuple[str, str]] = {}
    orders = []
    for order_id in range(1, n_orders + 1):
        ago = int(rand() * span) + 1
        local = end_epoch - ago + 8 * 3600  # seconds since the epoch in +08:00 wall time
        day, second = divmod(local, 86_400)
        if day not in day_prefix:
            date = datetime(1970, 1, 1) + timedelta(days=day)
            day_prefix[day] = (date.strftime("%Y-%m-%d "), date.strftime("%Y%m%d"))
        prefix, compact = day_prefix[day]
        hour, rest = divmod(second, 3600)
        picks: list[int] = []
        for _ in range(min(1 + int(rand() * 4), n_products)):
            pick = int(rand() * n_products)
            while pick in picks:
                pick = (pick + 1) % n_products
            picks.append(pick)
        orders.append(
            {
                "order_id": order_id,
                "order_no": f"SO{compact}{order_id:07d}",
                "shop_no": _SHOPS[int(rand() * 5)],
                "buyer": f"buyer{int(rand() * 10_000):04d}",
                "modified": f"{prefix}{hour:02d}:{rest // 60:02d}:{rest % 60:02d}",
                "created": end_epoch - ago - int(rand() * 3 * 86_400),
                "items": [
                    {
                        "sku_id": products[p]["sku_id"],
                        "qty": 1 + int(rand() * 5),
                        "price": products[p]["price"],
                        "discount": _DISCOUNTS[int(rand() * 6)],
                    }
                    for p in picks
                ],
            }
        )
    orders.sort(key=lambda order: (order["modified"], order["order_id"]))
    return DemoDataset(products=products, orders=orders, end=end, days=days)
