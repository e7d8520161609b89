"""`outreach report`: one self-contained HTML file, charts as hand-written inline SVG.

No JavaScript, no fonts or scripts from a CDN: the file opens offline, in a mail attachment or from
S3, and prints. Every chart is an `<svg class="chart" data-chart="...">` whose marks carry
class="mark" and a `<title>` tooltip, which is also what the browser test looks for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from outreach_core.services.reporting import CampaignFunnel, DayRow, GroupRow, Outcomes, ReportData

COLORS = {
    "delivered": "#2e7d32",
    "bounced": "#ef6c00",
    "complained": "#c62828",
    "pending": "#90a4ae",
    "sent": "#1565c0",
    "threshold": "#6d4c41",
    "enrolled": "#b0bec5",
    "contacted": "#1565c0",
    "replied": "#6a1b9a",
}
FUNNEL = ("enrolled", "contacted", "delivered", "replied")
BOUNCE_THRESHOLD = 0.05  # the seed's auto-stop rules: campaign pause
COMPLAINT_THRESHOLD = 0.001  # identity block

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1c2430;
       background: #f5f7fa; }
header { background: #1c2430; color: #fff; padding: 18px 28px; }
header h1 { margin: 0; font-size: 20px; font-weight: 600; }
header p { margin: 4px 0 0; color: #b8c2cf; }
main { padding: 20px 28px 40px; max-width: 1180px; }
section { background: #fff; border: 1px solid #dde3ea; border-radius: 6px; padding: 16px 18px;
          margin: 0 0 18px; }
h2 { font-size: 16px; margin: 0 0 10px; }
.kpis { display: flex; gap: 12px; flex-wrap: wrap; }
.kpi { flex: 1 1 140px; background: #fff; border: 1px solid #dde3ea; border-radius: 6px; padding: 10px 14px; }
.kpi b { display: block; font-size: 22px; }
.kpi span { color: #5b6675; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.kpi.bad b { color: #c62828; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid #eef1f5; }
th:first-child, td:first-child { text-align: left; }
th { color: #5b6675; font-weight: 600; font-size: 12px; }
td.bad { color: #c62828; font-weight: 600; }
.legend { display: flex; gap: 14px; font-size: 12px; color: #5b6675; margin: 4px 0 6px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #5b6675; }
svg.chart text.axis-title { font-size: 12px; fill: #1c2430; }
td.wrap { text-align: left; white-space: normal; max-width: 520px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
@media (max-width: 900px) { .grid2 { grid-template-columns: 1fr; } }
footer { color: #5b6675; font-size: 12px; }
"""


def _pct(value: float, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f}%"


def _legend(*names: str) -> str:
    items = "".join(f'<span><i style="background:{COLORS[n]}"></i>{escape(n)}</span>' for n in names)
    return f'<div class="legend">{items}</div>'


@dataclass(frozen=True)
class _Frame:
    width: int = 1040
    height: int = 270
    left: int = 64
    right: int = 16
    top: int = 14
    bottom: int = 44

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def y(self, value: float, top_value: float) -> float:
        return self.top + self.plot_h * (1 - (value / top_value if top_value else 0))


def _nice_step(raw: float, integer: bool) -> float:
    base = 10.0 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        step = base * mult
        if integer and step < 1:
            continue
        if integer and step != int(step):
            continue
        if step >= raw * (1 - 1e-9):
            return step
    return base * 10


def _scale(value: float, integer: bool = True) -> tuple[float, int]:
    """A readable axis: (top, intervals) with 4 to 6 equal, round steps and top >= value."""
    if value <= 0:
        return (4.0 if integer else 0.04), 4
    options = []
    for intervals in (4, 5, 6):
        step = _nice_step(value / intervals, integer)
        options.append((step * intervals, intervals))
    return min(options)


def _pct_digits(top_value: float, intervals: int) -> int:
    """The fewest decimals that print every tick exactly: 0%, 25%, ... or 0.00%, 0.25%, ..."""
    for digits in range(4):
        if all(
            abs(round(top_value * i / intervals * 100, digits) - top_value * i / intervals * 100) < 1e-9
            for i in range(intervals + 1)
        ):
            return digits
    return 3


