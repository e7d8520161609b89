"""F6: a dead-lettered message's job is visibly dead-lettered at once, and a worker that dies costs a
receive of the message it held only, not of batch siblings it never looked at.

The worker dies (a BaseException nothing catches, as with SIGKILL) while the sender checks the
suppression list: before anything is sent, with the job still `queued`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from entrypoints.cli.app import app as cli
from entrypoints.container import Application
from entrypoints.worker import LocalWorker
from outreach_core.domain.jobs import JobStatus
from outreach_core.ports import StateStore, StoredItem
from tests.hostile.world import TENANT, workspace_world

LEASE_S = 1  # the job queue's visibility timeout locally: a message held by a dead worker returns in 1 s


class Killed(BaseException):
    pass


class DyingStore:
    """The real store, in a process that is killed while the sender reads the suppression list (the
    last check before a send), the next `times` times once armed."""

    def __init__(self, real: StateStore) -> None:
        self.real, self.times = real, 0

    def arm(self, times: int = 1_000) -> None:
        self.times = times

    def get(self, partition: str, sort: str) -> StoredItem | None:
        if self.times > 0 and sort.startswith("SUPP#"):
            self.times -= 1
            raise Killed
        return self.real.get(partition, sort)

    def get_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredItem]:
        if self.times > 0 and any(sort.startswith("SUPP#") for _, sort in keys):  # read ahead with others
            self.times -= 1
            raise Killed
        return self.real.get_many(keys)

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


def world(tmp_path: Path, leads: int, **settings: object) -> tuple[Application, DyingStore]:
    emails = "".join(f"lead{n}@corp-{n}.example\n" for n in range(leads))
    app = workspace_world(tmp_path / "ws", "email\n" + emails, sender_lease_s=LEASE_S, **settings)
    records = app.services.records()
    records.store = dying = DyingStore(records.store)  # type: ignore[assignment]
    LocalWorker.from_app(app).planner.tick()
    time.sleep(1.1)  # every slot is due (ten a second)
    return app, dying


def run_dying(app: Application) -> bool:
    """One worker pass; True if the worker died in it."""
    try:
        LocalWorker.from_app(app).run_once()
    except Killed:
        return True
    return False


def test_f6_a_message_whose_worker_keeps_dying_is_dead_lettered_with_its_job(tmp_path: Path) -> None:
    app, dying = world(tmp_path, 1)
    dying.arm()
    queue = app.adapters.job_queue()
    for _ in range(8):
        run_dying(app)
        if queue.stats().dead:
            break
        time.sleep(LEASE_S + 0.1)
    [letter] = queue.dead_letters()
    [job] = app.services.records().jobs(TENANT)
    # At once: no reconciliation ran, no command was typed.
    assert job.status is JobStatus.DEAD_LETTERED, job.status
    assert "without being acknowledged" in job.status_reason and letter.reason == job.status_reason


def test_f6_a_dead_worker_does_not_burn_receives_of_messages_it_never_looked_at(tmp_path: Path) -> None:
    app, dying = world(tmp_path, 5)
    queue = app.adapters.job_queue()
    assert queue.stats().visible == 5
    dying.arm(times=1)
    assert run_dying(app)
    stats = queue.stats()
    assert stats.in_flight == 1 and stats.visible == 4, stats  # only the message in hand is hidden
    # A restarted worker sends the four siblings on their first receive.
    LocalWorker.from_app(app).run_once()
    sent = [j for j in app.services.records().jobs(TENANT) if j.status is JobStatus.SENT]
    assert len(sent) == 4


def test_f6_jobs_behind_dead_letters_the_queue_made_by_itself_are_shown_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQS's redrive policy (or a worker dying on the last delivery) moves a message by itself; here
    # after one delivery nobody acknowledged.
    app, _ = world(tmp_path, 1, max_receives=1)
    queue = app.adapters.job_queue()
    assert queue.receive(1), "received and never acknowledged"
    time.sleep(LEASE_S + 0.1)
    assert queue.receive(1) == [] and queue.stats().dead == 1  # the queue dead-lettered it silently
    [job] = app.services.records().jobs(TENANT)
    assert job.status is JobStatus.QUEUED

    monkeypatch.setattr("entrypoints.cli.app.configure_logging", lambda *a, **k: None)
    result = CliRunner().invoke(cli, ["--workspace", str(tmp_path / "ws"), "status", "--json"])
    assert result.exit_code == 0, result.output
    [tenant] = json.loads(result.stdout)["tenants"]  # the alert this raises is logged on stderr
    assert tenant["jobs"] == {"dead_lettered": 1}, tenant["jobs"]
