"""The HTML report renders its charts in a real browser: Debian's headless Chromium.

Two independent checks on the report of a small real run:
- the DOM after layout: a probe script appended to a copy of the report measures every chart and its
  marks with getBBox() (laid-out SVG geometry, not our own numbers) and leaves the result in the DOM,
  which `--dump-dom` prints;
- the pixels: a screenshot, decoded here, holds the series colours in quantity.
Chromium runs offline: no sandbox (root in CI), no GPU, no background networking, a fresh profile.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from adapters.html_report import COLORS, render_report
from adapters.simulated_ses import OutcomeRates, SimulatorProfile
from outreach_core.services.reporting import ReportService
from tests.integration.small_world import World, small_world

ROOT = Path(__file__).resolve().parents[2]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--force-device-scale-factor=0.5",
]
PROBE = """<script>
const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll('.mark')];
  const painted = marks.filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; });
  return {chart: svg.dataset.chart, width: box.width, height: box.height, marks: marks.length,
          painted: painted.length, series: [...new Set(painted.map(m => m.dataset.series))].sort()};
});
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify(charts);
document.body.appendChild(pre);
const titles = document.createElement('pre');
titles.id = 'titles';
titles.textContent = JSON.stringify([...document.querySelectorAll('svg.chart text.axis-title')]
  .filter(t => t.getBBox().width > 0).map(t => t.textContent));
document.body.appendChild(titles);
</script>"""


def _find_chromium() -> str | None:
    for name in (os.environ.get("OUTREACH_CHROMIUM", ""), "chromium", "chromium-browser"):
        if name and (path := shutil.which(name)):
            return path
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; installed by scripts/ensure-chromium.sh (run by `make test`) when missing."""
    found = _find_chromium()
    if found is None:
        script = ROOT / "scripts" / "ensure-chromium.sh"
        result = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, timeout=900, check=False
        )
        found = _find_chromium()
        if found is None:
            pytest.fail(
                "headless Chromium is needed to check the HTML report and could not be installed.\n"
                f"{script} said:\n{result.stderr.strip()}\n"
                "Install it (`apt-get install -y chromium`) or set OUTREACH_CHROMIUM to a chromium binary."
            )
    return found


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    workspace = tmp_path_factory.mktemp("browser-world")
    profile = SimulatorProfile(
        seed="browser",
        default=OutcomeRates(bounce=0.0, complaint=0.0, delay=0.0, reply=0.2, auto_reply=0.0),
        domains={"gone.example": OutcomeRates(bounce=1.0)},
        senders={"gus@globex-mail.com": OutcomeRates(complaint=0.1)},
    )
    world: World = small_world(workspace, profile=profile)
    world.run(days=12)
    data = ReportService(world.app.services.records(), world.clock).build(days=30)
    world.close()
    assert data.totals.bounced > 0 and data.totals.complained > 0
    path = workspace / "report.html"
    path.write_text(render_report(data), encoding="utf-8")
    yield path


def test_every_chart_is_laid_out_with_painted_marks(chromium: str, report_file: Path, tmp_path: Path) -> None:
    probed = tmp_path / "probed.html"
    probed.write_text(report_file.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), "utf-8")
    result = _run(chromium, tmp_path / "profile", "--dump-dom", probed.as_uri())
    match = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert match, f"no probe output; chromium exited {result.returncode}: {result.stderr[-2000:]}"
    charts = {c["chart"]: c for c in json.loads(html.unescape(match[1]))}
    assert set(charts) == {
        "funnel",
        "sends-per-day",
        "delivery-rate",
        "problem-rates",
        "per-identity",
        "per-provider",
    }
    for name, chart in charts.items():
        assert chart["width"] > 300 and chart["height"] > 40, (name, chart)
        assert chart["marks"] > 0 and chart["painted"] == chart["marks"], (name, chart)
    assert {"delivered", "bounced"} <= set(charts["sends-per-day"]["series"])
    assert set(charts["problem-rates"]["series"]) == {"bounced", "complained"}
    assert "complained" in charts["per-identity"]["series"]
    # The funnel: per campaign, enrolled > contacted >= delivered > replied, every bar painted.
    assert set(charts["funnel"]["series"]) == {"enrolled", "contacted", "delivered", "replied"}
    titles = json.loads(html.unescape(re.search(r'<pre id="titles">(.*?)</pre>', result.stdout, re.S)[1]))
    assert {"send day", "messages", "% of messages sent", "leads"} <= set(titles)


def test_axes_are_zero_safe_and_exact() -> None:
    from adapters.html_report import rate_chart
    from outreach_core.services.reporting import DayRow, Outcomes

    days = [DayRow(date(2026, 1, d), Outcomes(sent=10)) for d in (5, 6, 7)]  # nothing bounced at all
    svg = rate_chart("x", "x", days, [("bounced", "bounce_rate")], None)
    ticks = re.findall(r'text-anchor="end">([0-9.]+%)</text>', svg)
    assert ticks == ["0.00%", "0.25%", "0.50%", "0.75%", "1.00%"] or len(set(ticks)) == len(ticks) >= 4
    assert "0.00% 0.00%" not in " ".join(ticks)


