"""A self-contained SVG chart of sends per hour, per tenant and per provider (no plotting library)."""

from __future__ import annotations

from html import escape

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
_W, _H, _PAD = 760, 220, 40


def _panel(title: str, series: dict[str, list[int]], top: int) -> list[str]:
    hours = max((len(v) for v in series.values()), default=1)
    peak = max((max(v) for v in series.values() if v), default=1) or 1

    def x(i: int) -> float:
        return _PAD + (_W - 2 * _PAD) * i / max(1, hours - 1)

    def y(v: int) -> float:
        return top + _H - _PAD - (_H - 2 * _PAD) * v / peak

    out = [
        f'<text x="{_PAD}" y="{top + 18}" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{_PAD}" y1="{y(0)}" x2="{_W - _PAD}" y2="{y(0)}" stroke="#999"/>',
        f'<line x1="{_PAD}" y1="{y(0)}" x2="{_PAD}" y2="{y(peak)}" stroke="#999"/>',
        f'<text x="4" y="{y(peak) + 4}" font-size="10">{peak}/h</text>',
        f'<text x="{_W - _PAD - 30}" y="{y(0) + 14}" font-size="10">{hours} h</text>',
    ]
    for n, (name, values) in enumerate(sorted(series.items())):
        colour = _COLOURS[n % len(_COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
        out.append(
            f'<text x="{_W - _PAD + 4 - 120}" y="{top + 34 + 12 * n}" font-size="11" fill="{colour}">'
            f"{escape(name)}</text>"
        )
    return out


def render_svg(title: str, tenants: dict[str, list[int]], providers: dict[str, list[int]]) -> str:
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{2 * _H + 30}" '
        'font-family="sans-serif">',
        f'<text x="{_PAD}" y="16" font-size="15">{escape(title)}: sends per hour</text>',
        *_panel("per tenant", tenants, 20),
        *_panel("per receiving provider", providers, 20 + _H),
        "</svg>",
    ]
    return "\n".join(body) + "\n"


def render_html(
    title: str, figures: dict[str, object], tenants: dict[str, list[int]], providers: dict[str, list[int]]
) -> str:
    """One HTML page: the chart inline and the scenario's headline figures beside it."""
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
        for k, v in figures.items()
        if not isinstance(v, (dict, list)) or k in ("shares", "paused_campaigns", "blocked_identities")
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}</style>"
        f"</head><body><h1>{escape(title)}</h1>{render_svg(title, tenants, providers)}"
        f"<table>{rows}</table></body></html>\n"
    )
