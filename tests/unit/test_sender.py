"""Sender: one message in, at most one email out; every refusal handled without losing the job."""

from __future__ import annotations

from collections import Counter
from datetime import time, timedelta
from pathlib import Path

import pytest

from outreach_core.domain.ids import job_id_for
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.mail import (
    MailOutcomeUnknown,
    MailRejected,
    MailSendingPaused,
    MailThrottled,
    MailTransientError,
)
from outreach_core.domain.models import IdentityStatus, Lead, LeadStatus, SenderIdentity, Template
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.domain.window import SendWindow
from outreach_core.policies.providers import Provider
from outreach_core.ports import QueueMessage, ReceivedMessage
from outreach_core.records import TimerKind
from outreach_core.services.jobs import JobMessage
from outreach_core.services.sender import Outcome
from tests.harness import Harness, at, harness, seed_tenant


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


def job_of(h: Harness, email: str, step: int = 1):  # type: ignore[no-untyped-def]
    lead = next(lead for lead in h.records.all(Lead, "acme") if lead.email == email)
    return h.records.job("acme", job_id_for("spring", lead.id, step))


def send_one(h: Harness) -> Outcome:
    h.planner.tick()
    h.clock.advance(timedelta(minutes=6))
    [message] = h.queue.receive(1)
    result = h.sender.handle(message)
    if not result.redeliver:
        h.queue.ack(message.receipt)
    return result.outcome


