"""Metrics as CloudWatch Embedded Metric Format (EMF) log lines: no PutMetricData calls.

A Lambda writes JSON lines to stdout; CloudWatch Logs extracts the metrics from lines that carry an
`_aws.CloudWatchMetrics` directive. Values are buffered and written on `flush()` (the handler calls it
once per invocation): counts are summed into one value per (metric, dimensions), other units keep
their values as an array (at most 100 per line, the EMF limit). One line per dimension set per flush
keeps the log bill small. Spec:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from outreach_core.ports import Clock
from outreach_core.telemetry import CatalogueGate

log = structlog.get_logger(__name__)

MAX_VALUES_PER_METRIC = 100  # EMF: an array value holds at most 100 numbers
MAX_METRICS_PER_LINE = 100  # EMF: at most 100 metric definitions per directive


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@dataclass
class _Series:
    unit: str
    values: list[float] = field(default_factory=list)


DimensionKey = tuple[tuple[str, str], ...]


class EmfMetrics:
    def __init__(
        self,
        namespace: str,
        clock: Clock,
        write: Callable[[str], None] = _stdout,
        *,
        service: str = "outreach",
        strict: bool = False,
    ) -> None:
        self.namespace = namespace
        self.clock = clock
        self.write = write
        self.service = service  # a plain property on each line (searchable in Logs Insights), not a dimension
        self.strict = strict
        self._buffer: dict[DimensionKey, dict[str, _Series]] = {}
        self._lock = threading.Lock()
        self._gate = CatalogueGate(strict=strict)

    def emit(self, name: str, value: float = 1.0, unit: str = "Count", **dimensions: str) -> None:
        if not self._gate.admits(name, unit, dimensions):
            return
        key: DimensionKey = tuple(sorted(dimensions.items()))
        with self._lock:
            group = self._buffer.setdefault(key, {})
            series = group.setdefault(name, _Series(unit))
            if unit == "Count" and series.values:
                series.values[0] += value
            else:
                series.values.append(float(value))

    def flush(self) -> None:
        with self._lock:
            buffer, self._buffer = self._buffer, {}
        timestamp = int(self.clock.now().timestamp() * 1000)
        for key, group in buffer.items():
            for line in self._lines(timestamp, dict(key), group):
                try:
                    self.write(line)
                except Exception:  # a logging failure must not fail the invocation
                    log.exception("metrics.write_failed")

    def _lines(self, timestamp: int, dimensions: dict[str, str], group: dict[str, _Series]) -> list[str]:
        """Split into lines of at most 100 metrics with at most 100 values each."""
        chunks: list[dict[str, tuple[str, list[float]]]] = []
        for name, series in sorted(group.items()):
            for start in range(0, len(series.values), MAX_VALUES_PER_METRIC):
                part = series.values[start : start + MAX_VALUES_PER_METRIC]
                target = next(
                    (c for c in chunks if name not in c and len(c) < MAX_METRICS_PER_LINE),
                    None,
                )
                if target is None:
                    target = {}
                    chunks.append(target)
                target[name] = (series.unit, part)
        lines = []
        for chunk in chunks:
            document: dict[str, object] = {
                "_aws": {
                    "Timestamp": timestamp,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": self.namespace,
                            "Dimensions": [sorted(dimensions)],
                            "Metrics": [{"Name": n, "Unit": u} for n, (u, _) in chunk.items()],
                        }
                    ],
                },
                "service": self.service,
                **dimensions,
            }
            for name, (_, values) in chunk.items():
                document[name] = values[0] if len(values) == 1 else values
            lines.append(json.dumps(document, separators=(",", ":")))
        return lines
