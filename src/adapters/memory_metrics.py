"""Metrics kept in memory: the local default (the worker logs a summary on flush) and the tests' probe."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import structlog

from outreach_core.telemetry import CatalogueGate

log = structlog.get_logger("metrics")

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


class InMemoryMetrics:
    """Counts are summed, other units keep their last value. `strict` raises on anything outside the
    catalogue in outreach_core.telemetry (tests use it so a bad dimension fails loudly)."""

    def __init__(self, *, strict: bool = True, log_on_flush: bool = False) -> None:
        self.strict = strict
        self.log_on_flush = log_on_flush
        self.totals: dict[SeriesKey, float] = {}
        self.last: dict[SeriesKey, float] = {}
        self.emitted = 0
        self.flushes = 0
        self._lock = threading.Lock()
        self._gate = CatalogueGate(strict=strict)

    def emit(self, name: str, value: float = 1.0, unit: str = "Count", **dimensions: str) -> None:
        if not self._gate.admits(name, unit, dimensions):
            return
        key: SeriesKey = (name, tuple(sorted(dimensions.items())))
        with self._lock:
            self.emitted += 1
            self.last[key] = value
            self.totals[key] = self.totals.get(key, 0.0) + value

    def total(self, name: str, **dimensions: str) -> float:
        """Sum of a metric over every dimension value that matches the ones given."""
        wanted = set(dimensions.items())
        return sum(v for (n, dims), v in self.totals.items() if n == name and wanted <= set(dims))

    def latest(self, name: str, **dimensions: str) -> float | None:
        return self.last.get((name, tuple(sorted(dimensions.items()))))

    def snapshot(self) -> Mapping[str, float]:
        """{"Name{Dim=value}": total} for display."""
        out = {}
        for (name, dims), value in sorted(self.totals.items()):
            label = ",".join(f"{k}={v}" for k, v in dims)
            out[f"{name}{{{label}}}" if label else name] = value
        return out

    def flush(self) -> None:
        self.flushes += 1
        if self.log_on_flush and self.totals:
            log.info(
                "metrics", **{k.replace("{", "[").replace("}", "]"): v for k, v in self.snapshot().items()}
            )