class TestHappyPath:
    def test_a_sent_job_records_the_provider_id_and_schedules_the_next_step(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        assert send_one(h) is Outcome.SENT
        job = job_of(h, email)
        assert job.status is JobStatus.SENT and job.attempts == 1
        # scripted: the Message-ID local part, keyed (never the bare idempotency key, which is guessable)
        assert job.provider_message_id == job.rfc_message_id.strip("<>").split("@")[0] != job.idempotency_key
        assert job.rfc_message_id == h.mailer.sent[0].message_id
        [timer] = h.records.timers_due("acme", TimerKind.STEP, h.clock.now() + timedelta(days=3))
        assert timer.step == 2 and timer.at == job.sent_at + timedelta(days=2)
        assert h.records.job_by_message_id(job.provider_message_id) == job

    def test_rotation_spreads_sends_over_identities_by_weight(self, h: Harness) -> None:
        seed_tenant(h, identities=2, leads=[f"l{n}@corp-x.com" for n in range(30)])
        identity = h.records.get(SenderIdentity, "acme", "id0")
        h.records.replace(identity.model_copy(update={"weight": 2.0}))
        h.tick_and_send()
        counts = Counter(e.sender.email for e in h.mailer.sent)
        # 2:1 by weight, within one: the weight also leans toward the identity with more of its daily
        # cap left (warm-up headroom), which after 20 of 50 against 10 of 50 is the lighter one.
        assert sum(counts.values()) == 30
        assert abs(counts["rep0@acme-mail.com"] - 20) <= 1 and abs(counts["rep1@acme-mail.com"] - 10) <= 1

    def test_follow_ups_reply_in_thread_from_the_same_identity(self, h: Harness) -> None:
        [email] = seed_tenant(h, identities=3, leads=["ann@corp-x.com"])
        h.tick_and_send()
        h.clock.advance(timedelta(days=2))
        h.tick_and_send()
        first, second = h.mailer.to(email)
        assert second.sender == first.sender
        assert second.subject == f"Re: {first.subject}"
        assert second.headers["In-Reply-To"] == first.message_id

    def test_a_follow_up_whose_sender_was_blocked_goes_out_fresh_from_another(self, h: Harness) -> None:
        [email] = seed_tenant(h, identities=2, leads=["ann@corp-x.com"])
        h.tick_and_send()
        first = h.mailer.to(email)[0]
        blocked = "id0" if first.sender.email.startswith("rep0") else "id1"
        h.admin.set_identity_status("acme", blocked, IdentityStatus.BLOCKED, "test")
        h.clock.advance(timedelta(days=2))
        h.tick_and_send()
        second = h.mailer.to(email)[1]
        assert second.sender != first.sender and second.subject == first.subject
        assert "In-Reply-To" not in second.headers


class TestStops:
    def test_suppressed_at_send_time_is_never_sent(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        h.planner.tick()
        h.app.services.suppression().suppress(
            "acme", email, SuppressionReason.UNSUBSCRIBE, source="t", at=h.clock.now()
        )
        h.clock.advance(timedelta(minutes=6))
        assert h.drain() == ["suppressed"]
        assert h.mailer.sent == [] and job_of(h, email).status is JobStatus.SUPPRESSED

    def test_a_global_suppression_stops_every_tenant(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        h.planner.tick()
        from outreach_core.domain.ids import email_hash
        from outreach_core.domain.suppression import SuppressionEntry, SuppressionScope

        h.records.suppress(
            SuppressionEntry(
                scope=SuppressionScope.GLOBAL,
                tenant_id=None,
                email_hash=email_hash(email),
                reason=SuppressionReason.COMPLAINT,
                created_at=h.clock.now(),
            )
        )
        h.clock.advance(timedelta(minutes=6))
        assert h.drain() == ["suppressed"] and h.mailer.sent == []

    def test_a_paused_campaign_cancels_what_reaches_the_sender(self, h: Harness) -> None:
        seed_tenant(h, leads=["ann@corp-x.com"])
        h.planner.tick()
        h.admin.pause_campaign("acme", "spring")
        h.clock.advance(timedelta(minutes=6))
        assert h.drain() == ["cancelled"]
        assert h.records.jobs("acme")[0].status_reason == "campaign paused"

    def test_a_lead_that_replied_gets_no_more(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        h.planner.tick()
        lead = h.records.all(Lead, "acme")[0]
        h.records.replace(lead.model_copy(update={"status": LeadStatus.REPLIED}))
        h.clock.advance(timedelta(minutes=6))
        assert h.drain() == ["cancelled"] and h.mailer.sent == []
        assert job_of(h, email).status_reason == "lead replied"

    def test_no_identity_left_pauses_the_campaign(self, h: Harness) -> None:
        seed_tenant(h, identities=1, leads=["ann@corp-x.com"])
        h.planner.tick()
        h.admin.set_identity_status("acme", "id0", IdentityStatus.BLOCKED, "test")
        h.clock.advance(timedelta(minutes=6))
        assert h.drain() == ["cancelled"]
        assert h.admin.campaigns("acme")[0].status.value == "paused"


class TestWaiting:
    def test_outside_the_window_the_job_waits_without_burning_receives(self, h: Harness) -> None:
        h.clock.set(at(5, 16, 58))
        window = SendWindow(timezone="UTC", start=time(9), end=time(17))
        seed_tenant(h, window=window, leads=["ann@corp-x.com"])
        h.planner.tick()
        h.clock.set(at(5, 17, 5))
        assert h.drain() == ["deferred"]
        [job] = h.records.jobs("acme")
        assert job.status is JobStatus.PLANNED and job.scheduled_at >= at(6, 9)  # parked for the planner
        h.clock.set(job.scheduled_at)
        h.planner.tick()
        h.clock.advance(timedelta(minutes=16))
        assert h.drain() == ["sent"]
        assert h.records.jobs("acme")[0].attempts == 1

    def test_a_full_daily_cap_parks_the_job_until_tomorrow(self, h: Harness) -> None:
        seed_tenant(h, identities=1, cap=2, leads=[f"l{n}@corp-x.com" for n in range(2)])
        h.tick_and_send()
        h.leads.import_csv("acme", b"email\nlate@corp-x.com\n")
        # Simulate a planner that admitted more than the cap allows: the sender is the hard stop.
        h.planner.tick()
        h.clock.advance(timedelta(minutes=6))
        assert len(h.mailer.sent) == 2
        # The identity's day is a rolling 24 hours (as providers and SES count): at midnight its two
        # sends of yesterday morning still count; once they are 24 hours old the third goes.
        h.clock.set(at(6, 0, 5))
        h.tick_and_send(minutes=40)
        assert len(h.mailer.sent) == 2
        h.clock.set(at(6, 10))  # the day window counts in 30-minute buckets: a little past 24 hours
        h.tick_and_send(minutes=40)
        assert len(h.mailer.sent) == 3


class TestRefusals:
    def test_throttling_retries_later_without_counting_an_attempt(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        h.mailer.fail_next(email, MailThrottled("slow down", retry_after=timedelta(seconds=30)))
        assert send_one(h) is Outcome.RETRYING
        job = job_of(h, email)
        assert job.status is JobStatus.QUEUED and job.attempts == 0
        h.clock.advance(timedelta(seconds=31))
        assert h.drain() == ["sent"]

    def test_transient_errors_back_off_then_dead_letter(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        h.mailer.fail_next(email, *[MailTransientError("450 4.3.0 try later")] * 5)
        outcomes = [send_one(h)]
        for _ in range(6):
            h.clock.advance(timedelta(hours=5))
            outcomes += [Outcome(o) for o in h.drain()]
        assert outcomes == [Outcome.RETRYING] * 4 + [Outcome.DEAD_LETTERED]
        job = job_of(h, email)
        assert job.status is JobStatus.DEAD_LETTERED and job.attempts == 5
        assert len(h.queue.dead_letters()) == 1 and h.mailer.sent == []

    def test_dead_letters_can_be_redriven_once_the_cause_is_fixed(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        h.mailer.fail_next(email, *[MailTransientError("boom")] * 5)
        send_one(h)
        for _ in range(6):
            h.clock.advance(timedelta(hours=5))
            h.drain()
        assert h.app.services.dead_letters().redrive() == 1
        assert h.drain() == ["sent"] and job_of(h, email).status is JobStatus.SENT

    def test_a_hard_bounce_at_smtp_time_suppresses_the_recipient(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        h.mailer.fail_next(email, MailRejected("550 5.1.1 user unknown", smtp_code=550, status="5.1.1"))
        assert send_one(h) is Outcome.BOUNCED
        assert job_of(h, email).status is JobStatus.BOUNCED
        assert h.records.suppression_for("acme", email) is not None
        assert h.records.all(Lead, "acme")[0].status is LeadStatus.BOUNCED

    def test_a_sender_block_pauses_the_identity_and_retries_with_another(self, h: Harness) -> None:
        [email] = seed_tenant(h, identities=2, leads=["ann@corp-x.com"])
        h.mailer.fail_next(email, MailRejected("550 5.7.1 likely unsolicited", smtp_code=550))
        assert send_one(h) is Outcome.RETRYING
        # A sender block is about this identity at this provider: it is paused there, not everywhere.
        limiter = h.app.services.limiter()
        paused = [
            i
            for i in h.admin.identities("acme")
            if any("paused_until" in doc for _, doc in limiter.provider_state("acme", i.id))
        ]
        assert len(paused) == 1 and h.records.suppression_for("acme", email) is None
        assert all(i.status is IdentityStatus.ACTIVE for i in h.admin.identities("acme"))
        assert h.drain() == ["sent"]
        assert h.mailer.sent[0].sender.email != paused[0].email

    def test_a_permanent_refusal_fails_the_job(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        h.mailer.fail_next(email, MailRejected("554 Message rejected: content", smtp_code=554))
        assert send_one(h) is Outcome.FAILED

    def test_an_unknown_outcome_is_never_retried(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        h.mailer.fail_next(email, MailOutcomeUnknown("timeout after DATA"))
        assert send_one(h) is Outcome.UNCERTAIN
        assert job_of(h, email).status is JobStatus.UNCERTAIN
        h.clock.advance(timedelta(hours=1))
        h.planner.tick()
        assert h.drain() == [] and h.mailer.sent == []

    def test_sending_paused_holds_the_job_for_an_hour(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        h.mailer.fail_next(email, MailSendingPaused("account sending paused"))
        assert send_one(h) is Outcome.RETRYING
        job = job_of(h, email)
        assert job.status is JobStatus.PLANNED and job.scheduled_at - h.clock.now() >= timedelta(minutes=59)

    def test_a_refused_send_gives_back_its_daily_cap(self, h: Harness) -> None:
        [email] = seed_tenant(h, identities=1, cap=1, leads=["ann@corp-x.com"])
        h.mailer.fail_next(email, MailThrottled("slow"))
        send_one(h)
        h.clock.advance(timedelta(minutes=10))
        assert h.drain() == ["sent"]


class TestDuplicatesAndBadInput:
    def test_a_redelivered_message_of_a_sent_job_sends_nothing(self, h: Harness) -> None:
        seed_tenant(h, leads=["ann@corp-x.com"])
        h.planner.tick()
        h.clock.advance(timedelta(minutes=6))
        [message] = h.queue.receive(1)
        assert h.sender.handle(message).outcome is Outcome.SENT
        assert h.sender.handle(message).outcome is Outcome.SKIPPED  # SQS delivered it twice
        assert len(h.mailer.sent) == 1

    def test_a_duplicate_message_while_another_worker_holds_the_lease_is_left_alone(self, h: Harness) -> None:
        [email] = seed_tenant(h, leads=["ann@corp-x.com"])
        h.planner.tick()
        job = job_of(h, email)
        duplicate = ReceivedMessage(
            message_id="dup",
            receipt="r",
            group="acme",
            receive_count=1,
            body=JobMessage(tenant_id="acme", job_id=job.job_id).dump(),
        )
        h.clock.advance(timedelta(minutes=6))
        inner: list[str] = []
        h.mailer.every = lambda _: inner.append(h.sender.handle(duplicate).outcome.value)
        assert h.drain() == ["sent"]
        assert inner == ["skipped"] and len(h.mailer.sent) == 1

    def test_a_template_missing_a_value_fails_the_job_not_the_batch(self, h: Harness) -> None:
        seed_tenant(h, leads=["ann@corp-x.com", "bob@corp-x.com"])
        template = h.records.get(Template, "acme", "first")
        h.records.replace(template.model_copy(update={"text": "Hi {{nickname}}"}))
        h.records.store.write(h.records.create_op(template.model_copy(update={"id": "unused", "version": 0})))
        outcomes = h.tick_and_send()
        assert outcomes == ["failed", "failed"]
        assert all("nickname" in j.status_reason for j in h.records.jobs("acme"))

    def test_a_malformed_queue_message_goes_to_the_dead_letters(self, h: Harness) -> None:
        seed_tenant(h, leads=[])
        h.queue.send(QueueMessage(body="{not json", group="acme"))
        assert h.drain() == ["dead_lettered"]
        assert "malformed" in h.queue.dead_letters()[0].reason


def test_an_operator_ends_a_provider_pause_before_its_cool_down(h: Harness) -> None:
    [email] = seed_tenant(h, identities=1, leads=["ann@corp-x.com"])
    h.mailer.fail_next(email, MailRejected("550 5.7.1 likely unsolicited", smtp_code=550))
    assert send_one(h) is Outcome.RETRYING
    limiter, guard = h.app.services.limiter(), h.app.services.guard()
    [(provider, doc)] = limiter.provider_state("acme", "id0")
    assert "paused_until" in doc
    h.clock.advance(timedelta(minutes=1))
    assert h.drain() == ["deferred"]  # the only identity is paused there: the job waits
    assert guard.resume_at_provider("acme", "id0", Provider(provider), "operator") is True
    assert "paused_until" not in dict(limiter.provider_state("acme", "id0"))[provider]
    assert guard.resume_at_provider("acme", "id0", Provider(provider), "operator") is False
    assert [e.action for e in h.records.audit("acme")][-1] == "identity.provider_resumed"


def _counting_writes(h: Harness) -> list[list[str]]:
    writes: list[list[str]] = []
    real_write = h.store.write

    def write(*operations):  # type: ignore[no-untyped-def]
        writes.append(sorted(op.sort.split("#")[0] for op in operations))
        return real_write(*operations)

    h.store.write = write  # type: ignore[method-assign]
    return writes


def _bump(h: Harness, sort: str) -> None:
    """Another worker's write of a shared document: its version moves on."""
    item = h.store.get("T#acme", sort)
    assert item is not None
    h.store.write(h.records.state_put("acme", sort, dict(item.data), item.version))


def test_after_a_lost_race_on_the_windows_the_next_send_reads_them_after_the_provider_call(
    h: Harness,
) -> None:
    """Every send of another worker moves the campaign's window while this one is at the provider. The
    first send loses its `sent` write to it once and tries again; the next sends read the windows again
    after the provider call, and their one `sent` write wins the first time."""
    seed_tenant(h, leads=["ann@corp-x.com", "bob@corp-y.com", "cy@corp-z.com"])
    assert send_one(h) is Outcome.SENT  # the windows exist from here on
    h.mailer.every = lambda _: _bump(h, "WIN#campaign#spring")
    writes = _counting_writes(h)
    assert send_one(h) is Outcome.SENT
    sent_write = ["JOB", "TIMER", "TIMER", "WIN", "WIN", "WIN"]
    assert writes.count(sent_write) == 2  # lost once to the other send, then won
    writes.clear()
    assert send_one(h) is Outcome.SENT
    assert writes.count(sent_write) == 1  # read again after the call: won the first time
    assert all(j.status is JobStatus.SENT for j in h.records.jobs("acme") if j.step == 1)


def test_after_a_lost_race_on_the_limiter_the_next_send_reads_its_documents_before_deciding(
    h: Harness,
) -> None:
    """Another worker's send moves the tenant's limiter document right after each message's first
    read. The first message loses its `sending` write and is handled again; the next ones read the
    limiter's documents again just before its decision, and their `sending` write wins the first time."""
    seed_tenant(h, leads=["ann@corp-x.com", "bob@corp-y.com", "cy@corp-z.com"])
    assert send_one(h) is Outcome.SENT  # the limiter's documents exist from here on
    moved: list[bool] = []
    real_get_many = h.store.get_many

    def get_many(keys):  # type: ignore[no-untyped-def]
        found = real_get_many(keys)
        if ("T#acme", "LIM#tenant") in keys and not moved:
            moved.append(True)
            _bump(h, "LIM#tenant")
        return found

    h.store.get_many = get_many  # type: ignore[method-assign]
    writes = _counting_writes(h)
    assert send_one(h) is Outcome.SENT
    assert len([w for w in writes if "JOB" in w and "LIM" in w]) == 2  # lost once to the other, then won
    writes.clear()
    moved.clear()
    assert send_one(h) is Outcome.SENT
    assert len([w for w in writes if "JOB" in w and "LIM" in w]) == 1  # read again first: won at once
    assert all(j.status is JobStatus.SENT for j in h.records.jobs("acme") if j.step == 1)


def test_a_message_that_keeps_losing_races_is_handled_again_not_left_for_the_visibility_timeout(
    h: Harness,
) -> None:
    """Another worker's send lands just before each of the message's `sending` writes, eight times:
    each lost write is tried again on what is read afresh, and the ninth goes out; the message is not
    left to come back after the queue's visibility timeout (the lease)."""
    seed_tenant(h, leads=["ann@corp-x.com", "bob@corp-y.com"])
    assert send_one(h) is Outcome.SENT  # the limiter's documents exist from here on
    attempts: list[list[str]] = []
    real_write = h.store.write

    def write(*operations):  # type: ignore[no-untyped-def]
        if any(op.sort.startswith("JOB#") for op in operations) and any(
            op.sort == "LIM#tenant" for op in operations
        ):
            attempts.append([op.sort for op in operations])
            if len(attempts) <= 8:
                _bump(h, "LIM#tenant")
        return real_write(*operations)

    h.store.write = write  # type: ignore[method-assign]
    assert send_one(h) is Outcome.SENT
    assert len(attempts) == 9  # eight lost, then won
    assert len(h.mailer.sent) == 2


def test_a_window_moved_by_another_send_meanwhile_is_read_again_for_one_sent_write(h: Harness) -> None:
    """Another worker's send moves the campaign's and the tenant's windows while this one is at the
    provider: the `sent` record and this send's windows still go in one write, tried again on the windows
    read afresh (not the record and then one write per window); no send is lost from any window."""
    from outreach_core.policies.autostop import SlidingWindow, job_tag

    [email] = seed_tenant(h, leads=["ann@corp-x.com"])

    def another_send(_: object) -> None:
        for sort in ("WIN#campaign#spring", "WIN#tenant#acme"):
            item = h.store.get("T#acme", sort)
            window = SlidingWindow.model_validate(item.data) if item else SlidingWindow(size=500)
            moved = window.record_send("another-job").model_dump(mode="json")
            h.store.write(h.records.state_put("acme", sort, moved, item.version if item else 0))

    h.mailer.every = another_send
    writes = _counting_writes(h)
    assert send_one(h) is Outcome.SENT
    job = job_of(h, email)
    assert job.status is JobStatus.SENT
    for sort in ("WIN#campaign#spring", "WIN#tenant#acme", f"WIN#identity#{job.sender_id}"):
        window = SlidingWindow.model_validate(h.store.get("T#acme", sort).data)
        assert job_tag(job.job_id) in window.tags
        assert (job_tag("another-job") in window.tags) is ("identity" not in sort)
    # after the provider call: the one write lost to the other send, then the same write won
    assert writes[-2:] == [["JOB", "TIMER", "TIMER", "WIN", "WIN", "WIN"]] * 2
