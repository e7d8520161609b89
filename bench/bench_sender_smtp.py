"""The local sender against a bare smtplib loop, side by side in one run, to an SMTP sink in its own
process (bench/smtp_sink.py), and the same workload under the shipped defaults.

Policy, stated: the throughput runs OPEN the limits explicitly (the tenant's policy turns off the
per-identity minute and hour pacing, the provider windows and the warm-up; the account runs at
100,000/s; the tenant's quotas are 10^7) so that the figure is the work per message, not a limit's
pace. Every check still runs (job state, campaign, suppression tenant + global, do-not-contact,
window, rotation, every limiter window with compare-and-set, rendering, MIME, the lease, the sent
record, the auto-stop windows). The defaults run keeps everything shipped and says where it binds.

Ours: SQLite store and queue + SenderService + SmtpMailer over one reused connection. Baseline:
smtplib.sendmail of the very same bytes (replayed from what the sink recorded) over one connection.
Each run asserts its workload completed (every planned job sent, each exactly once) before a figure.
"""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dependency_injector import providers

from adapters.clock import VirtualClock
from bench import smtp_sink
from entrypoints.container import Application, build
from entrypoints.log_setup import configure_logging
from entrypoints.settings import Settings
from entrypoints.worker import LocalWorker, WorkerStats
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import CampaignStep, Quotas, SenderIdentity
from outreach_core.domain.window import SendWindow
from outreach_core.policies.config import IdentityLimits, TenantPolicy
from outreach_core.policies.providers import Provider, ProviderLimits
from outreach_core.policies.warmup import WarmupPlan

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = int(os.environ.get("BENCH_SENDER_MESSAGES", "2000"))
WORKERS = 4
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
ALWAYS = SendWindow(days=(0, 1, 2, 3, 4, 5, 6), start=datetime.min.time(), end=datetime.min.time())
OPEN = TenantPolicy(
    identity=IdentityLimits(per_minute=None, per_hour=None),
    providers={p: ProviderLimits(per_hour=None, per_day=None) for p in Provider},
    warmup=WarmupPlan(enabled=False),
)
OPEN_SETTINGS: dict[str, Any] = {"ses_max_send_rate": 100_000.0, "ses_max_24h_send": 10**8}


@contextmanager
def sink(out: Path) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.smtp_sink", str(port), str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield port
    finally:
        process.terminate()
        process.wait(30)


def _settings(workspace: Path, port: int, **extra: Any) -> Settings:
    values: dict[str, Any] = {"sender_lease_s": 30, **extra}
    return Settings(
        workspace=workspace,
        mailer="smtp",
        smtp_port=port,
        planner_horizon_s=900,
        unsubscribe_secret="bench-secret",
        **values,
    )


def _world(app: Application, messages: int, policy: TenantPolicy | None) -> None:
    admin = app.services.admin()
    admin.add_tenant(
        "bench", "Bench", "1 Main Street", window=ALWAYS, quotas=Quotas(daily=10**7, hourly=10**7)
    )
    if policy is not None:
        app.services.limiter().set_tenant_policy("bench", policy)
    admin.add_direction("bench", "d", "D")
    for n in range(4):
        admin.add_identity("bench", f"id{n}", f"rep{n}@bench-mail.com", daily_cap=10**6)
    admin.add_template("bench", "t", "{Hi|Hello} {{first_name|there}}", "A note for {{company|you}}.\n" * 5)
    admin.add_campaign("bench", "c", "d", [CampaignStep(number=1, template_id="t")])
    rows = "email,first_name,company\n" + "".join(
        f"u{n}@corp-{n % 50}.com,Name{n},Corp {n}\n" for n in range(messages)
    )
    assert app.services.leads().import_csv("bench", rows.encode()).imported == messages


def _planned(workspace: Path, port: int, messages: int) -> Application:
    """The opened workload, every job planned and due (virtual clock past the last slot)."""
    app = build(_settings(workspace, port, **OPEN_SETTINGS))
    clock = VirtualClock(START)
    app.adapters.clock.override(providers.Object(clock))
    _world(app, messages, OPEN)
    app.services.admin().start_campaign("bench", "c")
    planner, planned = app.services.planner(), 0
    while report := planner.tick():
        planned += report.planned
        if not report.planned:
            break
    assert planned == messages, f"planned {planned} of {messages}"
    clock.advance(timedelta(minutes=16))
    return app


