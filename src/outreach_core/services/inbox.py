"""The unified inbox: file what came back, list it, and let a person re-categorise it.

The reply rules already acted when a message was filed (stop, postpone, suppress). Re-categorising
applies the new category's effect: to stop, the lead is marked replied and its open jobs cancelled;
to suppress, the address is suppressed; to postpone (or to do nothing), a sequence a reply stopped is
picked up again: the lead is active again, the jobs the reply cancelled reopen at the return date, and
later steps wait for it. Suppression is never lifted here (`outreach suppress remove` does that,
audited), and a lead that is not `replied` is not reactivated.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import structlog

from outreach_core.domain.events import InboundReply, ReplyKind
from outreach_core.domain.inbox import InboxCategory, InboxEffect, InboxMessage
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import Campaign, CampaignStatus, Lead, LeadStatus
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.policies.inbox import categorise, effect_of
from outreach_core.ports import Clock, ConditionFailed
from outreach_core.records import NotFoundError, Records, Timer, TimerKind, stamp
from outreach_core.services.audit import AuditTrail
from outreach_core.services.sequence import pending_timers, postpone_steps
from outreach_core.services.suppression import SuppressionService
from outreach_core.services.webhooks import WebhookPublisher

log = structlog.get_logger(__name__)

STOPPED_BY_REPLY = "the lead replied"


def inbox_id(received_at: datetime, event_id: str) -> str:
    return f"{stamp(received_at)}-{hashlib.sha256(event_id.encode()).hexdigest()[:12]}"


class InboxService:
    def __init__(
        self,
        records: Records,
        clock: Clock,
        suppression: SuppressionService,
        webhooks: WebhookPublisher | None = None,
    ) -> None:
        self.records = records
        self.clock = clock
        self.suppression = suppression
        self.webhooks = webhooks
        self.audit = AuditTrail(records)

    # --- filing --------------------------------------------------------------------------------------

    def file_reply(
        self,
        reply: InboundReply,
        tenant_id: str,
        lead_id: str,
        job: MessageJob | None,
        kind: ReplyKind,
        return_date: datetime | None,
    ) -> InboxMessage:
        found = categorise(kind, reply.subject, reply.text)
        message = InboxMessage(
            tenant_id=tenant_id,
            id=inbox_id(reply.received_at, reply.event_id),
            event_id=reply.event_id,
            received_at=reply.received_at,
            source=f"imap:{reply.mailbox}" if reply.mailbox else "inbound",
            identity_id=reply.mailbox or (job.sender_id or "" if job else ""),
            campaign_id=job.campaign_id if job else "",
            lead_id=lead_id,
            job_id=job.job_id if job else "",
            sender=reply.sender,
            subject=reply.subject[:300],
            kind=kind,
            category=found.category,
            category_reason=found.reason,
            return_date=return_date if found.category is InboxCategory.OUT_OF_OFFICE else None,
            handled=kind is ReplyKind.AUTOMATED,
            payload_ref=reply.payload_ref,
        )
        self._store(message)
        if kind is not ReplyKind.AUTOMATED:
            self._publish("reply.received", message, message.event_id)
        if found.category is InboxCategory.INTERESTED:
            self._publish("lead.interested", message, message.lead_id)
        return message

    def file_bounce(
        self,
        *,
        tenant_id: str,
        event_id: str,
        received_at: datetime,
        job: MessageJob,
        mailbox: str,
        sender: str,
        subject: str,
        reason: str,
        payload_ref: str,
    ) -> InboxMessage:
        message = InboxMessage(
            tenant_id=tenant_id,
            id=inbox_id(received_at, event_id),
            event_id=event_id,
            received_at=received_at,
            source=f"imap:{mailbox}" if mailbox else "inbound",
            identity_id=mailbox or job.sender_id or "",
            campaign_id=job.campaign_id,
            lead_id=job.lead_id,
            job_id=job.job_id,
            sender=sender,
            subject=subject[:300],
            kind=None,
            category=InboxCategory.BOUNCE,
            category_reason=reason[:300],
            handled=True,
            payload_ref=payload_ref,
        )
        self._store(message)
        return message

    def _store(self, message: InboxMessage) -> None:
        try:
            self.records.create(message)
        except ValueError:  # AlreadyExistsError: the same message filed again (a redelivery)
            return
        log.info("inbox.filed", category=message.category.value, source=message.source)

    def _publish(self, event_type: str, message: InboxMessage, key: str) -> None:
        if self.webhooks is None:
            return
        data: dict[str, Any] = {
            "inbox_id": message.id,
            "lead_id": message.lead_id,
            "lead_email": self._lead_email(message),
            "campaign_id": message.campaign_id,
            "identity_id": message.identity_id,
            "category": message.category.value,
            "subject": message.subject,
            "received_at": message.received_at.isoformat(),
        }
        if message.return_date:
            data["return_date"] = message.return_date.isoformat()
        try:
            self.webhooks.publish(message.tenant_id, event_type, key, data)
        except Exception:  # a webhook must never stop the inbox
            log.exception("inbox.webhook_failed", event_type=event_type)

    def _lead_email(self, message: InboxMessage) -> str:
        lead = self.records.find(Lead, message.tenant_id, message.lead_id) if message.lead_id else None
        return lead.email if lead else ""

    # --- reading -------------------------------------------------------------------------------------

    def list(
        self,
        tenant_id: str,
        *,
        campaign_id: str | None = None,
        category: InboxCategory | None = None,
        unhandled: bool = False,
        limit: int = 100,
    ) -> list[InboxMessage]:
        self.records.tenant(tenant_id)
        rows = [
            m
            for m in self.records.all(InboxMessage, tenant_id)
            if (campaign_id is None or m.campaign_id == campaign_id)
            and (category is None or m.category is category)
            and not (unhandled and m.handled)
        ]
        return rows[-limit:][::-1]  # newest first

    def get(self, tenant_id: str, message_id: str) -> InboxMessage:
        return self.records.get(InboxMessage, tenant_id, message_id)

    # --- a person decides ----------------------------------------------------------------------------

    def mark_handled(self, tenant_id: str, message_id: str, actor: str, handled: bool = True) -> InboxMessage:
        message = self.get(tenant_id, message_id)
        updated = self.records.replace(message.model_copy(update={"handled": handled}))
        self.audit.record(tenant_id, self.clock.now(), actor, "inbox.handled", message_id, str(handled))
        return updated

    def categorise(
        self,
        tenant_id: str,
        message_id: str,
        category: InboxCategory,
        actor: str,
        *,
        return_date: datetime | None = None,
        reason: str = "",
    ) -> tuple[InboxMessage, str]:
        """Re-categorise; returns the message and what the new category did to the lead."""
        message = self.get(tenant_id, message_id)
        if category is InboxCategory.BOUNCE and message.category is not InboxCategory.BOUNCE:
            raise ValueError("bounce: only a delivery report is a bounce (suppress the address instead)")
        now = self.clock.now()
        before = effect_of(message.category, message.kind)
        after = effect_of(category, message.kind)
        if category is InboxCategory.OUT_OF_OFFICE:
            return_date = return_date or message.return_date or now
        done = self._apply(message, category, before, after, return_date, now, actor)
        updated = self.records.replace(
            message.model_copy(
                update={
                    "category": category,
                    "category_reason": reason or f"set by {actor}",
                    "categorised_by": actor,
                    "return_date": return_date if category is InboxCategory.OUT_OF_OFFICE else None,
                    "handled": True,
                }
            )
        )
        self.audit.record(
            tenant_id,
            now,
            actor,
            "inbox.categorise",
            message_id,
            reason or "",
            before=message.category.value,
            after=category.value,
            effect=done,
            lead=message.lead_id,
        )
        if category is InboxCategory.INTERESTED and message.category is not InboxCategory.INTERESTED:
            self._publish("lead.interested", updated, updated.lead_id)
        return updated, done

    def _apply(
        self,
        message: InboxMessage,
        category: InboxCategory,
        before: InboxEffect,
        after: InboxEffect,
        until: datetime | None,
        now: datetime,
        actor: str,
    ) -> str:
        lead = self.records.find(Lead, message.tenant_id, message.lead_id) if message.lead_id else None
        if lead is None:
            return "no lead (erased, or not one of ours)"
        if after is InboxEffect.SUPPRESS:
            self.suppression.suppress(
                message.tenant_id,
                lead.email,
                SuppressionReason.UNSUBSCRIBE,
                source=f"inbox:{message.id}",
                at=now,
                actor=actor,
            )
            self.suppression.cancel_open_jobs(message.tenant_id, lead.id, STOPPED_BY_REPLY, now)
            return "suppressed"
        if after is InboxEffect.STOP:
            if lead.status is LeadStatus.ACTIVE:
                self.records.replace(lead.model_copy(update={"status": LeadStatus.REPLIED}))
            cancelled = self.suppression.cancel_open_jobs(message.tenant_id, lead.id, STOPPED_BY_REPLY, now)
            return f"sequence stopped ({cancelled} open job(s) cancelled)"
        if lead.status not in (LeadStatus.ACTIVE, LeadStatus.REPLIED) or self.records.suppression_for(
            message.tenant_id, lead.email
        ):
            return (
                f"nothing: the lead is {lead.status.value} (`outreach suppress remove` lifts a suppression)"
            )
        resume_at = max(until or now, now)
        reopened = self._resume(lead, resume_at) if lead.status is LeadStatus.REPLIED else 0
        moved = postpone_steps(self.records, message.tenant_id, lead.id, resume_at)
        return (
            f"sequence goes on from {resume_at:%Y-%m-%d %H:%M} "
            f"({reopened} job(s) reopened, {moved} step(s) moved)"
        )

    def _resume(self, lead: Lead, at: datetime) -> int:
        """A reply stopped this lead's sequence and a person says it should not have: pick it up again."""
        try:
            self.records.replace(lead.model_copy(update={"status": LeadStatus.ACTIVE}))
        except ConditionFailed:
            return 0
        jobs = self.records.lead_jobs(lead.tenant_id, lead.id)
        reopened: set[str] = set()
        for job in jobs:
            if job.status is JobStatus.CANCELLED and job.status_reason == STOPPED_BY_REPLY:
                wake = Timer(
                    tenant_id=job.tenant_id,
                    at=at,
                    kind=TimerKind.WAKE,
                    job_id=job.job_id,
                    campaign_id=job.campaign_id,
                    lead_id=job.lead_id,
                    step=job.step,
                )
                self.records.save_job(
                    job.moved(JobStatus.PLANNED, at, "re-categorised"), self.records.timer_put(wake)
                )
                reopened.add(job.campaign_id)
        by_campaign: dict[str, list[MessageJob]] = {}
        for job in jobs:
            by_campaign.setdefault(job.campaign_id, []).append(job)
        fresh = lead.model_copy(update={"status": LeadStatus.ACTIVE})
        for campaign_id, mine in by_campaign.items():
            if campaign_id in reopened:
                continue  # the reopened job's send schedules what follows
            try:
                campaign = self.records.get(Campaign, lead.tenant_id, campaign_id)
            except NotFoundError:
                continue
            if campaign.status is not CampaignStatus.RUNNING:
                continue
            for timer in pending_timers(campaign, [fresh], mine, at):
                self.records.store.write(self.records.timer_put(timer))
        return sum(1 for j in jobs if j.status is JobStatus.CANCELLED and j.status_reason == STOPPED_BY_REPLY)