def _axes(
    frame: _Frame,
    top_value: float,
    intervals: int,
    fmt: str,
    labels: Sequence[str],
    titles: tuple[str, str] = ("", ""),
) -> list[str]:
    """Grid lines, tick labels on both axes, and the axes' titles (x below, y turned up the left)."""
    parts = []
    digits = _pct_digits(top_value, intervals)
    x_title, y_title = titles
    if y_title:
        mid = frame.top + frame.plot_h / 2
        parts.append(
            f'<text class="axis-title" x="12" y="{mid:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {mid:.1f})">{escape(y_title)}</text>'
        )
    if x_title:
        parts.append(
            f'<text class="axis-title" x="{frame.left + frame.plot_w / 2:.1f}" y="{frame.height - 2}" '
            f'text-anchor="middle">{escape(x_title)}</text>'
        )
    for i in range(intervals + 1):
        value = top_value * i / intervals
        y = frame.y(value, top_value)
        text = _pct(value, digits) if fmt == "pct" else f"{value:,.0f}"
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#eef1f5"/><text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end">{text}</text>'
        )
    n = len(labels)
    every = max(1, math.ceil(n / (frame.plot_w / 70)))  # room for about one label per 70 units
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = frame.left + frame.plot_w * (i + 0.5) / max(n, 1)
        y_label = frame.height - (24 if x_title else 12)
        parts.append(f'<text x="{x:.1f}" y="{y_label}" text-anchor="middle">{escape(label)}</text>')
    return parts


