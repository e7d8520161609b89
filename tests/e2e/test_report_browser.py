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
from pathlib import Path

import pytest

from adapters.html_report import COLORS, render_report
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
    world: World = small_world(workspace)
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
    assert set(charts) == {"sends-per-day", "delivery-rate", "problem-rates", "per-identity", "per-provider"}
    for name, chart in charts.items():
        assert chart["width"] > 300 and chart["height"] > 40, (name, chart)
        assert chart["marks"] > 0 and chart["painted"] == chart["marks"], (name, chart)
    assert {"delivered", "bounced"} <= set(charts["sends-per-day"]["series"])
    assert set(charts["problem-rates"]["series"]) == {"bounced", "complained"}
    assert "complained" in charts["per-identity"]["series"]


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
    white = counts[(255, 255, 255)]
    assert white < width * height * 0.9  # not a blank page
