"""Over SMTP with a real dovecot: replies, out-of-office and bounce reports read from the identities'
mailboxes go through the same core paths as SES's events (issue 14's first acceptance item)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.imap_poller import cursor_sort
from entrypoints.container import imap_poller
from outreach_core.domain.inbox import InboxCategory, InboxMessage
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import LeadStatus, SenderIdentity
from outreach_core.domain.suppression import SuppressionReason, SuppressionScope
from outreach_core.ports import Delete
from outreach_core.records import TimerKind, tenant_partition
from tests.imap_server import Dovecot, dovecot
from tests.mail_world import IMAP_USERS, TENANT, MailWorld, mail_world


@pytest.fixture
def imap() -> Iterator[Dovecot]:
    with dovecot(IMAP_USERS) as server:
        yield server


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, imap: Dovecot) -> Iterator[MailWorld]:
    with mail_world(tmp_path, monkeypatch, imap) as w:
        assert w.h.tick_and_send().count("sent") == 5
        yield w


def step_timer_at(world: MailWorld, lead: str, step: int) -> datetime | None:
    job_id = world.job(lead).job_id.rsplit("_", 1)[0] + f"_{step}"
    timers = world.h.records.timers_due(TENANT, TimerKind.STEP, world.h.clock.now() + timedelta(days=400))
    return next((t.at for t in timers if t.job_id == job_id), None)


def snapshot(world: MailWorld) -> dict[str, object]:
    """Everything a message read twice could change: kept for the restart checks."""
    records = world.h.records
    return {
        "leads": sorted((lead, world.lead(lead).status.value) for lead in world.leads),
        "jobs": sorted((j.job_id, j.status.value) for j in records.jobs(TENANT)),
        "audit": len(records.audit(TENANT)),
        "inbox": len(records.all(InboxMessage, TENANT)),
        "suppressed": sorted(e.email_hash for e in records.suppressions(SuppressionScope.TENANT, TENANT)),
        "timers": sorted(
            (t.job_id, t.at.isoformat())
            for t in records.timers_due(TENANT, TimerKind.STEP, world.h.clock.now() + timedelta(days=400))
        ),
        "campaign_window": world.h.app.services.guard()
        .window(TENANT, "campaign", "spring", world.h.app.services.guard().rules.campaign)
        .outcomes,
    }


def test_a_reply_in_the_mailbox_stops_the_sequence_within_one_poll(world: MailWorld) -> None:
    ann, others = world.leads[0], world.leads[1:]
    world.deliver(ann, world.reply(ann, "Thanks, this looks interesting. Can we talk on Thursday?"))
    report = world.poll()
    assert (report.fetched, report.replies, report.errors) == (1, 1, [])
    assert world.lead(ann).status is LeadStatus.REPLIED
    [entry] = world.h.records.all(InboxMessage, TENANT)
    assert (entry.category, entry.lead_id, entry.job_id) == (
        InboxCategory.INTERESTED,
        world.lead(ann).id,
        world.job(ann).job_id,
    )
    outcomes = world.later(days=2)
    assert outcomes.count("sent") == len(others)  # step 2 for everyone else
    assert all(world.job(lead, 2).status is JobStatus.SENT for lead in others)
    assert not [
        j
        for j in world.h.records.jobs(TENANT)
        if j.lead_id == world.lead(ann).id and j.step == 2 and j.status is JobStatus.SENT
    ]
    # read-only: the person who also reads this mailbox still sees the reply as unread
    flags = world.imap.flags(world.identity_email(world.sender_of(ann)))
    assert flags and all(b"\\Seen" not in f for f in flags)


def test_an_out_of_office_postpones_the_next_step_to_its_return_date(world: MailWorld) -> None:
    bob = world.leads[1]
    back = (world.h.clock.now() + timedelta(days=9)).date()
    due_before = step_timer_at(world, bob, 2)
    assert due_before is not None and due_before.date() < back
    text = f"I am out of the office until {back:%B} {back.day}, {back.year} with limited access to email."
    world.deliver(
        bob,
        world.reply(bob, text, subject="Automatic reply: Hello", headers="Auto-Submitted: auto-replied\r\n"),
    )
    assert world.poll().replies == 1
    assert world.lead(bob).status is LeadStatus.ACTIVE
    assert step_timer_at(world, bob, 2) == datetime.combine(
        back, datetime.min.time(), tzinfo=UTC
    ) + timedelta(days=1)
    [entry] = world.h.records.all(InboxMessage, TENANT)
    assert entry.category is InboxCategory.OUT_OF_OFFICE and entry.return_date is not None
    world.later(days=2)
    assert not any(j.step == 2 for j in world.h.records.lead_jobs(TENANT, world.lead(bob).id))
    world.h.clock.set(datetime.combine(back, datetime.min.time(), tzinfo=UTC) + timedelta(days=1, minutes=1))
    world.h.tick_and_send()
    assert world.job(bob, 2).status is JobStatus.SENT


def test_a_dsn_hard_bounce_suppresses_and_counts_toward_auto_stop(world: MailWorld) -> None:
    cat = world.leads[2]
    guard = world.h.app.services.guard()
    before = guard.window(TENANT, "campaign", "spring", guard.rules.campaign).count("b")
    world.deliver(cat, world.bounce("postfix_rfc3464", cat))
    report = world.poll()
    assert (report.bounces, report.replies) == (1, 0)
    assert world.job(cat).status is JobStatus.BOUNCED
    entry = world.h.records.suppression_for(TENANT, cat)
    assert entry is not None and entry.reason is SuppressionReason.HARD_BOUNCE
    assert world.lead(cat).status is LeadStatus.BOUNCED
    assert guard.window(TENANT, "campaign", "spring", guard.rules.campaign).count("b") == before + 1
    [filed] = world.h.records.all(InboxMessage, TENANT)
    assert (
        filed.category is InboxCategory.BOUNCE
        and "***@" in filed.category_reason
        and cat not in filed.category_reason
    )


def test_a_non_standard_bounce_and_a_delay_notice_are_read_too(world: MailWorld) -> None:
    dan, eve = world.leads[3], world.leads[4]
    world.deliver(dan, world.bounce("exim_text", dan))
    world.deliver(eve, world.bounce("postfix_delayed", eve))
    report = world.poll()
    assert report.bounces == 2
    assert world.job(dan).status is JobStatus.BOUNCED
    assert world.h.records.suppression_for(TENANT, dan) is not None
    assert world.job(eve).status is JobStatus.SENT  # a delay is never a bounce
    assert world.h.records.suppression_for(TENANT, eve) is None


def test_our_own_copies_change_nothing_and_the_sent_folder_is_never_read(world: MailWorld) -> None:
    ann = world.leads[0]
    before = snapshot(world)
    world.deliver(ann, world.sent_copy(ann), folder="Sent")  # the identity's Sent folder
    world.deliver(ann, world.sent_copy(ann))  # and a copy in the INBOX (Bcc to self)
    report = world.poll()
    assert (report.fetched, report.replies, report.bounces, report.ignored) == (1, 0, 0, 1)
    assert snapshot(world) == before
    # a mailbox pointed at the Sent folder is refused, not read
    records = world.h.records
    identity = records.get(SenderIdentity, TENANT, f"id{world.sender_of(ann)}")
    assert identity.imap is not None
    sent = identity.model_copy(update={"imap": identity.imap.model_copy(update={"folder": "Sent"})})
    refused = world.poller.poll(sent)
    assert refused.fetched == 0 and "Sent" in refused.errors[0] and "only incoming mail" in refused.errors[0]


def test_restarting_the_poller_applies_nothing_twice(world: MailWorld) -> None:
    ann, bob, cat = world.leads[:3]
    world.deliver(ann, world.reply(ann, "Please remove me from your list."))
    world.deliver(bob, world.reply(bob, "Not interested, thanks."))
    world.deliver(cat, world.bounce("gmail_rfc3464", cat))
    first = world.poll()
    assert (first.fetched, first.replies, first.bounces) == (3, 2, 1)
    applied = snapshot(world)
    assert world.h.records.suppression_for(TENANT, ann) is not None  # unsubscribe by reply
    # a new process: a fresh container on the same store reads nothing new
    again = imap_poller(world.h.app)
    assert again.poll_all().fetched == 0
    # a crash before the seen-state was written: everything is read again, and nothing applied twice
    for n in (0, 1):
        item = world.h.store.get(tenant_partition(TENANT), cursor_sort(f"id{n}"))
        if item is not None:
            world.h.store.write(Delete(partition=item.partition, sort=item.sort))
    reread = again.poll_all()
    assert (reread.fetched, reread.replies, reread.bounces) == (3, 0, 0)
    assert snapshot(world) == applied