def _svg(name: str, label: str, frame: _Frame, body: list[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{name}" viewBox="0 0 {frame.width} {frame.height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
    )


def sends_chart(days: Sequence[DayRow]) -> str:
    """Stacked bars per send day: delivered, bounced, complained (within delivered), pending."""
    frame = _Frame()
    top, intervals = _scale(max((d.outcomes.sent for d in days), default=0))
    labels = [d.day.strftime("%d %b") for d in days]
    body = _axes(frame, top, intervals, "count", labels, ("send day", "messages"))
    slot = frame.plot_w / max(len(days), 1)
    width = max(2.0, slot * 0.7)
    for i, row in enumerate(days):
        o = row.outcomes
        x = frame.left + slot * i + (slot - width) / 2
        base = 0.0
        for name, count in (
            ("delivered", o.delivered - o.complained),
            ("complained", o.complained),
            ("bounced", o.bounced),
            ("pending", max(0, o.pending)),
        ):
            if count <= 0:
                continue
            y_top = frame.y(base + count, top)
            height = frame.y(base, top) - y_top
            body.append(
                f'<rect class="mark" data-series="{name}" x="{x:.1f}" y="{y_top:.1f}" width="{width:.1f}" '
                f'height="{max(height, 0.5):.1f}" fill="{COLORS[name]}"><title>{row.day:%Y-%m-%d} {name}: '
                f"{count} of {o.sent} sent</title></rect>"
            )
            base += count
    return _svg("sends-per-day", "Messages sent per day by outcome", frame, body)


def _plotted(day: DayRow, field_name: str) -> bool:
    """A day with sends, and (for the delivery rate) sends that can report a delivery: SMTP-only days
    leave a gap in the delivery line rather than a false 0%."""
    return bool(day.outcomes.sent) and (field_name != "delivery_rate" or day.outcomes.delivery_known)


def rate_chart(
    name: str, label: str, days: Sequence[DayRow], series: Sequence[tuple[str, str]], threshold: float | None
) -> str:
    """Lines of rates per send day; days with nothing sent leave a gap. `series`: (color key, field)."""
    frame = _Frame(width=520, height=260, left=66)
    values = [getattr(d.outcomes, f) for d in days for _, f in series if _plotted(d, f)]
    # Zero-safe: with nothing (or next to nothing) to show, the axis still runs 0% to 1%, in round steps.
    top, intervals = _scale(max([*values, threshold or 0.0, 0.01]) * 1.05, integer=False)
    if top > 1.0:
        top, intervals = 1.0, 5
    labels = [d.day.strftime("%d %b") for d in days]
    body = _axes(frame, top, intervals, "pct", labels, ("send day", "% of messages sent"))
    slot = frame.plot_w / max(len(days), 1)
    if threshold is not None:
        y = frame.y(threshold, top)
        body.append(
            f'<line class="threshold" x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="{COLORS["threshold"]}" stroke-dasharray="5 4"/>'
            f'<text x="{frame.width - frame.right}" y="{y - 4:.1f}" text-anchor="end">'
            f"auto-stop {_pct(threshold, 1 if threshold >= 0.01 else 2)}</text>"
        )
    for color, field_name in series:
        points = []
        segments: list[list[tuple[float, float]]] = [[]]
        for i, row in enumerate(days):
            if not _plotted(row, field_name):
                if segments[-1]:
                    segments.append([])  # no sends that day: break the line rather than bridge it
                continue
            x = frame.left + slot * (i + 0.5)
            y = frame.y(getattr(row.outcomes, field_name), top)
            points.append((x, y, row))
            segments[-1].append((x, y))
        for segment in segments:
            if len(segment) < 2:
                continue
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
            body.append(
                f'<polyline class="mark" data-series="{color}" points="{path}" fill="none" '
                f'stroke="{COLORS[color]}" stroke-width="2.5" stroke-linejoin="round"/>'
            )
        for x, y, row in points:
            value = getattr(row.outcomes, field_name)
            body.append(
                f'<circle class="mark" data-series="{color}" cx="{x:.1f}" cy="{y:.1f}" r="3.5" '
                f'fill="{COLORS[color]}"><title>{row.day:%Y-%m-%d} {field_name.replace("_", " ")}: '
                f"{_pct(value, 2)} of {row.outcomes.sent}</title></circle>"
            )
    return _svg(name, label, frame, body)


def group_chart(name: str, label: str, rows: Sequence[GroupRow]) -> str:
    """Horizontal stacked bars per group (identity or provider): delivered, complained, bounced, pending."""
    rows = [r for r in rows if r.outcomes.sent] or list(rows[:1])
    bar, gap, left = 20, 8, 190
    frame = _Frame(height=max(60, len(rows) * (bar + gap) + 30), left=left, bottom=20)
    top, intervals = _scale(max((r.outcomes.sent for r in rows), default=0))
    body: list[str] = []
    for i in range(intervals + 1):
        value = top * i / intervals
        x = left + frame.plot_w * value / top
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top}" y2="{frame.height - frame.bottom}" '
            f'stroke="#eef1f5"/><text x="{x:.1f}" y="{frame.height - 6}" text-anchor="middle">'
            f"{value:,.0f}</text>"
        )
    for i, row in enumerate(rows):
        o = row.outcomes
        y = frame.top + i * (bar + gap)
        body.append(
            f'<text x="{left - 8}" y="{y + bar * 0.7:.1f}" text-anchor="end">{escape(row.key[:30])}</text>'
        )
        start = 0.0
        for series, count in (
            ("delivered", o.delivered - o.complained),
            ("complained", o.complained),
            ("bounced", o.bounced),
            ("pending", max(0, o.pending)),
        ):
            if count <= 0:
                continue
            x = left + frame.plot_w * start / top
            width = frame.plot_w * count / top
            body.append(
                f'<rect class="mark" data-series="{series}" x="{x:.1f}" y="{y}" '
                f'width="{max(width, 0.5):.1f}" height="{bar}" fill="{COLORS[series]}">'
                f"<title>{escape(row.key)} {series}: {count} of {o.sent} ({_pct(count / o.sent, 2)})</title>"
                "</rect>"
            )
            start += count
    return _svg(name, label, frame, body)


