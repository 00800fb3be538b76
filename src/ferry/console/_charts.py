"""Charts drawn on the server as inline SVG (no JavaScript library, no CDN).

Colours come from CSS classes (``series-0`` ...) defined in ``static/console.css``, so the
markup stays small and the charts follow the page's theme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Series", "line_chart"]


@dataclass
class Series:
    """One line: its legend label and one value per x label (``None``: no point)."""

    label: str
    values: Sequence[float | None]
    css: str = ""
    """CSS class of the line (``series-0`` blue, ``series-1`` green, ``series-2`` red); by position when empty."""


def _nice_max(value: float, ticks: int = 4) -> float:
    """The smallest ``ticks`` x (1, 2, 2.5 or 5 x 10^k) that is at least ``value``."""
    if value <= 0:
        return float(ticks)
    raw = value / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if value >= ticks and step < 1:
        step = 1
    return step * ticks


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"


def line_chart(
    series: Sequence[Series],
    labels: Sequence[str],
    *,
    title: str = "",
    width: int = 720,
    height: int = 220,
    label_every: int = 3,
) -> Markup:
    """An SVG line chart of ``series`` over ``labels`` with a y axis, gridlines and a legend.

    Every text is escaped; the result is safe to insert into a page as is.
    """
    left, right, top, bottom = 48, 28, 28, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(labels), 1)
    peak = _nice_max(max((v for s in series for v in s.values if v is not None), default=0.0))

    def x(i: int) -> float:
        return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / peak

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for step in range(5):
        value = peak * step / 4
        gy = y(value)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{gy:.1f}" y2="{gy:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end">{_fmt(value)}</text>'
        )
    for i, label in enumerate(labels):
        if i % label_every == 0 or i == count - 1:
            parts.append(
                f'<text class="axis" x="{x(i):.1f}" y="{height - 8}" text-anchor="middle">{escape(label)}</text>'
            )
    for n, line in enumerate(series):
        points = [(x(i), y(v)) for i, v in enumerate(line.values) if v is not None]
        css = line.css or f"series-{n}"
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline class="line {css}" points="{path}"/>')
        for (px, py), value in zip(points, [v for v in line.values if v is not None], strict=True):
            parts.append(
                f'<circle class="dot {css}" cx="{px:.1f}" cy="{py:.1f}" r="2.5">'
                f"<title>{escape(line.label)}: {_fmt(value)}</title></circle>"
            )
        lx = left + n * 120
        parts.append(f'<rect class="swatch {css}" x="{lx}" y="8" width="12" height="12" rx="2"/>')
        parts.append(f'<text class="legend" x="{lx + 18}" y="18">{escape(line.label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
