"""`outreach demo` in this process with the CPU time of its parts (process_time around the planner's
ticks, the sender's messages and the feedback ingestion), printed as JSON: bench_demo's shares.

Runs against whatever `entrypoints` and `outreach_core` are first on the path, so bench_demo can
point it at a baseline's source tree as well as this one's (the classes it times exist in both)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

PARTS = {
    "planner": ("outreach_core.services.planner", "PlannerService", "tick"),
    "sender": ("outreach_core.services.sender", "SenderService", "handle"),
    "feedback": ("adapters.feedback_ingest", "EventIngestor", "ingest"),
}


def _timed(spent: Counter[str], part: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent[part] += time.process_time() - started

    return timed


def main() -> None:
    import importlib

    spent: Counter[str] = Counter()
    for part, (module, cls, name) in PARTS.items():
        owner = getattr(importlib.import_module(module), cls)
        setattr(owner, name, _timed(spent, part, getattr(owner, name)))
    from entrypoints.demo import run_demo
    from entrypoints.log_setup import configure_logging

    configure_logging("ERROR")  # as `outreach demo` does
    started = time.process_time()
    summary = run_demo()
    total = time.process_time() - started
    shares = {part: round(spent[part] / total, 3) for part in PARTS}
    print(json.dumps({"cpu_s": round(total, 1), "shares": shares, "sent": summary["sent"]}))


if __name__ == "__main__":
    main()
