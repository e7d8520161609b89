"""`make bench`: every benchmark, one after the other, printing figures (never asserting on time).

Each area adds a module with a `main()` and one line below.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    from bench import observe

    print(f"machine: {machine()}")
    sys.stdout.flush()
    observe.main()


if __name__ == "__main__":
    main()
