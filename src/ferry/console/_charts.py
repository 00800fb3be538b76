"""Charts drawn on the server as inline SVG (no JavaScript library, no CDN).

Colours come from CSS classes (``series-0`` ...) defined in ``static/console.css``, so the
markup stays small and the charts follow the page's theme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Series", "label_indexes", "line_chart", "stacked_bars", "text_width"]


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


FONT_PX = 11
"""Font size of the axis and legend texts (``svg.chart .axis`` in ``console.css``), in viewBox units."""
LABEL_GAP = 10
"""Least room between two x labels."""


def text_width(text: str, size: float = FONT_PX) -> float:
    """A generous estimate of ``text``'s width at ``size``: CJK characters are one em, others 0.62 em."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.62 for ch in text)


def label_indexes(labels: Sequence[str], plot_width: float, every: int = 1) -> list[int]:
    """The x labels to draw so that no two overlap: evenly spaced, counted back from the last
    one (the newest time is always labelled), at least ``every`` apart."""
    count = len(labels)
    if count <= 1:
        return list(range(count))
    step = plot_width / (count - 1)
    widest = max(text_width(label) for label in labels) + LABEL_GAP
    every = max(every, math.ceil(widest / step))
    return [i for i in range(count) if (count - 1 - i) % every == 0]


def line_chart(
    series: Sequence[Series],
    labels: Sequence[str],
    *,
    title: str = "",
    width: int = 720,
    height: int = 220,
    label_every: int = 1,
    x_caption: str = "",
) -> Markup:
    """An SVG line chart of ``series`` over ``labels`` with a y axis, gridlines and a legend.

    The x labels are thinned so that none overlaps another (``label_every`` is the least
    spacing), and the margins grow to fit the first and last label. ``x_caption`` is drawn at
    the top right (the time zone of the x labels). Every text is escaped; the result is safe to
    insert into a page as is.
    """
    half = max((text_width(label) for label in labels), default=0.0) / 2
    left, right, top, bottom = max(48, math.ceil(half) + 4), max(28, math.ceil(half) + 4), 28, 28
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
    for i in label_indexes(labels, plot_w, label_every):
        parts.append(
            f'<text class="axis x-label" x="{x(i):.1f}" y="{height - 8}" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    if x_caption:
        parts.append(
            f'<text class="axis caption" x="{width - right}" y="18" text-anchor="end">{escape(x_caption)}</text>'
        )
    lx = float(left)
    for n, line in enumerate(series):
        points = [(i, v) for i, v in enumerate(line.values) if v is not None]
        css = line.css or f"series-{n}"
        if len(points) > 1:
            path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
            parts.append(f'<polyline class="line {css}" points="{path}"/>')
        for i, value in points:
            at = f"{labels[i]} " if i < len(labels) else ""
            parts.append(
                f'<circle class="dot {css}" cx="{x(i):.1f}" cy="{y(value):.1f}" r="2.5">'
                f"<title>{escape(at)}{escape(line.label)}: {_fmt(value)}</title></circle>"
            )
        parts.append(f'<rect class="swatch {css}" x="{lx:.0f}" y="8" width="12" height="12" rx="2"/>')
        parts.append(f'<text class="legend" x="{lx + 18:.0f}" y="18">{escape(line.label)}</text>')
        lx += 18 + text_width(line.label) + 24
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(series: Sequence[Series], left: float) -> list[str]:
    parts, lx = [], left
    for n, one in enumerate(series):
        css = one.css or f"series-{n}"
        parts.append(f'<rect class="swatch {css}" x="{lx:.0f}" y="8" width="12" height="12" rx="2"/>')
        parts.append(f'<text class="legend" x="{lx + 18:.0f}" y="18">{escape(one.label)}</text>')
        lx += 18 + text_width(one.label) + 24
    return parts


def _stack(series: Sequence[Series], i: int, label: str, box: tuple[float, float, float, float]) -> list[str]:
    """The segments of bar ``i``: ``box`` is (x, baseline, bar width, pixels per unit)."""
    x, base, bar, scale = box
    parts = []
    for n, one in enumerate(series):
        value = one.values[i] or 0
        if value <= 0:
            continue
        h = scale * value
        base -= h
        parts.append(
            f'<rect class="bar {one.css or f"series-{n}"}" x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" '
            f'height="{h:.1f}"><title>{escape(label)} {escape(one.label)}: {_fmt(value)}</title></rect>'
        )
    return parts


def stacked_bars(
    series: Sequence[Series], labels: Sequence[str], *, title: str = "", width: int = 720, height: int = 220
) -> Markup:
    """An SVG chart of one bar per x label, ``series`` stacked bottom to top, with a y axis,
    gridlines, a legend and each segment's value on hover (``None`` counts as 0). Every text is
    escaped; the result is safe to insert into a page as is."""
    left, right, top, bottom = 48, 16, 28, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(labels), 1)
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    peak = _nice_max(max(totals, default=0.0))
    slot = plot_w / count
    bar = max(min(slot * 0.7, 48), 1)
    parts = [
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for step in range(5):
        gy = top + plot_h - plot_h * step / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{gy:.1f}" y2="{gy:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end">{_fmt(peak * step / 4)}</text>'
        )
    shown = set(label_indexes(labels, plot_w - slot)) if labels else set()
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar) / 2
        parts += _stack(series, i, label, (x, top + plot_h, bar, plot_h / peak))
        if i in shown:
            parts.append(
                f'<text class="axis x-label" x="{x + bar / 2:.1f}" y="{height - 8}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    parts += _legend(series, left)
    parts.append("</svg>")
    return Markup("".join(parts))
