"""A line chart as a standalone SVG file: polylines, dashed reference lines, axes, legend."""

from __future__ import annotations

import math
from html import escape

from charrnn_tui.curve_data import Curve, reference_label, y_range

W, H = 900, 520
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 60
PALETTE = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#17becf", "#bcbd22")
LEGEND_ROW = 16


def _ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=mag)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def svg_chart(curves: list[Curve], references: list[tuple[str, float]], *, title: str,
              xlabel: str, ylabel: str, colours: list[int] | None = None) -> str:
    """`colours[i]` picks curve i's palette entry (runs share a colour across val/train)."""
    drawn = [c for c in curves if c.points]
    legend_h = LEGEND_ROW * (len(drawn) + len(references))
    height = H + legend_h
    xs = [x for c in drawn for x, _ in c.points] or [0.0, 1.0]
    x0, x1 = min(xs), max(xs)
    x1 = x1 if x1 > x0 else x0 + 1
    span = y_range([y for c in drawn for _, y in c.points], [v for _, v in references])
    y0, y1 = span or (0.0, 1.0)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return TOP + (1 - (min(max(y, y0), y1) - y0) / (y1 - y0)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
           f'viewBox="0 0 {W} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{height}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
           f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    for t in _ticks(y0, y1):
        out.append(f'<line x1="{LEFT - 4}" x2="{LEFT + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" '
                   'stroke="#eee"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    for t in _ticks(x0, x1):
        shown = f"{t:,.0f}" if abs(t) >= 1000 else f"{t:g}"
        out.append(f'<text x="{px(t):.1f}" y="{TOP + ph + 16}" text-anchor="middle">'
                   f'{shown}</text>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{TOP + ph + 36}" text-anchor="middle">'
               f'{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(16 {TOP + ph / 2}) rotate(-90)" '
               f'text-anchor="middle">{escape(ylabel)}</text>')
    legend_y = H + 4
    for name, value in references:
        y = py(value)
        out.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#777" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{LEFT + pw - 4}" y="{y - 4:.1f}" text-anchor="end" fill="#555">'
                   f'{escape(reference_label(name, value))}</text>')
    for i, c in enumerate(drawn):
        colour = PALETTE[(colours[i] if colours else i) % len(PALETTE)]
        dashed = ' stroke-dasharray="2 3" stroke-opacity="0.6"' if "train" in c.label else ""
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in c.points if math.isfinite(y))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                   f'stroke-width="1.6"{dashed}/>')
        out.append(f'<line x1="{LEFT}" x2="{LEFT + 24}" y1="{legend_y + 8}" y2="{legend_y + 8}" '
                   f'stroke="{colour}" stroke-width="2"{dashed}/>')
        out.append(f'<text x="{LEFT + 30}" y="{legend_y + 12}">{escape(c.label)}</text>')
        legend_y += LEGEND_ROW
    out.append("</svg>")
    return "\n".join(out) + "\n"
