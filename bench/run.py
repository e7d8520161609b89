"""Run the benchmarks: every `bench/bench_*.py` module exposes `run() -> dict`; results are printed and
saved to bench/results/<name>.json together with the machine they were measured on.

    python -m bench.run            # all
    python -m bench.run sender     # those whose module name contains "sender"
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).parent


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
        "platform": platform.platform(),
    }


def main(argv: list[str]) -> None:
    selected = [p.stem for p in sorted(HERE.glob("bench_*.py")) if not argv or any(a in p.stem for a in argv)]
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    info = machine()
    print(f"machine: {info}")
    for name in selected:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n== {name} ==", flush=True)
        result = module.run() or {}  # a module may print its own figures and return nothing
        result["machine"] = info
        (out / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        for key, value in result.items():
            if key != "machine":
                print(f"  {key}: {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
