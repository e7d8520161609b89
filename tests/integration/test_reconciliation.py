"""Reconciliation after a crash: a send SES accepted but we never recorded is settled from its Send /
Delivery events through the job tag; a send with no event by its lease deadline becomes `uncertain`,
is listed for a person, is never sent again by a worker, and is resolved by a person with an audit
entry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from adapters.simulated_ses import OutcomeRates, SimulatedSesMailer, SimulatorProfile
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.mail import OutboundEmail, SendReceipt
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.records import TimerKind
from outreach_core.services.audit_log import AuditLog
from outreach_core.services.uncertain import Resolution, UncertainJobs
from tests.fakes import FakeQueue, ManualClock
from tests.feedback_world import TENANT, World, build_world

ANN, BOB = "ann@client.example", "bob@client.example"
QUIET = SimulatorProfile(
    default=OutcomeRates(bounce=0, soft_bounce=0, complaint=0, delay=0, reply=0, auto_reply=0)
)


class SimulatedCrash(BaseException):
    """The process dies: nothing after this line runs (not an Exception, so nothing catches it)."""


@dataclass
class CrashingMailer:
    """Hands the message to the simulated SES, then 'crashes' for the chosen recipients: before the
    hand-over (nothing went out) or after it (SES accepted; our record of it is lost)."""

    inner: SimulatedSesMailer
    crash_after: set[str] = field(default_factory=set)
    crash_before: set[str] = field(default_factory=set)
    name: str = "crashing-ses"

    def send(self, email: OutboundEmail) -> SendReceipt:
        recipient = email.recipient.email
        if recipient in self.crash_before:
            self.crash_before.discard(recipient)
            raise SimulatedCrash
        receipt = self.inner.send(email)
        if recipient in self.crash_after:
            self.crash_after.discard(recipient)
            raise SimulatedCrash
        return receipt


def crash_world(clock_events: FakeQueue | None = None) -> tuple[World, SimulatedSesMailer, FakeQueue]:
    world = build_world()
    events = clock_events or FakeQueue(world.clock, max_delay_seconds=7 * 24 * 3600)
    simulator = SimulatedSesMailer(events, world.clock, QUIET)
    world.mailer = world.sender.mailer = CrashingMailer(simulator)
    return world, simulator, events


def run_sender(world: World) -> None:
    """The worker loop; a crash loses the message's ack (the queue brings it back later)."""
    world.plan()
    world.clock.advance(timedelta(minutes=6))
    while messages := world.queue.receive(10):
        for message in messages:
            try:
                result = world.sender.handle(message)
            except SimulatedCrash:
                continue
            if not result.redeliver:
                world.queue.ack(message.receipt)


def deliver_events(world: World, events: FakeQueue, clock: ManualClock) -> None:
    clock.advance(timedelta(minutes=30))
    while messages := events.receive(50):
        world.ingestor.ingest([m.body for m in messages])
        for m in messages:
            events.ack(m.receipt)


def test_a_send_lost_in_a_crash_is_settled_from_the_providers_events_and_never_repeated() -> None:
    world, simulator, events = crash_world()
    assert isinstance(world.mailer, CrashingMailer)
    world.mailer.crash_after.add(ANN)
    run_sender(world)
    ann = world.job(ANN)
    assert ann.status is JobStatus.SENDING and ann.provider_message_id is None
    assert [e.recipient for e in simulator.ledger].count(ANN) == 1, "SES did accept it"

    deliver_events(world, events, world.clock)
    ann = world.job(ANN)
    assert ann.status is JobStatus.DELIVERED
    assert ann.provider_message_id == next(
        e.provider_message_id for e in simulator.ledger if e.recipient == ANN
    )
    assert ann.rfc_message_id == f"<{ann.provider_message_id}@email.amazonses.com>"
    assert ann.subject == "Hello Ann", "the follow-up can reply in this thread"
    reconciled = [a for a in world.records.audit(TENANT) if a.action == "job.reconciled"]
    assert [a.target for a in reconciled] == [ann.job_id]
    assert world.records.next_timer(TENANT) is not None

    world.clock.advance(timedelta(minutes=10))  # the crashed message becomes visible again
    run_sender(world)
    assert [e.recipient for e in simulator.ledger].count(ANN) == 1, "never sent twice"

    world.clock.advance(timedelta(days=2))
    run_sender(world)
    steps = [e.tags["job"].rsplit("_", 1)[1] for e in simulator.ledger if e.recipient == ANN]
    assert steps == ["1", "2"], "the sequence went on from the reconciled send"


