"""The crash loop: the real worker (`outreach run`) sending over SMTP to a local sink that records every
message, SIGKILLed again and again and restarted each time.

Afterwards: no (lead, step) reached the sink twice; every job is terminal or listed for a person
(`jobs uncertain`, `dlq list`); every job the sink got is `sent` or `uncertain`. In the slow-sink
variant the sink holds each message a moment before it answers and the kills land in those moments,
after the sink has the message and before the worker hears so: the `uncertain` jobs are then exactly
the ones the sink received and the worker could not record."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from entrypoints.container import Application
from outreach_core.domain.jobs import TERMINAL, JobStatus
from outreach_core.domain.models import SenderIdentity
from outreach_core.rendering.compose import message_id_for
from outreach_core.services.jobs import JobMessage
from tests.hostile.world import TENANT, workspace_world
from tests.smtp_sink import SinkHandler, start_sink

ROOT = Path(__file__).resolve().parents[2]
SECRET = "crash-loop-secret"
LEASE_S = 2  # the sender's lease and the job queue's visibility: how soon a killed worker's job returns
MIN_KILLS = 10
WORKER = "from entrypoints.cli.app import main; main()"


@dataclass
class HoldingSink(SinkHandler):
    """Records each message as soon as it has all of it; then, in the slow variant, waits `hold_s`
    before answering 250 (the moment a provider has the message and the sender does not know yet)."""

    hold_s: float = 0.0
    holding: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self.hold_s:
            self.holding.set()
            try:
                await asyncio.sleep(self.hold_s)
            finally:  # the client may vanish mid-hold: aiosmtpd then cancels this handler
                self.holding.clear()
        return answer


class Worker:
    """`outreach run` in a process of its own, started and SIGKILLed by the test."""

    def __init__(self, workspace: Path, port: int, log: Path) -> None:
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "OUTREACH_WORKSPACE": str(workspace),
            "OUTREACH_UNSUBSCRIBE_SECRET": SECRET,
            "OUTREACH_MAILER": "smtp",
            "OUTREACH_SMTP_HOST": "127.0.0.1",
            "OUTREACH_SMTP_PORT": str(port),
            "OUTREACH_SENDER_LEASE_S": str(LEASE_S),
            "OUTREACH_PLANNER_HORIZON_S": "1",
            "OUTREACH_SES_MAX_SEND_RATE": "50",
            "OUTREACH_LOG_LEVEL": "ERROR",
        }
        self.log = log
        self.proc: subprocess.Popen[str] | None = None
        self.running = threading.Event()

    def start(self) -> None:
        self.running.clear()
        with self.log.open("a") as errors:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", WORKER, "run", "--poll", "0.05"],
                cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=errors, text=True,
            )  # fmt: skip
        threading.Thread(target=self._watch, args=(self.proc,), daemon=True).start()

    def _watch(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "worker running" in line:
                self.running.set()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        assert self.proc.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def open_jobs(app: Application, leads: int) -> list[Any]:
    """Jobs not yet terminal, and the steps not yet planned (one per lead without a job)."""
    jobs = app.services.records().jobs(TENANT)
    return [j for j in jobs if j.status not in TERMINAL] + [None] * (leads - len(jobs))


def settle(app: Application, worker: Worker, leads: int, deadline: float, *, start: bool = True) -> None:
    """Let a worker nobody kills finish: every job terminal (leases run out into `uncertain`)."""
    if start:
        worker.start()
    while remaining := open_jobs(app, leads):
        assert time.monotonic() < deadline, f"not settled: {Counter(j and j.status for j in remaining)}"
        time.sleep(0.2)
    worker.stop()


def check_outcome(app: Application, sink: HoldingSink, leads: int) -> dict[str, Any]:
    records = app.services.records()
    jobs = {j.job_id: j for j in records.jobs(TENANT)}
    assert len(jobs) == leads
    received = [message_from_bytes(m.content)["Message-ID"] for m in sink.messages]
    twice = [mid for mid, n in Counter(received).items() if n > 1]
    assert twice == [], f"sent twice: {twice}"
    by_message_id = {j.rfc_message_id: j for j in jobs.values() if j.rfc_message_id}
    # Every job is terminal, or listed for a person.
    statuses = Counter(j.status for j in jobs.values())
    assert set(statuses) <= TERMINAL, statuses
    listed_uncertain = {j.job_id for j in app.services.uncertain().list(TENANT)}
    assert listed_uncertain == {j.job_id for j in jobs.values() if j.status is JobStatus.UNCERTAIN}
    letters = {JobMessage.load(d.body).job_id for d in app.adapters.job_queue().dead_letters(1000)}
    assert {j.job_id for j in jobs.values() if j.status is JobStatus.DEAD_LETTERED} <= letters
    # Every message the sink got is a job recorded `sent`, or one left `uncertain`; every `sent` job is
    # one the sink got.
    sent = {j.job_id for j in jobs.values() if j.status is JobStatus.SENT}
    received_sent = {by_message_id[mid].job_id for mid in received if mid in by_message_id}
    assert sent == received_sent
    unrecorded = len(received) - len(received_sent)
    assert unrecorded <= statuses[JobStatus.UNCERTAIN]
    return {"received": len(received), "statuses": dict(statuses), "unrecorded": unrecorded}


@pytest.mark.timeout(300)
def test_crash_loop_random_kills_never_send_twice_and_leave_nothing_unlisted(tmp_path: Path) -> None:
    leads = 110
    sink = HoldingSink()
    controller = start_sink(sink)
    app = workspace_world(
        tmp_path / "ws",
        "email\n" + "".join(f"lead{n}@corp-{n % 7}.example\n" for n in range(leads)),
        hourly=18_000,  # five a second: the sending spans a dozen worker lives, not two
        mailer="smtp", smtp_port=controller.port, unsubscribe_secret=SECRET,
    )  # fmt: skip
    worker = Worker(tmp_path / "ws", controller.port, tmp_path / "worker.log")
    rng = random.Random(12)
    kills, started = 0, time.monotonic()
    try:
        while kills < MIN_KILLS + 1 and open_jobs(app, leads):
            worker.start()
            assert worker.running.wait(30), (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(rng.uniform(0.0, 1.2))  # a random moment of its work
            worker.kill()
            kills += 1
        settle(app, worker, leads, deadline=started + 240)
        figures = check_outcome(app, sink, leads)
    finally:
        worker.stop()
        controller.stop()
    assert kills >= MIN_KILLS, f"only {kills} kills: the messages went out too fast to test anything"
    assert figures["received"] >= 100
    print(f"\ncrash loop: {kills} kills, {figures}, {time.monotonic() - started:.1f} s")


@pytest.mark.timeout(300)
def test_crash_loop_slow_sink_uncertain_jobs_are_exactly_those_the_sink_got_unheard(tmp_path: Path) -> None:
    leads = 100
    sink = HoldingSink(hold_s=0.1)
    controller = start_sink(sink)
    app = workspace_world(
        tmp_path / "ws",
        "email\n" + "".join(f"lead{n}@corp-{n % 7}.example\n" for n in range(leads)),
        mailer="smtp", smtp_port=controller.port, unsubscribe_secret=SECRET,
    )  # fmt: skip
    worker = Worker(tmp_path / "ws", controller.port, tmp_path / "worker.log")
    rng = random.Random(21)
    kills, started = 0, time.monotonic()
    try:
        worker.start()
        while kills < MIN_KILLS and open_jobs(app, leads):
            if not sink.holding.wait(30):
                break
            if rng.random() < 0.3:  # some holds: a random moment within, before the sink answers
                time.sleep(rng.uniform(0.0, sink.hold_s * 0.4))
                worker.kill()
                kills += 1
                while sink.holding.is_set():
                    time.sleep(0.01)
                worker.start()
            else:
                while sink.holding.is_set():
                    time.sleep(0.005)
        settle(app, worker, leads, deadline=started + 240, start=False)  # the last worker, never killed
        figures = check_outcome(app, sink, leads)
    finally:
        worker.stop()
        controller.stop()
    records = app.services.records()
    jobs = records.jobs(TENANT)
    identity = records.get(SenderIdentity, TENANT, "ann")
    received = {message_from_bytes(m.content)["Message-ID"] for m in sink.messages}
    sent = {j.rfc_message_id for j in jobs if j.status is JobStatus.SENT}
    uncertain = {message_id_for(j, identity, SECRET) for j in jobs if j.status is JobStatus.UNCERTAIN}
    assert kills >= MIN_KILLS
    assert uncertain == received - sent, "uncertain: exactly what the sink got and the worker never heard"
    assert len(uncertain) == kills  # one message in hand per kill
    assert figures["statuses"].get(JobStatus.SENT, 0) + len(uncertain) == leads
    print(f"\ncrash loop, slow sink: {kills} kills, {figures}, {time.monotonic() - started:.1f} s")
