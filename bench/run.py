"""Run the benchmarks and regenerate their tables in docs/benchmarks.md.

Every `bench/bench_*.py` module exposes `run() -> dict` (its figures; it asserts its workload completed
before it returns any) and `markdown(result) -> str` (its table). The figures go to
bench/results/<name>.json with the machine; the table replaces the text between the module's markers in
docs/benchmarks.md (`<!-- bench:NAME -->` ... `<!-- /bench:NAME -->`), headed by the machine, the date
and the load average before and after the run: the prose around the tables is written by hand.

    python -m bench.run            # all (make bench)
    python -m bench.run sender     # those whose module name contains "sender"
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DOC = HERE.parent / "docs" / "benchmarks.md"


def machine() -> dict[str, str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (5-min {five:.2f})"


def heading(info: dict[str, str], started: str, load_before: str, load_after: str, seconds: float) -> str:
    return (
        f"*Measured {started} by `make bench` ({seconds:.0f} s): {info['cpu']}, {info['cores']} cores, "
        f"CPython {info['python']}, SQLite {info['sqlite']}, {info['platform']}; load average "
        f"{load_before} before, {load_after} after (the machine is shared: compare within a run).*\n\n"
    )


def regenerate(doc: Path, name: str, text: str) -> bool:
    """Replace the section between the markers of `name`; False when the doc has no such markers."""
    key = name.removeprefix("bench_")
    pattern = re.compile(rf"(<!-- bench:{key} -->\n).*?(<!-- /bench:{key} -->)", re.DOTALL)
    content = doc.read_text(encoding="utf-8")
    if not pattern.search(content):
        return False
    doc.write_text(pattern.sub(lambda m: m.group(1) + text + m.group(2), content), encoding="utf-8")
    return True


def main(argv: list[str]) -> None:
    selected = [p.stem for p in sorted(HERE.glob("bench_*.py")) if not argv or any(a in p.stem for a in argv)]
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    if len(selected) > 1:  # each in a process of its own: what one leaves in memory never weighs on the next
        for name in selected:
            subprocess.run([sys.executable, "-m", "bench.run", name], check=True)
        return
    info = machine()
    print(f"machine: {info}")
    for name in selected:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n== {name} ==", flush=True)
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        load_before, clock = _load(), time.monotonic()
        result: dict[str, Any] = module.run()
        seconds, load_after = time.monotonic() - clock, _load()
        record = {"measured": started, "load_before": load_before, "load_after": load_after, **result}
        saved = json.dumps({**record, "machine": info}, indent=2, default=str)
        (out / f"{name}.json").write_text(saved + "\n")
        table = heading(info, started, load_before, load_after, seconds) + module.markdown(result)
        print(table)
        if not regenerate(DOC, name, table):
            print(f"  (docs/benchmarks.md has no <!-- bench:{name.removeprefix('bench_')} --> section)")


if __name__ == "__main__":
    main(sys.argv[1:])