def _png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """A small PNG decoder for Chromium's screenshots: 8-bit RGB or RGBA, not interlaced."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = color = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    channels = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * channels
    pixels: list[tuple[int, int, int]] = []
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[i] = (line[i] + pred) & 0xFF
        pixels.extend((line[i], line[i + 1], line[i + 2]) for i in range(0, stride, channels))
        previous = line
    return width, height, pixels


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16)


def test_the_screenshot_shows_the_chart_colours(chromium: str, report_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = _run(
        chromium,
        tmp_path / "profile",
        "--window-size=1280,3600",
        f"--screenshot={shot}",
        report_file.as_uri(),
    )
    assert shot.exists(), f"no screenshot; chromium exited {result.returncode}: {result.stderr[-2000:]}"
    width, height, pixels = _png_pixels(shot.read_bytes())
    assert (width, height) == (640, 1800)  # the window at device scale 0.5
    if os.environ.get("OUTREACH_KEEP_SCREENSHOTS"):  # to look at what the test saw
        shutil.copy(shot, Path(os.environ["OUTREACH_KEEP_SCREENSHOTS"]) / "report.png")
    counts = Counter(pixels)

    def near(color: str, tolerance: int = 6) -> int:
        r, g, b = _rgb(color)
        return sum(
            n
            for (pr, pg, pb), n in counts.items()
            if abs(pr - r) <= tolerance and abs(pg - g) <= tolerance and abs(pb - b) <= tolerance
        )

    assert near(COLORS["delivered"]) > 5_000  # bars of delivered mail dominate
    assert near(COLORS["bounced"]) > 150
    assert near(COLORS["complained"]) > 25
    assert near(COLORS["replied"]) > 100  # the funnel's replied bars
    assert near(COLORS["enrolled"]) > 300  # and its enrolled bars
    white = counts[(255, 255, 255)]
    assert white < width * height * 0.9  # not a blank page


def test_the_simulate_chart_has_labelled_axes_and_a_legend_in_the_browser(
    chromium: str, tmp_path: Path
) -> None:
    """The chart `outreach simulate` writes, for two tenants whose lines lie on top of each other."""
    from datetime import UTC, datetime

    from entrypoints.chart import render_html

    tenants = {"quiet": [60] * 24, "modest": [60] * 24, "noisy": [60, 60, 180, 180, 90] + [0] * 19}
    providers = {"google": [50 + h for h in range(24)], "other": [30] * 24}
    checks = [("no limit exceeded", True, "violations 0"), ("paused: dirty/main", False, "none paused")]
    page = tmp_path / "sim.html"
    page.write_text(
        render_html("overlap", {"sent": 1}, tenants, providers, datetime(2026, 1, 5, 8, tzinfo=UTC), checks),
        "utf-8",
    )
    probe = """<script>
const svg = document.querySelector('svg.sim-chart');
const seen = t => t.getBBox().width > 0;
const out = {
  titles: [...svg.querySelectorAll('text.axis-title')].filter(seen).map(t => t.textContent),
  xticks: [...svg.querySelectorAll('text.tick.x')].filter(seen).map(t => t.textContent),
  yticks: [...svg.querySelectorAll('text.tick.y')].filter(seen).map(t => t.textContent),
  legend: [...svg.querySelectorAll('g.legend-item')].map(g => ({series: g.dataset.series,
    dash: g.querySelector('line').getAttribute('stroke-dasharray') || '',
    colour: g.querySelector('line').getAttribute('stroke'), width: g.getBBox().width})),
  lines: [...svg.querySelectorAll('polyline.series')].filter(l => l.getBBox().width > 300).length,
  expect: [...document.querySelectorAll('table.expect tr')].map(r => r.cells[0].textContent),
};
const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", probe + "</body>"), "utf-8")
    result = _run(chromium, tmp_path / "profile", "--dump-dom", probed.as_uri())
    match = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert match, f"no probe output; chromium exited {result.returncode}: {result.stderr[-2000:]}"
    seen = json.loads(html.unescape(match[1]))
    assert seen["titles"].count("sends per hour") == 2
    assert seen["titles"].count("time since the scenario began (hours)") == 2
    assert (
        "05 Jan" in seen["xticks"]
        and "6 h" in seen["xticks"]
        and {"0", "50", "100", "150", "200"} <= set(seen["yticks"])
    )
    legend = {item["series"]: item for item in seen["legend"] if item["width"] > 0}
    assert {"quiet", "modest", "noisy", "google", "other"} <= set(legend)
    # quiet and modest are the same line: told apart by colour and dash pattern both
    assert legend["quiet"]["colour"] != legend["modest"]["colour"]
    assert legend["quiet"]["dash"] != legend["modest"]["dash"]
    assert seen["lines"] == 5 and seen["expect"] == ["PASS", "FAIL"]
    shot = tmp_path / "sim.png"
    _run(chromium, tmp_path / "profile", "--window-size=900,1200", f"--screenshot={shot}", page.as_uri())
    assert shot.exists()
    if os.environ.get("OUTREACH_KEEP_SCREENSHOTS"):
        shutil.copy(shot, Path(os.environ["OUTREACH_KEEP_SCREENSHOTS"]) / "simulate.png")
    *_, pixels = _png_pixels(shot.read_bytes())
    colours = Counter(pixels)
    for colour in ("#1f77b4", "#d62728", "#2ca02c"):  # the first three series are drawn
        r, g, b = _rgb(colour)
        assert (
            sum(n for (pr, pg, pb), n in colours.items() if abs(pr - r) + abs(pg - g) + abs(pb - b) < 30) > 40
        )
