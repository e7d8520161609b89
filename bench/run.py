"""Run every benchmark and print its figures (copy them into docs/benchmarks.md with the machine)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

from bench import lambda_package

BENCHMARKS: list[Callable[[], None]] = [lambda_package.run]


def machine() -> None:
    cpu = "unknown"
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    print(f"machine: nproc={os.cpu_count()} cpu={cpu!r} python={platform.python_version()} ({sys.platform})")


def main() -> None:
    machine()
    for benchmark in BENCHMARKS:
        benchmark()


if __name__ == "__main__":
    main()