def funnel_chart(funnels: Sequence[CampaignFunnel]) -> str:
    """Per campaign, four bars from the top: leads enrolled, contacted (step 1 went), delivered, replied."""
    bar, gap, left, group_gap = 14, 3, 190, 14
    rows = list(funnels) or []
    height = max(70, len(rows) * (4 * (bar + gap) + group_gap) + 40)
    frame = _Frame(height=height, left=left, bottom=34)
    top, intervals = _scale(max((f.enrolled for f in rows), default=0))
    body: list[str] = []
    for i in range(intervals + 1):
        value = top * i / intervals
        x = left + frame.plot_w * value / top
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top}" y2="{frame.height - frame.bottom}" '
            f'stroke="#eef1f5"/><text x="{x:.1f}" y="{frame.height - frame.bottom + 14}" '
            f'text-anchor="middle">{value:,.0f}</text>'
        )
    body.append(
        f'<text class="axis-title" x="{left + frame.plot_w / 2:.1f}" y="{frame.height - 4}" '
        'text-anchor="middle">leads</text>'
    )
    y = float(frame.top)
    for f in rows:
        body.append(
            f'<text x="{left - 8}" y="{y + 2 * (bar + gap) + 2:.1f}" text-anchor="end">'
            f"{escape((f.tenant_id + '/' + f.campaign_id)[:30])}</text>"
            f'<text x="{left - 8}" y="{y + 2 * (bar + gap) + 15:.1f}" text-anchor="end">'
            f"reply {_pct(f.reply_rate)}</text>"
        )
        for series, count in zip(FUNNEL, (f.enrolled, f.contacted, f.delivered, f.replied), strict=True):
            width = frame.plot_w * count / top if top else 0
            body.append(
                f'<rect class="mark" data-series="{series}" x="{left}" y="{y:.1f}" '
                f'width="{max(width, 0.5):.1f}" height="{bar}" fill="{COLORS[series]}">'
                f"<title>{escape(f.campaign_id)} {series}: {count}</title></rect>"
            )
            y += bar + gap
        y += group_gap
    return _svg("funnel", "Leads per campaign: enrolled, contacted, delivered, replied", frame, body)


def _funnel_tables(funnels: Sequence[CampaignFunnel]) -> str:
    head = (
        "<tr><th>campaign</th><th>status</th><th>enrolled</th><th>contacted</th><th>delivered</th>"
        "<th>replied</th><th>reply rate</th><th>bounced</th><th>unsubscribed</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{escape(f.tenant_id)}/{escape(f.campaign_id)}</td><td>{escape(f.status)}</td>"
        f"<td>{f.enrolled:,}</td><td>{f.contacted:,}</td><td>{f.delivered:,}</td><td>{f.replied:,}</td>"
        f"<td><b>{_pct(f.reply_rate)}</b></td><td>{f.bounced:,}</td><td>{f.unsubscribed:,}</td></tr>"
        for f in funnels
    )
    steps = "".join(
        f"<tr><td>{escape(f.tenant_id)}/{escape(f.campaign_id)}</td><td>{s.step}</td><td>{s.sent:,}</td>"
        f"<td>{s.delivered:,}</td><td>{s.bounced:,}</td><td>{s.complained:,}</td><td>{s.replied:,}</td>"
        f"<td>{_pct(s.reply_rate)}</td><td>{s.unsubscribed:,}</td><td>{s.failed:,}</td></tr>"
        for f in funnels
        for s in f.steps
    )
    variants = "".join(
        f"<tr><td>{escape(v.tenant_id)}/{escape(v.campaign_id)}</td><td>{v.step}</td>"
        f"<td>{escape(v.figures.template)}</td><td>{v.figures.sent:,}</td><td>{v.figures.replied:,}</td>"
        f"<td>{_pct(v.figures.reply_rate)}</td><td>{v.figures.bounced:,}</td><td>{v.figures.unsubscribed:,}</td></tr>"
        for f in funnels
        for v in f.variants
    )
    verdicts = "".join(
        f"<li>{escape(f.campaign_id)} step {step}: {escape(text)}</li>"
        for f in funnels
        for step, text in f.verdicts.items()
    )
    ab = (
        "<h2>A/B variants</h2><table><thead><tr><th>campaign</th><th>step</th><th>variant</th><th>sent</th>"
        "<th>replied</th><th>reply rate</th><th>bounced</th><th>unsubscribed</th></tr></thead>"
        f"<tbody>{variants}</tbody></table><ul>{verdicts}</ul>"
        if variants
        else ""
    )
    return (
        f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"
        "<h2>Per step</h2><table><thead><tr><th>campaign</th><th>step</th><th>sent</th><th>delivered</th>"
        "<th>bounced</th><th>complained</th><th>replied</th><th>reply rate</th><th>unsubscribed</th>"
        f"<th>not sent</th></tr></thead><tbody>{steps}</tbody></table>{ab}"
    )


