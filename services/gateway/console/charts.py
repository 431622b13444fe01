"""Small SVG charts for the console, drawn on the server (no script, nothing to build): lines over days or
epochs, stacked daily bars, horizontal bars per label. Every text in them is escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 640, 220, 36
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2")


def _frame(title: str, body: str, legend: Sequence[tuple[str, str]], height: int = HEIGHT) -> Markup:
    keys = "".join(
        f'<rect x="{PAD + i * 150}" y="6" width="10" height="10" fill="{colour}"/>'
        f'<text x="{PAD + 14 + i * 150}" y="15" font-size="11">{escape(name)}</text>'
        for i, (name, colour) in enumerate(legend)
    )
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{keys}{body}</svg>"
    )


def _axes(x_labels: Sequence[str], top: float, *, percent: bool) -> str:
    left, bottom = PAD, HEIGHT - PAD
    parts = [f'<line x1="{left}" y1="{bottom}" x2="{WIDTH - 8}" y2="{bottom}" stroke="#999"/>']
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - fraction * (bottom - 28)
        value = top * fraction
        label = f"{value:.0%}" if percent else f"{value:.3g}"
        parts.append(f'<text x="2" y="{y + 4:.1f}" font-size="10">{escape(label)}</text>')
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}" stroke="#eee"/>')
    step = max(1, -(-len(x_labels) // 12))  # at most 12 labels under the axis
    for i, name in enumerate(x_labels):
        if i % step == 0:
            x = _x(i, len(x_labels))
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 18}" font-size="10" text-anchor="middle">')
            parts.append(f"{escape(name)}</text>")
    return "".join(parts)


def _x(i: int, n: int) -> float:
    span = WIDTH - 8 - PAD - 20
    return PAD + 10 + (span * i / (n - 1) if n > 1 else span / 2)


def _y(value: float, top: float) -> float:
    bottom = HEIGHT - PAD
    return bottom - (value / top if top else 0.0) * (bottom - 28)


def line_chart(
    title: str, x_labels: Sequence[str], series: dict[str, Sequence[float | None]], *, percent: bool = False
) -> Markup:
    """One line per series over `x_labels` (None: no point); the y axis from 0 to the largest value."""
    values = [v for points in series.values() for v in points if v is not None]
    top = 1.0 if percent else (max(values) if values else 1.0) or 1.0
    body = [_axes(x_labels, top, percent=percent)]
    legend = []
    for (name, points), colour in zip(series.items(), COLOURS, strict=False):
        legend.append((name, colour))
        coords = [(_x(i, len(x_labels)), _y(v, top)) for i, v in enumerate(points) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in coords]
    return _frame(title, "".join(body), legend)


def stacked_bars(
    title: str, x_labels: Sequence[str], stacks: dict[str, Sequence[int]], *, colours: Sequence[str] = COLOURS
) -> Markup:
    """Counts per day, one coloured part per key (e.g. kept as is, edited, discarded)."""
    totals = [sum(values[i] for values in stacks.values()) for i in range(len(x_labels))]
    top = float(max(totals, default=0) or 1)
    body = [_axes(x_labels, top, percent=False)]
    width = max(2.0, (WIDTH - PAD - 40) / max(1, len(x_labels)) * 0.7)
    base = [0.0] * len(x_labels)
    legend = []
    for (name, values), colour in zip(stacks.items(), colours, strict=False):
        legend.append((name, colour))
        for i, value in enumerate(values):
            if value:
                y0, y1 = _y(base[i], top), _y(base[i] + value, top)
                x = _x(i, len(x_labels)) - width / 2
                body.append(
                    f'<rect x="{x:.1f}" y="{y1:.1f}" width="{width:.1f}" height="{y0 - y1:.1f}" '
                    f'fill="{colour}">'
                    f"<title>{escape(name)}: {value}</title></rect>"
                )
                base[i] += value
    return _frame(title, "".join(body), legend)


def bars(title: str, rows: Sequence[tuple[str, float, str]]) -> Markup:
    """Horizontal bars in [0, 1], one per row: (label, value, note shown after the bar)."""
    row_h, label_w = 20, 190
    height = 28 + row_h * len(rows) + 8
    body = []
    for i, (label, value, note) in enumerate(rows):
        y = 28 + i * row_h
        length = max(0.0, min(1.0, value)) * (WIDTH - label_w - 120)
        body.append(f'<text x="4" y="{y + 13}" font-size="11">{escape(label[:32])}</text>')
        body.append(f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="13" fill="{COLOURS[0]}"/>')
        body.append(f'<text x="{label_w + length + 6:.1f}" y="{y + 13}" font-size="11">{escape(note)}</text>')
    return _frame(title, "".join(body), [], height=height)
