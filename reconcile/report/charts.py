"""Inline SVG charts for the HTML report: stacked horizontal bars, line charts, sparklines.

Every function returns `markupsafe.Markup`; every piece of data that reaches the SVG is escaped here.
Colours are the Okabe–Ito palette (colour-blind safe). No xmlns: the SVG is inline HTML.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from markupsafe import Markup
from markupsafe import escape as _escape

# Okabe–Ito
BLUE = "#0072B2"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#6b7280"

READY_BLOCKED = (("ready", BLUE), ("blocked", ORANGE))

# Control and format characters (Unicode Cc, Cf, line/paragraph separators): invisible, or — the bidi overrides and
# isolates — turning the text after them around. Data shows them by name: "Acme⟨U+200B⟩" is not "Acme".
INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def visible(value: object) -> object:
    """Text with its invisible and direction characters named (⟨U+202E⟩); anything else (Markup too) as it is."""
    if isinstance(value, str) and not isinstance(value, Markup) and INVISIBLE.search(value):
        return INVISIBLE.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", value)
    return value


def escape(value: object) -> Markup:
    return _escape(visible(value))


def _fmt(n: float) -> str:
    return f"{int(n):,}" if float(n).is_integer() else f"{n:,.1f}"


def _clip(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def nice_max(value: float) -> tuple[float, float]:
    """An axis maximum >= value and a tick step, both 'nice' (1, 2, 5 × 10^k)."""
    if value <= 0:
        return 1.0, 1.0
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(value / step), step


def hbar_chart(
    rows: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[tuple[str, str]] = READY_BLOCKED,
    *,
    width: int = 560,
    label_width: int = 230,
    aria_label: str = "bar chart",
) -> Markup:
    """Stacked horizontal bars: one row per (label, values), one segment per series."""
    if not rows:
        return Markup("")
    bar_h, gap, top = 18, 8, 26
    value_w = 56
    plot_w = width - label_width - value_w
    top_total = max(sum(v) for _, v in rows) or 1
    height = top + len(rows) * (bar_h + gap)
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(aria_label)}">'
    ]
    out.append(_legend(series, label_width, 12))
    for i, (label, values) in enumerate(rows):
        y = top + i * (bar_h + gap)
        out.append(
            f'<text class="lbl" x="{label_width - 8}" y="{y + bar_h - 5}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(_clip(label, 32))}</text>"
        )
        x = float(label_width)
        for (name, colour), value in zip(series, values, strict=False):
            w = plot_w * value / top_total
            if w > 0:
                out.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1.5):.1f}" height="{bar_h}" '
                    f'fill="{colour}"><title>{escape(label)}: {_fmt(value)} {escape(name)}</title></rect>'
                )
            x += w
        out.append(f'<text class="val" x="{x + 6:.1f}" y="{y + bar_h - 5}">{_fmt(sum(values))}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _legend(series: Sequence[tuple[str, str]], x0: float, y: float) -> str:
    parts, x = [], x0
    for name, colour in series:
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"></rect>'
            f'<text class="legend" x="{x + 14}" y="{y}">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return "".join(parts)


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    width: int = 1020,
    height: int = 260,
    aria_label: str = "line chart",
) -> Markup:
    """One line per (name, colour, values) over the x labels (runs, oldest first)."""
    if not labels:
        return Markup("")
    left, right, top, bottom = 56, 48, 30, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    ymax, step = nice_max(max((max(v) for _, _, v in series if v), default=0))
    n = len(labels)

    def px(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def py(v: float) -> float:
        return top + plot_h - plot_h * v / ymax

    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(aria_label)}">',
        _legend([(name, colour) for name, colour, _ in series], left, 14),
    ]
    tick = 0.0
    while tick <= ymax + 1e-9:
        y = py(tick)
        out.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"></line>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>'
        )
        tick += step
    every = max(1, math.ceil(n / 8))
    for i, label in enumerate(labels):
        if i % every == 0 or i == n - 1:
            out.append(
                f'<text class="axis" x="{px(i):.1f}" y="{height - 10}" text-anchor="middle">{escape(label)}</text>'
            )
    for name, colour, values in series:
        points = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(values))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"></polyline>')
        for i, v in enumerate(values):
            out.append(
                f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(labels[i])}: {_fmt(v)} {escape(name)}</title></circle>"
            )
    out.append("</svg>")
    return Markup("".join(out))


def sparkline(values: Sequence[float], colour: str = BLUE, *, width: int = 120, height: int = 28) -> Markup:
    """A tiny trend line (no axes) for a headline tile; empty below two points."""
    if len(values) < 2:
        return Markup("")
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1
    pad = 3

    def pt(i: int, v: float) -> str:
        x = pad + (width - 2 * pad) * i / (len(values) - 1)
        y = height - pad - (height - 2 * pad) * (v - lo) / span
        return f"{x:.1f},{y:.1f}"

    points = " ".join(pt(i, v) for i, v in enumerate(values))
    last = pt(len(values) - 1, values[-1]).split(",")
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-hidden="true"><polyline fill="none" stroke="{colour}" stroke-width="1.5" '
        f'points="{points}"></polyline><circle cx="{last[0]}" cy="{last[1]}" r="2.5" '
        f'fill="{colour}"></circle></svg>'
    )
