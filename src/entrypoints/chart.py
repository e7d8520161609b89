"""A self-contained SVG chart of sends per hour, per tenant and per provider (no plotting library).

Each panel has a time axis (hours since the scenario began, with the start's date), a rate axis
(sends per hour, round ticks from 0), and a legend beside the plot: every line has its own colour and
dash pattern and a marker at every few points, so two lines on top of each other stay apart.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from html import escape

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
_DASHES = ("", "7 4", "2 3", "10 3 2 3", "4 4", "1 2", "12 4", "6 2 2 2")
_W, _H = 820, 250
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 190, 34, 46


def _ticks(peak: float) -> list[float]:
    """0 and 4 to 6 round steps up to at least `peak`."""
    if peak <= 0:
        return [0, 1, 2, 3, 4]
    raw = peak / 5
    base = 10 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 2.5, 5, 10) if m * base >= raw)
    count = math.ceil(peak / step)
    return [step * i for i in range(count + 1)]


def _panel(title: str, series: dict[str, list[int]], top: int, start: datetime | None) -> list[str]:
    hours = max((len(v) for v in series.values()), default=1)
    ticks = _ticks(max((max(v) for v in series.values() if v), default=0))
    peak = ticks[-1] or 1
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(i: float) -> float:
        return _LEFT + plot_w * i / max(1, hours - 1)

    def y(v: float) -> float:
        return top + _TOP + plot_h * (1 - v / peak)

    out = [
        f'<g class="panel" data-panel="{escape(title)}">',
        f'<text x="{_LEFT}" y="{top + 20}" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for value in ticks:  # the rate axis
        out.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#e5e8ec"/>'
            f'<text class="tick y" x="{_LEFT - 6}" y="{y(value) + 4:.1f}" font-size="10" text-anchor="end">'
            f"{value:g}</text>"
        )
    step = max(1, math.ceil(hours / 8 / 6) * 6)  # a tick every 6, 12, 24... hours: at most ~8 of them
    for h in range(0, hours, step):  # the time axis
        label = f"{h} h"
        if start is not None and h % 24 == 0:
            label = f"{start + timedelta(hours=h):%d %b}"
        out.append(
            f'<line x1="{x(h):.1f}" x2="{x(h):.1f}" y1="{y(0):.1f}" y2="{y(0) + 4:.1f}" stroke="#777"/>'
            f'<text class="tick x" x="{x(h):.1f}" y="{y(0) + 16:.1f}" font-size="10" text-anchor="middle">'
            f"{label}</text>"
        )
    out += [
        f'<line x1="{_LEFT}" y1="{y(0):.1f}" x2="{_LEFT + plot_w}" y2="{y(0):.1f}" stroke="#777"/>',
        f'<line x1="{_LEFT}" y1="{y(0):.1f}" x2="{_LEFT}" y2="{y(peak):.1f}" stroke="#777"/>',
        f'<text class="axis-title" x="{_LEFT + plot_w / 2:.1f}" y="{top + _H - 8}" font-size="11" '
        'text-anchor="middle">time since the scenario began (hours)</text>',
        f'<text class="axis-title" x="14" y="{top + _TOP + plot_h / 2:.1f}" font-size="11" '
        'text-anchor="middle" '
        f'transform="rotate(-90 14 {top + _TOP + plot_h / 2:.1f})">sends per hour</text>',
    ]
    every = max(1, hours // 12)
    for n, (name, values) in enumerate(sorted(series.items())):
        colour, dash = _COLOURS[n % len(_COLOURS)], _DASHES[n % len(_DASHES)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline class="series" data-series="{escape(name)}" fill="none" stroke="{colour}" '
            f'stroke-width="2"{dashed} points="{points}"/>'
        )
        # Markers, offset per series so coinciding lines still show each one's marks.
        for i in range(n % every, len(values), every):
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(values[i]):.1f}" r="2.6" fill="{colour}"><title>'
                f"{escape(name)}, hour {i}: {values[i]}/h</title></circle>"
            )
        ly = top + _TOP + 6 + 18 * n
        lx = _LEFT + plot_w + 16
        out.append(
            f'<g class="legend-item" data-series="{escape(name)}">'
            f'<line x1="{lx}" x2="{lx + 28}" y1="{ly}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2.5"{dashed}/>'
            f'<circle cx="{lx + 14}" cy="{ly}" r="2.6" fill="{colour}"/>'
            f'<text x="{lx + 34}" y="{ly + 4}" font-size="11" fill="#222">{escape(name)} '
            f"(peak {max(values, default=0)}/h)</text></g>"
        )
    out.append("</g>")
    return out


def render_svg(
    title: str, tenants: dict[str, list[int]], providers: dict[str, list[int]], start: datetime | None = None
) -> str:
    body = [
        f'<svg class="sim-chart" xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{2 * _H + 30}" '
        f'viewBox="0 0 {_W} {2 * _H + 30}" font-family="sans-serif">',
        '<rect width="100%" height="100%" fill="#fff"/>',
        f'<text x="{_LEFT}" y="18" font-size="15">{escape(title)}: sends per hour</text>',
        *_panel("per tenant", tenants, 20, start),
        *_panel("per receiving provider", providers, 20 + _H, start),
        "</svg>",
    ]
    return "\n".join(body) + "\n"


def render_html(
    title: str,
    figures: dict[str, object],
    tenants: dict[str, list[int]],
    providers: dict[str, list[int]],
    start: datetime | None = None,
    expectations: list[tuple[str, bool, str]] | None = None,
) -> str:
    """One HTML page: the chart inline, whether the scenario's [expect] held, and its figures."""
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
        for k, v in figures.items()
        if not isinstance(v, (dict, list)) or k in ("shares", "paused_campaigns", "blocked_identities")
    )
    checks = "".join(
        f'<tr class="{"pass" if ok else "fail"}"><td>{"PASS" if ok else "FAIL"}</td><td>{escape(name)}</td>'
        f"<td>{escape(detail)}</td></tr>"
        for name, ok, detail in expectations or []
    )
    expect = f'<h2>[expect]</h2><table class="expect">{checks}</table>' if checks else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
        "tr.pass td:first-child{color:#2e7d32;font-weight:bold}tr.fail td:first-child{color:#c62828;"
        "font-weight:bold}td{padding:2px 8px}</style>"
        f"</head><body><h1>{escape(title)}</h1>{render_svg(title, tenants, providers, start)}"
        f"{expect}<h2>Figures</h2><table>{rows}</table></body></html>\n"
    )