def _failures_section(data: ReportData) -> str:
    if not data.failures:
        return "<section><h2>Failures</h2><p>No job failed, dead-lettered or is uncertain.</p></section>"
    reasons: dict[tuple[str, str], int] = {}
    for f in data.failures:
        key = (f.status, f.reason.split(": ", 2)[0] if len(f.reason) > 90 else f.reason)
        reasons[key] = reasons.get(key, 0) + 1
    grouped = "".join(
        f'<tr><td>{escape(status)}</td><td class="wrap">{escape(reason)}</td><td>{count:,}</td></tr>'
        for (status, reason), count in sorted(reasons.items(), key=lambda kv: -kv[1])
    )
    listed = "".join(
        f"<tr><td>{escape(f.tenant_id)}/{escape(f.campaign_id)}</td><td>{f.step}</td><td>{escape(f.email)}</td>"
        f'<td>{escape(f.status)}</td><td class="wrap">{escape(f.reason)}</td></tr>'
        for f in data.failures[:200]
    )
    more = (
        f"<p>… and {len(data.failures) - 200:,} more (`outreach jobs list`)</p>"
        if len(data.failures) > 200
        else ""
    )
    return (
        f"<section><h2>Failures: {len(data.failures):,} jobs did not go out (or may not have)</h2>"
        "<table><thead><tr><th>status</th><th>reason</th><th>jobs</th></tr></thead>"
        f"<tbody>{grouped}</tbody></table><h2>Each one</h2><table><thead><tr><th>campaign</th><th>step</th>"
        f"<th>recipient</th><th>status</th><th>reason</th></tr></thead><tbody>{listed}</tbody></table>{more}"
        "</section>"
    )


def _rate_cell(value: float, limit: float, digits: int = 1) -> str:
    css = ' class="bad"' if value > limit else ""
    return f"<td{css}>{_pct(value, digits)}</td>"