def _assert_sent_once(app: Application, recorded: list[tuple[str, list[str], bytes]], messages: int) -> None:
    jobs = app.services.records().jobs("bench")
    statuses = Counter(j.status for j in jobs)
    assert statuses == {JobStatus.SENT: messages}, statuses
    recipients = Counter(r for _, rcpts, _ in recorded for r in rcpts)
    assert len(recorded) == messages and max(recipients.values()) == 1, "a duplicate or a missing send"


def single_process(tmp: Path) -> dict[str, Any]:
    out = tmp / "sink.jsonl"
    with sink(out) as port:
        app = _planned(tmp / "ws", port, MESSAGES)
        queue, sender = app.adapters.job_queue(), app.services.sender()
        started = time.perf_counter()
        with sender.invocation():
            while messages := queue.receive(10):
                for message in messages:
                    sender.handle(message)
                    queue.ack(message.receipt)
        ours = time.perf_counter() - started
        app.adapters.mailer().close()
    recorded = smtp_sink.read(out)
    _assert_sent_once(app, recorded, MESSAGES)
    with sink(tmp / "bare.jsonl") as port:
        conn = smtplib.SMTP("127.0.0.1", port)
        started = time.perf_counter()
        for sender_address, recipients, content in recorded:
            conn.sendmail(sender_address, recipients, content)
        bare = time.perf_counter() - started
        conn.quit()
    assert len(smtp_sink.read(tmp / "bare.jsonl")) == MESSAGES
    return {
        "messages": MESSAGES,
        "outreach_msgs_per_s": round(MESSAGES / ours, 1),
        "outreach_ms_per_message": round(1000 * ours / MESSAGES, 2),
        "bare_msgs_per_s": round(MESSAGES / bare, 1),
        "bare_ms_per_message": round(1000 * bare / MESSAGES, 2),
        "outreach_share_of_bare": round(bare / ours, 3),
    }


class _Shifted:
    """Wall-clock time moved to the planned workload's day: slots are due, and a message a worker left
    unacknowledged (lost compare-and-set races) comes back after its visibility timeout, in real time."""

    def __init__(self, at: datetime) -> None:
        self.offset = at - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def _worker(workspace: str, port: int, ready: Any, go: Any) -> None:  # pragma: no cover - a subprocess
    configure_logging("ERROR")
    app = build(_settings(Path(workspace), port, sender_lease_s=2, **OPEN_SETTINGS))
    app.adapters.clock.override(providers.Object(_Shifted(START + timedelta(minutes=16))))
    worker = LocalWorker.from_app(app)
    ready.set()
    go.wait()
    stats = WorkerStats()
    queue = app.adapters.job_queue()
    while True:
        worker.drain(stats)
        left = queue.stats()
        if left.visible + left.in_flight + left.delayed == 0:
            break
        time.sleep(0.05)  # what is left is in another worker's hands (or comes back when its lease ends)
    app.adapters.mailer().close()


def worker_processes(tmp: Path) -> dict[str, Any]:
    """WORKERS processes, one SQLite workspace, to the sink: the same opened workload."""
    import multiprocessing

    out = tmp / "sink4.jsonl"
    context = multiprocessing.get_context("spawn")
    with sink(out) as port:
        app = _planned(tmp / "ws4", port, MESSAGES)
        ready = [context.Event() for _ in range(WORKERS)]
        go = context.Event()
        processes = [
            context.Process(target=_worker, args=(str(tmp / "ws4"), port, ready[n], go))
            for n in range(WORKERS)
        ]
        for process in processes:
            process.start()
        for event in ready:
            event.wait(120)
        started = time.perf_counter()
        go.set()
        for process in processes:
            process.join(600)
        elapsed = time.perf_counter() - started
    recorded = smtp_sink.read(out)
    _assert_sent_once(app, recorded, MESSAGES)
    return {
        "workers": WORKERS,
        "messages": MESSAGES,
        "msgs_per_s": round(MESSAGES / elapsed, 1),
        "seconds": round(elapsed, 2),
        "note": "wall time from go to the last worker's exit (each ends when the queue is empty)",
    }


