"""Feedback: events move jobs once, suppress what must be suppressed, and trip the auto-stop rules."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from outreach_core.domain.events import BounceKind, DeliveryEvent, EventType, InboundReply
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import CampaignStatus, IdentityStatus, Lead, LeadStatus
from outreach_core.domain.suppression import SuppressionScope
from outreach_core.records import TimerKind
from tests.harness import Harness, harness, seed_tenant


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


def sent_jobs(h: Harness, n: int = 3, **kw: object) -> list[MessageJob]:
    seed_tenant(h, leads=[f"l{i}@corp-x.com" for i in range(n)], **kw)  # type: ignore[arg-type]
    h.tick_and_send()
    return sorted(h.records.jobs("acme"), key=lambda j: j.job_id)


def event(job: MessageJob, kind: EventType, n: int = 0, *, tags: bool = True, **kw: object) -> DeliveryEvent:
    return DeliveryEvent(
        event_id=f"{job.job_id}-{kind.value}-{n}",
        event_type=kind,
        message_id=str(job.provider_message_id),
        timestamp=job.sent_at or job.updated_at,
        tenant_id="acme" if tags else None,
        job_id=job.job_id if tags else None,
        **kw,  # type: ignore[arg-type]
    )


def email_of(h: Harness, job: MessageJob) -> str:
    return next(lead.email for lead in h.records.all(Lead, "acme") if lead.id == job.lead_id)


def status(h: Harness, job: MessageJob) -> JobStatus:
    found = h.records.job("acme", job.job_id)
    assert found is not None
    return found.status


def test_delivery_then_complaint_walk_the_status_machine(h: Harness) -> None:
    [job, *_] = sent_jobs(h)
    h.feedback.handle([event(job, EventType.DELIVERED)])
    assert status(h, job) is JobStatus.DELIVERED
    h.feedback.handle([event(job, EventType.COMPLAINT, recipient=email_of(h, job), complaint_type="abuse")])
    assert status(h, job) is JobStatus.COMPLAINED


def test_a_hard_bounce_suppresses_in_the_tenant_and_stops_the_lead(h: Harness) -> None:
    [job, *_] = sent_jobs(h)
    email = email_of(h, job)
    [result] = h.feedback.handle(
        [
            event(
                job,
                EventType.BOUNCE,
                recipient=email,
                bounce_kind=BounceKind.HARD,
                bounce_subtype="General",
                status_code="5.1.1",
            )
        ]
    )
    assert result.applied and status(h, job) is JobStatus.BOUNCED
    entry = h.records.suppression_for("acme", email)
    assert (
        entry is not None and entry.scope is SuppressionScope.TENANT and entry.reason.value == "hard_bounce"
    )
    assert h.records.suppressions(SuppressionScope.GLOBAL) == []
    lead = next(lead for lead in h.records.all(Lead, "acme") if lead.id == job.lead_id)
    assert lead.status is LeadStatus.BOUNCED


def test_a_complaint_suppresses_in_the_tenant_and_globally_and_blocks_the_identity(h: Harness) -> None:
    [job, *_] = sent_jobs(h)
    email = email_of(h, job)
    [result] = h.feedback.handle([event(job, EventType.COMPLAINT, recipient=email, complaint_type="abuse")])
    assert {
        e.scope
        for e in (
            h.records.suppressions(SuppressionScope.TENANT, "acme")
            + h.records.suppressions(SuppressionScope.GLOBAL)
        )
    } == set(SuppressionScope)
    assert [a.action for a in result.actions] == ["identity.block"]
    identity = next(i for i in h.admin.identities("acme") if i.id == job.sender_id)
    assert identity.status is IdentityStatus.BLOCKED and "complaint_rate" in identity.status_reason
    notifier = h.app.adapters.log_notifier()  # the log channel behind the rate-limited fan-out
    assert [a.kind for a in notifier.sent] == ["identity.blocked"]


def test_the_same_event_twice_is_applied_once(h: Harness) -> None:
    [job, *_] = sent_jobs(h)
    first = h.feedback.handle([event(job, EventType.DELIVERED)])
    second = h.feedback.handle([event(job, EventType.DELIVERED)])
    assert first[0].applied and not second[0].applied and second[0].detail == "duplicate event"


def test_a_send_event_for_a_job_recorded_as_sent_writes_nothing(h: Harness) -> None:
    [job, *_] = sent_jobs(h)
    writes = h.store.writes
    [result] = h.feedback.handle([event(job, EventType.SENT)])
    assert result.applied and result.detail == "already recorded as sent"
    assert h.store.writes == writes and status(h, job) is JobStatus.SENT


def test_events_without_tags_find_their_job_by_message_id(h: Harness) -> None:
    [job, *_] = sent_jobs(h)
    [result] = h.feedback.handle([event(job, EventType.DELIVERED, tags=False)])
    assert result.applied and status(h, job) is JobStatus.DELIVERED


def test_an_event_for_an_unknown_message_is_reported_not_raised(h: Harness) -> None:
    sent_jobs(h, 1)
    ghost = DeliveryEvent(
        event_id="x", event_type=EventType.DELIVERED, message_id="nope", timestamp=h.clock.now()
    )
    [result] = h.feedback.handle([ghost])
    assert not result.applied and "no job" in result.detail


def test_a_send_event_reconciles_a_job_its_sender_never_recorded(h: Harness) -> None:
    seed_tenant(h, leads=["ann@corp-x.com"], steps=2)
    h.planner.tick()
    h.clock.advance(timedelta(minutes=6))
    h.mailer.every = lambda _: (_ for _ in ()).throw(SystemExit("crash after the provider accepted"))
    [message] = h.queue.receive(1)
    with pytest.raises(SystemExit):
        h.sender.handle(message)
    [job] = h.records.jobs("acme")
    assert job.status is JobStatus.SENDING
    h.clock.advance(h.sender.config.lease + timedelta(seconds=1))
    h.planner.tick()
    assert h.records.jobs("acme")[0].status is JobStatus.UNCERTAIN
    reconciled = DeliveryEvent(
        event_id="send-1",
        event_type=EventType.SENT,
        message_id="ses-123",
        timestamp=h.clock.now(),
        tenant_id="acme",
        job_id=job.job_id,
    )
    h.feedback.handle([reconciled])
    [job] = h.records.jobs("acme")
    assert job.status is JobStatus.SENT and job.provider_message_id == "ses-123"
    [timer] = h.records.timers_due("acme", TimerKind.STEP, h.clock.now() + timedelta(days=3))
    assert timer.step == 2  # the sequence goes on as if the sender had recorded the send


def test_soft_bounces_suppress_only_after_the_policy_count(h: Harness) -> None:
    jobs = sent_jobs(h, 1)
    email = email_of(h, jobs[0])
    for n in range(3):
        h.feedback.handle(
            [
                event(
                    jobs[0],
                    EventType.BOUNCE,
                    n,
                    recipient=email,
                    bounce_kind=BounceKind.SOFT,
                    bounce_subtype="MailboxFull",
                )
            ]
        )
        suppressed = h.records.suppression_for("acme", email)
        assert (suppressed is not None) == (n == 2)


def test_suppression_list_bounces_do_not_count_toward_the_bounce_rate(h: Harness) -> None:
    [job, *_] = sent_jobs(h)
    h.feedback.handle(
        [
            event(
                job,
                EventType.BOUNCE,
                recipient=email_of(h, job),
                bounce_kind=BounceKind.HARD,
                bounce_subtype="OnAccountSuppressionList",
            )
        ]
    )
    window = h.app.services.guard().window(
        "acme", "campaign", "spring", h.app.services.guard().rules.campaign
    )
    assert window.count("b") == 0


def test_a_bounce_storm_pauses_the_campaign_after_the_minimum_sample(h: Harness) -> None:
    jobs = sent_jobs(h, 120, identities=4, cap=100, hourly=6000)
    assert len(jobs) == 120 and all(j.status is JobStatus.SENT for j in jobs)
    paused_after = None
    for n, job in enumerate(jobs):
        h.feedback.handle(
            [
                event(
                    job,
                    EventType.BOUNCE,
                    recipient=email_of(h, job),
                    bounce_kind=BounceKind.HARD,
                    bounce_subtype="General",
                )
            ]
        )
        campaign = h.admin.campaigns("acme")[0]
        if campaign.status is CampaignStatus.PAUSED:
            paused_after = n + 1
            break
    assert paused_after == 7  # 6 of 120 is exactly 5%: the 7th bounce crosses "more than 5%"
    assert "bounce_rate" in h.admin.campaigns("acme")[0].status_reason


def test_replies_stop_the_lead_and_auto_replies_do_not(h: Harness) -> None:
    jobs = sent_jobs(h, 2)
    auto = InboundReply(
        event_id="r1",
        in_reply_to=str(jobs[0].rfc_message_id),
        sender="x",
        auto_reply=True,
        received_at=h.clock.now(),
    )
    real = InboundReply(
        event_id="r2", in_reply_to=str(jobs[1].rfc_message_id), sender="y", received_at=h.clock.now()
    )
    assert h.replies.record(auto) is False
    assert h.replies.record(real) is True
    statuses = {lead.id: lead.status for lead in h.records.all(Lead, "acme")}
    assert statuses[jobs[0].lead_id] is LeadStatus.ACTIVE and statuses[jobs[1].lead_id] is LeadStatus.REPLIED