def _table(rows: Sequence[GroupRow], first: str, extra: tuple[str, ...] = (), smtp: bool = False) -> str:
    counts = (
        ("accepted", "delivered (reported)", "bounced (reported)")
        if smtp
        else ("sent", "delivered", "bounced")
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in (first, *extra, *counts, "complained", "failed", "delivery", "bounce", "complaint")
    )
    body = []
    for row in rows:
        o: Outcomes = row.outcomes
        extras = "".join(f"<td>{escape(v)}</td>" for v in (row.label, row.status)[: len(extra)])
        body.append(
            f"<tr><td>{escape(row.key)}</td>{extras}<td>{o.sent:,}</td><td>{o.delivered:,}</td>"
            f"<td>{o.bounced:,}</td><td>{o.complained:,}</td><td>{o.failed:,}</td>"
            f"<td>{escape(o.delivery_text())}</td>{_rate_cell(o.bounce_rate, BOUNCE_THRESHOLD)}"
            f"{_rate_cell(o.complaint_rate, COMPLAINT_THRESHOLD, 2)}</tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _skipped_table(data: ReportData) -> str:
    if not data.skipped:
        return ""
    rows = "".join(
        f"<tr><td>{escape(s.tenant_id)}</td><td>{escape(s.list_name)}</td><td>{escape(s.email)}</td>"
        f"<td>{escape(s.code)}</td><td>{escape(s.reason)}</td></tr>"
        for s in data.skipped
    )
    return (
        f"<section><h2>Never sent: {len(data.skipped):,} leads skipped by list hygiene</h2>"
        "<table><thead><tr><th>tenant</th><th>list</th><th>address</th><th>why</th><th>reason</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></section>"
    )


SMTP_FOOTER = (
    " Over SMTP, accepted means accepted by the receiving server: no delivery reports come back, so"
    " delivered and bounced are what was reported (bounce reports read over IMAP), and the delivery"
    " rate counts SES sends only (n/a when there are none)."
)


def render_report(data: ReportData, title: str = "Outreach report") -> str:
    totals = data.totals
    scope = f"tenant {data.tenant_filter}" if data.tenant_filter else f"{len(data.tenants)} tenant(s)"
    smtp = data.smtp_mode
    contacted = sum(f.contacted for f in data.funnels)
    replied = sum(f.replied for f in data.funnels)
    kpis = [
        ("accepted by the server" if smtp else "sent", f"{totals.sent:,}", False),
        ("reply rate", _pct(replied / contacted if contacted else 0.0), False),
        ("delivery rate", totals.delivery_text(), False),
        (
            "bounce rate (reported)" if smtp else "bounce rate",
            _pct(totals.bounce_rate),
            totals.bounce_rate > BOUNCE_THRESHOLD,
        ),
        ("complaint rate", _pct(totals.complaint_rate, 2), totals.complaint_rate > COMPLAINT_THRESHOLD),
        ("failed (not sent)", f"{totals.failed:,}", totals.failed > 0),
    ]
    kpi_html = "".join(
        f'<div class="kpi{" bad" if bad else ""}"><span>{escape(k)}</span><b>{escape(v)}</b></div>'
        for k, v, bad in kpis
    )
    statuses = ", ".join(f"{k} {v:,}" for k, v in data.jobs_by_status.items()) or "no jobs yet"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body>
<header><h1>{escape(title)}</h1>
<p>{scope} · messages sent {data.first_day:%d %b %Y} – {data.last_day:%d %b %Y} ·
generated {data.generated_at:%Y-%m-%d %H:%M UTC}</p></header>
<main>
<section class="kpis">{kpi_html}</section>
<section><h2>Per campaign: the funnel, and the reply rate</h2>{_legend(*FUNNEL)}
{funnel_chart(data.funnels)}
{_funnel_tables(data.funnels)}</section>
<section><h2>Messages sent per day, by outcome</h2>
{_legend("delivered", "complained", "bounced", "pending")}
{sends_chart(data.days)}</section>
<div class="grid2">
<section><h2>Delivery rate by send day</h2>{_legend("delivered")}
{rate_chart("delivery-rate", "Delivery rate by send day", data.days, [("delivered", "delivery_rate")], None)}
</section>
<section><h2>Bounce and complaint rates by send day</h2>{_legend("bounced", "complained", "threshold")}
{
        rate_chart(
            "problem-rates",
            "Bounce and complaint rates by send day",
            data.days,
            [("bounced", "bounce_rate"), ("complained", "complaint_rate")],
            BOUNCE_THRESHOLD,
        )
    }
</section></div>
<section><h2>Per sender identity</h2>{_legend("delivered", "complained", "bounced", "pending")}
{group_chart("per-identity", "Messages per sender identity by outcome", data.identities)}
{_table(data.identities, "identity", ("domain", "status"), smtp)}</section>
<section><h2>Per mailbox provider</h2>{_legend("delivered", "complained", "bounced", "pending")}
{group_chart("per-provider", "Messages per mailbox provider by outcome", data.providers)}
{_table(data.providers, "provider", (), smtp)}</section>
<section><h2>Per tenant: success and failure</h2>{_table(data.tenants, "tenant", ("name",), smtp)}</section>
{_failures_section(data)}
{_skipped_table(data)}
<footer>Outcomes are counted against the day a message was sent. Rates: delivered, bounced and
complained over messages the provider accepted; reply rate: leads who replied over leads contacted (a
reply counts for the last step sent to the lead).{
        SMTP_FOOTER if smtp else ""
    } Red: above the auto-stop thresholds
(bounce {_pct(BOUNCE_THRESHOLD)}, complaint {_pct(COMPLAINT_THRESHOLD, 2)}). Jobs by status: {
        escape(statuses)
    }.</footer>
</main></body></html>
"""