def shipped_defaults(tmp: Path) -> dict[str, Any]:
    """The same 2,000-lead campaign with everything shipped (warm-up 20/day for new identities, 2/min
    and 40/h per identity, provider hourly limits, 14/s account), for one virtual day of the worker:
    what went out and what held the rest back."""
    with sink(tmp / "defaults.jsonl") as port:
        app = build(_settings(tmp / "wsd", port))
        clock = VirtualClock(START)
        app.adapters.clock.override(providers.Object(clock))
        _world(app, MESSAGES, None)
        app.services.admin().start_campaign("bench", "c")
        worker = LocalWorker.from_app(app)
        total, last_tick = WorkerStats(), None
        end = START + timedelta(days=1)
        while clock.now() < end:
            last_tick, wake, step_end = worker.virtual_step(
                clock, total, last_tick, tick=timedelta(minutes=5), step=timedelta(minutes=1)
            )
            clock.advance_to(min(max(wake or end, step_end), end))
        app.adapters.mailer().close()
    jobs = app.services.records().jobs("bench")
    sent = sum(1 for j in jobs if j.status is JobStatus.SENT)
    recorded = smtp_sink.read(tmp / "defaults.jsonl")
    assert sent == len(recorded) == total.outcomes.get("sent", 0), (sent, len(recorded), total.outcomes)
    waiting = Counter(j.status_reason or j.status.value for j in jobs if j.status is not JobStatus.SENT)
    limiter, records = app.services.limiter(), app.services.records()
    caps = {
        i.id: int(limiter.ramp_state("bench", i, clock.now())["cap"])
        for i in records.all(SenderIdentity, "bench")
    }
    return {
        "virtual_hours": 24,
        "leads": MESSAGES,
        "sent": sent,
        "planned_jobs": len(jobs),
        "not_yet_planned": MESSAGES - len(jobs),
        "jobs_waiting_by_reason": dict(waiting.most_common(5)),
        "warmup_caps_today": caps,
    }


def run() -> dict[str, Any]:
    configure_logging("ERROR")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        return {
            "single_process": single_process(tmp),
            "worker_processes": worker_processes(tmp),
            "shipped_defaults": shipped_defaults(tmp),
        }


def markdown(result: dict[str, Any]) -> str:
    one, many, shipped = result["single_process"], result["worker_processes"], result["shipped_defaults"]
    waiting = "; ".join(f"{reason}: {n}" for reason, n in shipped["jobs_waiting_by_reason"].items()) or "none"
    caps = ", ".join(f"{ident} {cap}/day" for ident, cap in shipped["warmup_caps_today"].items())
    rows = [
        (f"limits opened, {one['messages']:,} messages, every check", "messages/s", "ms/message"),
        ("---", "---", "---"),
        (
            "outreach sender, 1 process (SQLite, SMTP over one connection)",
            f"{one['outreach_msgs_per_s']:,}",
            f"{one['outreach_ms_per_message']}",
        ),
        (
            "bare smtplib loop, the same bytes, one connection",
            f"{one['bare_msgs_per_s']:,}",
            f"{one['bare_ms_per_message']}",
        ),
        ("outreach as a share of bare (target ≥ 50%)", f"**{one['outreach_share_of_bare']:.0%}**", ""),
        (
            f"outreach, {many['workers']} worker processes, one SQLite workspace (target ≥ 1,000/s)",
            f"**{many['msgs_per_s']:,}**",
            "",
        ),
    ]
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    return (
        f"{table}\n\nEach run asserted every planned job `sent` and each recipient exactly once at the "
        "sink.\n\n"
        f"Shipped defaults, the same {shipped['leads']:,} leads, one virtual day of the worker: "
        f"**{shipped['sent']} sent**, {shipped['planned_jobs']:,} jobs planned, "
        f"{shipped['not_yet_planned']:,} steps not yet planned: the planner books no more than the "
        f"identities' warm-up room (today's caps: {caps}); planned jobs still waiting, by reason: "
        f"{waiting}.\n"
    )
