"""The unified inbox: categories by the rules (an English and Russian corpus), what each category does,
and re-categorising by a person (audited; stop, postpone, suppress; never un-suppress)."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from outreach_core.domain.events import InboundReply, ReplyKind
from outreach_core.domain.inbox import InboxCategory, InboxEffect, InboxMessage
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import LeadStatus
from outreach_core.policies.inbox import categorise, effect_of
from outreach_core.policies.replies import classify
from outreach_core.records import TimerKind
from tests.harness import Harness, harness, seed_tenant

CORPUS = tomllib.loads(
    (Path(__file__).resolve().parents[1] / "corpus" / "inbox" / "replies.toml").read_text()
)
TENANT = "acme"


@pytest.mark.parametrize("case", CORPUS["reply"], ids=lambda c: c["text"][:40])
def test_each_reply_of_the_corpus_gets_its_category(case: dict[str, str]) -> None:
    from datetime import UTC, datetime

    kind = classify({}, "Re: Hello", case["text"], datetime(2026, 1, 6, tzinfo=UTC)).kind
    assert kind.value == case.get("kind", "human") or case.get("kind") == "automated"
    found = categorise(ReplyKind(case.get("kind", kind.value)), "Re: Hello", case["text"])
    assert found.category.value == case["category"], found


def test_each_category_has_one_effect() -> None:
    assert effect_of(InboxCategory.UNSUBSCRIBE, ReplyKind.HUMAN) is InboxEffect.SUPPRESS
    assert effect_of(InboxCategory.BOUNCE, None) is InboxEffect.SUPPRESS
    assert effect_of(InboxCategory.OUT_OF_OFFICE, ReplyKind.AUTO_REPLY) is InboxEffect.POSTPONE
    for category in (InboxCategory.INTERESTED, InboxCategory.NOT_INTERESTED, InboxCategory.WRONG_PERSON):
        assert effect_of(category, ReplyKind.HUMAN) is InboxEffect.STOP
    assert effect_of(InboxCategory.OTHER, ReplyKind.HUMAN) is InboxEffect.STOP
    assert effect_of(InboxCategory.OTHER, ReplyKind.AUTOMATED) is InboxEffect.NONE


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    world = harness(tmp_path)
    seed_tenant(world, leads=["ann@example-corp.com", "bob@example-corp.com"])
    world.tick_and_send()
    return world


def reply(h: Harness, email: str, text: str, subject: str = "Re: Hello", **headers: str) -> InboxMessage:
    job = next(j for j in h.records.jobs(TENANT) if j.step == 1 and _email(h, j.lead_id) == email)
    h.replies.handle(
        InboundReply(
            event_id=f"r-{email}-{text[:10]}",
            tenant_id=TENANT,
            in_reply_to=job.rfc_message_id or "",
            sender=email,
            received_at=h.clock.now(),
            subject=subject,
            text=text,
            headers=headers,
        )
    )
    return h.app.services.inbox().list(TENANT)[0]


def _email(h: Harness, lead_id: str) -> str:
    from outreach_core.domain.models import Lead

    return h.records.get(Lead, TENANT, lead_id).email


def lead_status(h: Harness, email: str) -> LeadStatus:
    from outreach_core.domain.ids import lead_id_for
    from outreach_core.domain.models import Lead

    return h.records.get(Lead, TENANT, lead_id_for(TENANT, email)).status


def test_recategorising_a_reply_the_rules_misread_as_a_person_picks_the_sequence_up_again(h: Harness) -> None:
    message = reply(h, "ann@example-corp.com", "Back on the 20th, will read it then.")
    assert (
        message.category is InboxCategory.OTHER
        and lead_status(h, "ann@example-corp.com") is LeadStatus.REPLIED
    )
    back = h.clock.now() + timedelta(days=6)
    updated, effect = h.app.services.inbox().categorise(
        TENANT, message.id, InboxCategory.OUT_OF_OFFICE, "operator:kim", return_date=back, reason="an OOO"
    )
    assert updated.category is InboxCategory.OUT_OF_OFFICE and updated.categorised_by == "operator:kim"
    assert "sequence goes on" in effect
    assert lead_status(h, "ann@example-corp.com") is LeadStatus.ACTIVE
    timers = h.records.timers_due(TENANT, TimerKind.STEP, h.clock.now() + timedelta(days=30))
    ann_steps = [t for t in timers if _email(h, t.lead_id) == "ann@example-corp.com"]
    assert ann_steps and all(t.at >= back for t in ann_steps)
    [entry] = [a for a in h.records.audit(TENANT) if a.action == "inbox.categorise"]
    assert (entry.actor, entry.details["before"], entry.details["after"]) == (
        "operator:kim",
        "other",
        "out_of_office",
    )
    h.clock.set(back + timedelta(minutes=5))
    h.tick_and_send()
    step2 = [
        j for j in h.records.jobs(TENANT) if j.step == 2 and _email(h, j.lead_id) == "ann@example-corp.com"
    ]
    assert step2 and step2[0].status is JobStatus.SENT


def test_recategorising_an_out_of_office_as_interested_stops_and_as_unsubscribe_suppresses(
    h: Harness,
) -> None:
    ooo = reply(h, "bob@example-corp.com", "I am out of the office until Monday.", subject="Out of office")
    assert (
        ooo.category is InboxCategory.OUT_OF_OFFICE
        and lead_status(h, "bob@example-corp.com") is LeadStatus.ACTIVE
    )
    _, effect = h.app.services.inbox().categorise(TENANT, ooo.id, InboxCategory.INTERESTED, "operator")
    assert (
        effect.startswith("sequence stopped") and lead_status(h, "bob@example-corp.com") is LeadStatus.REPLIED
    )
    _, effect = h.app.services.inbox().categorise(TENANT, ooo.id, InboxCategory.UNSUBSCRIBE, "operator")
    assert effect == "suppressed" and h.records.suppression_for(TENANT, "bob@example-corp.com") is not None
    # and a person cannot un-suppress by re-categorising
    _, effect = h.app.services.inbox().categorise(TENANT, ooo.id, InboxCategory.OUT_OF_OFFICE, "operator")
    assert (
        effect.startswith("nothing") and h.records.suppression_for(TENANT, "bob@example-corp.com") is not None
    )


def test_inbox_filters_and_handled(h: Harness) -> None:
    reply(h, "ann@example-corp.com", "Sounds good, let's talk.")
    reply(h, "bob@example-corp.com", "Not interested.")
    inbox = h.app.services.inbox()
    assert [m.category for m in inbox.list(TENANT, category=InboxCategory.INTERESTED)] == [
        InboxCategory.INTERESTED
    ]
    assert len(inbox.list(TENANT, unhandled=True)) == 2
    first = inbox.list(TENANT)[0]
    inbox.mark_handled(TENANT, first.id, "operator")
    assert [m.id for m in inbox.list(TENANT, unhandled=True)] != [first.id] and len(
        inbox.list(TENANT, unhandled=True)
    ) == 1
    assert inbox.list(TENANT, campaign_id="spring") and not inbox.list(TENANT, campaign_id="other")
    with pytest.raises(ValueError, match="only a delivery report"):
        inbox.categorise(TENANT, first.id, InboxCategory.BOUNCE, "operator")


def test_inbox_show_finds_a_reply_that_came_inside_an_sns_notification(h: Harness) -> None:
    import json as _json

    from entrypoints.cli.mailboxes import _raw_message

    job = next(
        j for j in h.records.jobs(TENANT) if j.step == 1 and _email(h, j.lead_id) == "ann@example-corp.com"
    )
    raw = (
        f"From: ann@example-corp.com\r\nTo: rep0@acme-mail.com\r\nSubject: Re: Hello\r\n"
        f"Date: Mon, 05 Jan 2026 10:00:00 +0000\r\nMessage-ID: <sns-1@example-corp.com>\r\n"
        f"In-Reply-To: {job.rfc_message_id}\r\n\r\nTell me more, please.\r\n"
    )
    notification = {
        "notificationType": "Received",
        "receipt": {"timestamp": "2026-01-05T10:00:00.000Z", "recipients": ["rep0@acme-mail.com"],
                    "action": {"type": "SNS", "encoding": "UTF8"}},
        "mail": {"messageId": "ses-inbound-1"},
        "content": raw,
    }  # fmt: skip
    assert h.app.services.ingestor().ingest([_json.dumps(notification)]).replies == 1
    [entry] = h.app.services.inbox().list(TENANT)
    assert entry.category is InboxCategory.INTERESTED and "#" in entry.payload_ref
    found = _raw_message(h.app, entry.payload_ref)
    assert found is not None and b"Tell me more, please." in found
    assert _raw_message(h.app, "s3://elsewhere/key") is None
