"""A bar chart drawn on the server as inline SVG: no script, nothing fetched.

The SVG names itself (``<title>``, ``<desc>``, ``role="img"``); the page shows the same
numbers in a table, which is what assistive technology reads.
"""

from __future__ import annotations

from markupsafe import Markup, escape

#: Bar colours per series (presentation attributes: the CSP forbids inline styles).
COLOURS = ("#b3261e", "#1e6b35", "#1f4e8c", "#6b4f1e")


def _nice_top(value: int) -> int:
    """Return a round axis maximum at or above ``value`` (1, 2 or 5 times a power of 10)."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= value:
                return top * step
        top *= 10


def bar_chart(
    *,
    title: str,
    desc: str,
    labels: list[str],
    series: list[tuple[str, list[int]]],
    width: int = 720,
    height: int = 280,
    chart_id: str = "chart",
) -> Markup:
    """Return an SVG bar chart: one group of bars per label, one bar per series."""
    left, right, top, bottom = 48, 12, 16, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_top(max([1, *(v for _, values in series for v in values)]))
    group = plot_w / max(1, len(labels))
    bar = group * 0.8 / max(1, len(series))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}"'
        f' role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    for tick in sorted({0, peak // 2, peak}):
        y = top + plot_h - plot_h * tick / peak
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d0d0"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{tick}</text>'
        )
    for n, label in enumerate(labels):
        x0 = left + n * group + group * 0.1
        for s, (name, values) in enumerate(series):
            value = values[n] if n < len(values) else 0
            h = plot_h * value / peak
            out.append(
                f'<rect x="{x0 + s * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}"'
                f' height="{h:.1f}" fill="{COLOURS[s % len(COLOURS)]}">'
                f"<title>{escape(name)}, {escape(label)}: {value}</title></rect>"
            )
        out.append(
            f'<text x="{x0 + group * 0.4:.1f}" y="{top + plot_h + 16}" text-anchor="middle"'
            f' font-size="11">{escape(label[5:])}/{escape(label[2:4])}</text>'
        )
    for s, (name, _values) in enumerate(series):
        x = left + s * 180
        out.append(
            f'<rect x="{x}" y="{height - 18}" width="12" height="12"'
            f' fill="{COLOURS[s % len(COLOURS)]}"/>'
            f'<text x="{x + 18}" y="{height - 8}" font-size="12">{escape(name)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text above is escaped
