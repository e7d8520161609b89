"""Per-message overhead of metrics and archiving, each beside its baseline in the same run.

1. Metrics: what one message costs in emit calls (1 SendOutcome + ~3 FeedbackEvent) and a flush per
   batch of 10 (one Lambda invocation), for NullMetrics (the baseline), InMemoryMetrics and EmfMetrics
   writing to a null sink; with the EMF bytes a message adds to CloudWatch Logs.
2. Archiving: the feedback path's archive step per SES event, at batch sizes 1, 10 and 100, to the
   filesystem archive; baseline = decoding the same events without archiving.
3. End to end: the small local world (SQLite, simulated SES, the whole pipeline), once with metrics
   off and once with EMF metrics on, as time per sent message.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from adapters.clock import SystemClock
from adapters.emf_metrics import EmfMetrics
from adapters.filesystem_archive import FilesystemArchive
from adapters.memory_metrics import InMemoryMetrics
from outreach_core.ports import Metrics
from outreach_core.telemetry import FEEDBACK_EVENT, SEND_OUTCOME, NullMetrics

DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "acme-corp.com", "mail.ru"]
EVENT: dict[str, object] = {
    "eventType": "Delivery",
    "mail": {
        "timestamp": "2026-01-05T09:00:00.000Z",
        "source": "Ann <ann@acme-mail.com>",
        "messageId": "0100018c-1234-5678-9abc-def012345678-000000",
        "destination": ["sam@example.com"],
        "tags": {"tenant": ["acme"], "campaign": ["c1"], "job": ["c1_l-0123456789abcdef_1"]},
    },
    "delivery": {
        "timestamp": "2026-01-05T09:00:02.000Z",
        "processingTimeMillis": 1900,
        "recipients": ["sam@example.com"],
        "smtpResponse": "250 2.0.0 OK 1736067602 a1si123456qkb.12 - gsmtp",
        "reportingMTA": "a8-12.smtp-out.amazonses.com",
    },
}


def _best_of(repeats: int, fn: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def bench_metrics(messages: int = 20_000) -> dict[str, float]:
    print("\n## metrics: per message (1 SendOutcome + 3 FeedbackEvent emits, a flush per 10 messages)")
    written: list[int] = []

    def sink(line: str) -> None:
        written.append(len(line) + 1)

    def run(metrics: Metrics) -> Callable[[], None]:
        def go() -> None:
            for n in range(messages):
                metrics.emit(SEND_OUTCOME, 1, "Count", Outcome="sent")
                metrics.emit(FEEDBACK_EVENT, 1, "Count", EventType="sent")
                metrics.emit(FEEDBACK_EVENT, 1, "Count", EventType="delivered")
                metrics.emit(FEEDBACK_EVENT, 1, "Count", EventType="bounce" if n % 50 == 0 else "delivered")
                if n % 10 == 9:
                    metrics.flush()

        return go

    results = {}
    for name, metrics in (
        ("NullMetrics (baseline)", NullMetrics()),
        ("InMemoryMetrics", InMemoryMetrics(strict=False)),
        ("EmfMetrics -> null sink", EmfMetrics("Outreach", SystemClock(), sink)),
    ):
        written.clear()
        seconds = _best_of(5, run(metrics))
        results[name] = seconds / messages * 1e6
        extra = ""
        if written:
            per_message = sum(written) / 5 / messages  # five repeats wrote
            extra = f"  ({per_message:.0f} bytes of EMF log per message)"
        print(f"  {name:<26} {results[name]:7.2f} µs/message{extra}")
    baseline = results["NullMetrics (baseline)"]
    print(f"  EMF overhead over the baseline: {results['EmfMetrics -> null sink'] - baseline:.2f} µs/message")
    return {
        "metrics_null_us_per_message": round(baseline, 2),
        "metrics_in_memory_us_per_message": round(results["InMemoryMetrics"], 2),
        "metrics_emf_us_per_message": round(results["EmfMetrics -> null sink"], 2),
    }


def _event(rng: random.Random, n: int) -> dict[str, object]:
    """A realistic event: ids, addresses, times and the SMTP response differ from event to event."""
    recipient = (
        f"{rng.choice(['anna', 'james', 'olga', 'li'])}.{rng.getrandbits(24):06x}@{rng.choice(DOMAINS)}"
    )
    message_id = f"0100018c{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}-000000"
    mail = dict(EVENT["mail"])  # type: ignore[arg-type]
    mail.update(
        timestamp=f"2026-01-05T09:{n % 60:02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z",
        messageId=message_id,
        destination=[recipient],
        tags={"tenant": ["acme"], "campaign": ["c1"], "job": [f"c1_l-{rng.getrandbits(64):016x}_1"]},
    )
    delivery = dict(EVENT["delivery"])  # type: ignore[arg-type]
    delivery.update(
        recipients=[recipient],
        processingTimeMillis=rng.randrange(300, 5000),
        smtpResponse=f"250 2.0.0 OK {rng.getrandbits(32)} {rng.getrandbits(40):010x} - gsmtp",
    )
    return {**EVENT, "mail": mail, "delivery": delivery}


def _archive_all(raw: list[str], batch: int, archive: FilesystemArchive, sizes: list[int]) -> None:
    """What the feedback ingestor does per batch: decode, re-serialise as JSON lines, gzip, put."""
    sizes.clear()
    now = datetime.now(UTC)
    for start in range(0, len(raw), batch):
        bodies = [json.loads(b) for b in raw[start : start + batch]]
        lines = [json.dumps(b, ensure_ascii=False, separators=(",", ":")) for b in bodies]
        blob = gzip.compress("\n".join(lines).encode(), mtime=0)
        key = f"events/acme/{now:%Y/%m/%d}/{now:%H%M%S}-{start:08d}.jsonl.gz"
        archive.put(key, blob, "application/x-ndjson")
        sizes.append(len(blob))


def bench_archive(events: int = 6_000) -> dict[str, float]:
    print("\n## archive: per SES event (gzip JSON lines, one object per tenant per batch)")
    rng = random.Random(7)
    raw = [json.dumps(_event(rng, n)) for n in range(events)]

    def decode_only() -> None:
        for body in raw:
            json.loads(body)

    baseline = _best_of(3, decode_only) / events * 1e6
    print(f"  decode only (baseline)        {baseline:7.2f} µs/event")
    figures = {"archive_decode_only_us_per_event": round(baseline, 2)}
    for batch in (1, 10, 100):
        root = Path(tempfile.mkdtemp(prefix="bench-archive-"))
        sizes: list[int] = []
        seconds = _best_of(3, partial(_archive_all, raw, batch, FilesystemArchive(root), sizes))
        per_event = seconds / events * 1e6
        bytes_per_event = sum(sizes) / events
        print(
            f"  batch {batch:>3}: {per_event:7.2f} µs/event (+{per_event - baseline:.2f} over decoding), "
            f"{bytes_per_event:5.0f} bytes/event stored, {events // batch} objects per {events} events"
        )
        shutil.rmtree(root)
        figures[f"archive_batch{batch}_us_per_event"] = round(per_event, 2)
        figures[f"archive_batch{batch}_bytes_per_event"] = round(bytes_per_event, 1)
    print(f"  raw event JSON: {sum(len(r) for r in raw) / events:.0f} bytes/event before gzip")
    return figures


def bench_end_to_end(leads_per_tenant: int = 60, repeats: int = 5) -> dict[str, float]:
    print("\n## end to end: the local pipeline (SQLite, simulated SES), time per sent message")
    try:
        from tests.integration.small_world import small_world
    except ImportError:
        print("  skipped: run from the repository root (needs tests/integration/small_world.py)")
        return {}
    from dependency_injector import providers

    from entrypoints.worker import LocalWorker
    from outreach_core.domain.jobs import TERMINAL
    from outreach_core.services.reporting import ACCEPTED

    configs: dict[str, Callable[[], Metrics]] = {
        "metrics off (NullMetrics)": NullMetrics,
        "EMF metrics on (null sink)": lambda: EmfMetrics("Outreach", SystemClock(), lambda _: None),
    }
    per_message: dict[str, list[float]] = {label: [] for label in configs}
    sent = 0
    for _ in range(repeats):  # interleaved, so drift on the machine hits both alike
        for label, make in configs.items():
            with tempfile.TemporaryDirectory(prefix="bench-world-") as tmp:
                world = small_world(Path(tmp), leads_per_tenant=leads_per_tenant)
                world.app.adapters.metrics.override(providers.Object(make()))
                for service in ("sender", "feedback", "ingestor", "metered_mailer"):
                    getattr(world.app.services, service).reset()  # rebuilt with the metrics above
                world.worker = LocalWorker(
                    world.app.services.planner(),
                    world.app.services.sender(),
                    world.app.services.ingestor(),
                    world.app.adapters.job_queue(),
                    world.app.adapters.event_queue(),
                    world.clock,
                )
                started = time.perf_counter()
                world.run(days=12)
                elapsed = time.perf_counter() - started
                records = world.app.services.records()
                jobs = [j for t in records.tenants() for j in records.jobs(t.id)]
                sent = sum(1 for j in jobs if j.status in ACCEPTED)
                open_jobs = [j.job_id for j in jobs if j.status not in TERMINAL]
                assert sent and not open_jobs, f"the world did not finish: {len(open_jobs)} jobs open"
                world.close()
                per_message[label].append(elapsed / max(sent, 1) * 1e3)
    for label, values in per_message.items():
        print(
            f"  {label:<28} {statistics.median(values):6.2f} ms/message "
            f"(median of {repeats}, {sent} sent per run; spread {min(values):.2f}-{max(values):.2f})"
        )
    medians = [statistics.median(v) for v in per_message.values()]
    return {
        "e2e_sent_per_run": sent,
        "e2e_metrics_off_ms_per_message": round(medians[0], 2),
        "e2e_emf_on_ms_per_message": round(medians[1], 2),
    }


def run() -> dict[str, Any]:
    """Called by bench/run.py (`make bench`); prints as it goes and returns the headline figures."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    print("# observe: metrics and archive overhead")
    return {**bench_metrics(), **bench_archive(), **bench_end_to_end()}


def markdown(result: dict[str, Any]) -> str:
    lines = ["| figure | value |", "|---|---|"]
    for key, value in result.items():
        lines.append(f"| {key.replace('_', ' ')} | {value} |")
    return "\n".join(lines) + (
        "\n\nThe end-to-end runs asserted every job of the world terminal and the same sends in each.\n"
    )