def test_a_send_with_no_event_by_its_deadline_becomes_uncertain_and_waits_for_a_person() -> None:
    world, simulator, events = crash_world()
    assert isinstance(world.mailer, CrashingMailer)
    world.mailer.crash_before.add(ANN)
    run_sender(world)
    assert world.status(ANN) is JobStatus.SENDING
    deliver_events(world, events, world.clock)  # Bob's and Cat's events only: nothing about Ann
    assert world.status(ANN) is JobStatus.SENDING

    world.clock.advance(timedelta(minutes=10))  # past the 5-minute lease
    run_sender(world)
    assert world.status(ANN) is JobStatus.UNCERTAIN
    uncertain = UncertainJobs(world.records, world.clock)
    assert [j.job_id for j in uncertain.list(TENANT)] == [world.job(ANN).job_id]
    world.clock.advance(timedelta(hours=1))
    run_sender(world)
    assert ANN not in [e.recipient for e in simulator.ledger], "an uncertain job is never resent by a worker"

    with pytest.raises(ValueError, match="say why"):
        uncertain.resolve(TENANT, world.job(ANN).job_id, Resolution.FAILED, actor="dana", reason=" ")
    resolved = uncertain.resolve(
        TENANT, world.job(ANN).job_id, Resolution.FAILED, actor="dana", reason="not in the SES console"
    )
    assert resolved.status is JobStatus.FAILED and "dana" in resolved.status_reason
    assert uncertain.list(TENANT) == []
    (entry,) = [a for a in world.records.audit(TENANT) if a.action.startswith("job.resolve")]
    assert (entry.actor, entry.action, entry.reason) == (
        "dana",
        "job.resolve.failed",
        "not in the SES console",
    )
    with pytest.raises(ValueError, match="not uncertain"):
        uncertain.resolve(TENANT, resolved.job_id, Resolution.SENT, actor="dana", reason="again")


def test_a_person_marking_an_uncertain_job_sent_lets_the_sequence_go_on() -> None:
    world, _, _ = crash_world()
    assert isinstance(world.mailer, CrashingMailer)
    world.mailer.crash_before.add(BOB)
    run_sender(world)
    world.clock.advance(timedelta(minutes=10))
    world.plan()
    assert world.status(BOB) is JobStatus.UNCERTAIN
    UncertainJobs(world.records, world.clock).resolve(
        TENANT, world.job(BOB).job_id, Resolution.SENT, actor="dana", reason="the recipient confirmed it"
    )
    assert world.status(BOB) is JobStatus.SENT
    assert world.job(BOB).subject == "Hello Bob", "the subject that went out, for the follow-up's thread"
    due = world.records.timers_due(TENANT, TimerKind.STEP, world.clock.now() + timedelta(days=30))
    assert world.job(BOB).lead_id in {t.lead_id for t in due if t.step == 2}
    world.clock.advance(timedelta(days=3))
    run_sender(world)
    assert world.status(BOB, 2) is JobStatus.SENT
    assert isinstance(world.mailer, CrashingMailer)
    (follow_up,) = [e for e in world.mailer.inner.ledger if e.recipient == BOB]
    assert follow_up.subject == "Hello Bob"


def test_an_event_arriving_after_the_deadline_still_settles_an_uncertain_job() -> None:
    world, _, events = crash_world()
    assert isinstance(world.mailer, CrashingMailer)
    world.mailer.crash_after.add(ANN)
    run_sender(world)
    world.clock.advance(timedelta(minutes=10))
    world.plan()
    assert world.status(ANN) is JobStatus.UNCERTAIN
    deliver_events(world, events, world.clock)
    assert world.status(ANN) is JobStatus.DELIVERED


def test_the_audit_log_is_listed_and_archived_a_day_at_a_time() -> None:
    world = build_world()
    log = AuditLog(world.records, world.clock, world.archive)
    first_day = world.clock.now().date()
    world.clock.advance(timedelta(days=1))
    world.suppression.suppress(
        TENANT, ANN, SuppressionReason.MANUAL, source="cli", at=world.clock.now(), actor="dana"
    )
    assert [e.action for e in log.entries(TENANT, action="suppression.")] == ["suppression.add"]
    assert log.entries(TENANT, since=world.clock.now() - timedelta(minutes=1))[0].actor == "dana"
    world.clock.advance(timedelta(days=1))
    archived = log.archive_pending(TENANT)
    assert [a.day for a in archived] == [first_day, first_day + timedelta(days=1)]
    blob = world.archive.get(archived[1].ref).decode()
    (line,) = blob.splitlines()
    assert json.loads(line)["action"] == "suppression.add" and json.loads(line)["actor"] == "dana"
    assert log.archive_pending(TENANT) == [], "days already archived are not archived again"
    world.clock.advance(timedelta(days=1))
    assert log.archive_pending(TENANT) == [], "a day without entries leaves no blob"
    assert sorted(world.archive.blobs) == [
        f"audit/{TENANT}/{d:%Y/%m/%d}.jsonl" for d in (first_day, first_day + timedelta(days=1))
    ]
