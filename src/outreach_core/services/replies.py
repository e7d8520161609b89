"""Stop on reply: a person's reply ends the lead's sequence; an out-of-office only postpones it.

Matching: the reply's In-Reply-To, then its References (newest first), name one of our messages (our
Message-IDs as the recipient saw them: the provider message id is the local part); failing that, a
reply token in the address it was sent to (`reply+<token>@...`, HMAC-signed tenant and lead). Only
inbound mail is read, never our own sent copies: a message from one of the tenant's sender identities
is ignored. Each inbound message is applied once (its event id is claimed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from outreach_core.domain.events import InboundReply, ReplyKind
from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.models import Lead, LeadStatus, SenderIdentity
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.policies.replies import ReplyPolicy, ReplyVerdict, classify
from outreach_core.ports import Clock, ConditionFailed
from outreach_core.records import Records
from outreach_core.rendering.reply_token import verify_reply
from outreach_core.services.audit import AuditTrail
from outreach_core.services.inbox import STOPPED_BY_REPLY, InboxService
from outreach_core.services.sequence import postpone_steps
from outreach_core.services.suppression import SuppressionService

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReplyResult:
    matched: bool
    kind: ReplyKind | None = None
    tenant_id: str = ""
    lead_id: str = ""
    job_id: str = ""
    stopped: bool = False  # the lead's sequence ended
    resume_at: datetime | None = None  # an out-of-office moved the next step to here
    detail: str = ""


def message_id_local_part(message_id: str) -> str:
    return message_id.strip().strip("<>").split("@", 1)[0].strip()


class ReplyService:
    def __init__(
        self,
        records: Records,
        clock: Clock,
        suppression: SuppressionService | None = None,
        secrets: Sequence[str] = (),
        policy: ReplyPolicy | None = None,
        inbox: InboxService | None = None,
    ) -> None:
        self.records = records
        self.inbox = inbox
        self.clock = clock
        self.suppression = suppression or SuppressionService(records)
        self.secrets = [s for s in secrets if s]
        self.policy = policy or ReplyPolicy()
        self.audit = AuditTrail(records)

    def record(self, reply: InboundReply) -> bool:
        """True when the reply stopped a sequence (kept for callers that only count)."""
        return self.handle(reply).stopped

    def handle(self, reply: InboundReply) -> ReplyResult:
        match = self._match(reply)
        if match is None:
            log.info("reply.unmatched", tenant_id=reply.tenant_id)
            return ReplyResult(False, detail="no message of ours")
        tenant_id, lead_id, job = match
        job_id = job.job_id if job else ""
        structlog.contextvars.bind_contextvars(
            tenant_id=tenant_id, campaign_id=job.campaign_id if job else None, job_id=job_id or None
        )
        try:
            return self._apply(reply, tenant_id, lead_id, job)
        finally:
            structlog.contextvars.unbind_contextvars("tenant_id", "campaign_id", "job_id")

    # --- matching ------------------------------------------------------------------------------------

    def _match(self, reply: InboundReply) -> tuple[str, str, MessageJob | None] | None:
        for message_id in (reply.in_reply_to, *reversed(reply.references)):
            local = message_id_local_part(message_id)
            if not local:
                continue
            job = self.records.job_by_message_id(local)
            if job is not None and (reply.tenant_id is None or job.tenant_id == reply.tenant_id):
                return job.tenant_id, job.lead_id, job
        for token in reply.reply_tokens:
            parsed = verify_reply(self.secrets, token)
            if parsed is None or (reply.tenant_id and parsed.tenant_id != reply.tenant_id):
                continue
            sent = [j for j in self.records.lead_jobs(parsed.tenant_id, parsed.lead_id) if j.sent_at]
            latest = max(sent, key=lambda j: (j.sent_at, j.step)) if sent else None
            return parsed.tenant_id, parsed.lead_id, latest
        return None

    def _own(self, tenant_id: str, sender: str) -> bool:
        address = sender.strip().lower()
        return any(i.email.lower() == address for i in self.records.all(SenderIdentity, tenant_id))

    # --- applying ------------------------------------------------------------------------------------

    def _verdict(self, reply: InboundReply) -> ReplyVerdict:
        headers = dict(reply.headers)
        if reply.auto_reply:
            headers.setdefault("auto-submitted", "auto-replied")
        verdict = classify(headers, reply.subject, reply.text, reply.received_at, self.policy)
        if reply.kind is not None and reply.kind is not verdict.kind:
            return ReplyVerdict(reply.kind, "decided by the inbound adapter", verdict.resume_at)
        return verdict

    def _apply(
        self, reply: InboundReply, tenant_id: str, lead_id: str, job: MessageJob | None
    ) -> ReplyResult:
        base = ReplyResult(True, tenant_id=tenant_id, lead_id=lead_id, job_id=job.job_id if job else "")
        if self._own(tenant_id, reply.sender):
            log.info("reply.own_message")
            return replace(base, detail="one of our own messages")
        now = self.clock.now()
        try:
            self.records.store.write(self.records.event_claim(tenant_id, reply.event_id, now))
        except ConditionFailed:
            return replace(base, detail="duplicate")
        verdict = self._verdict(reply)
        details = {
            "campaign": job.campaign_id if job else "",
            "job": base.job_id,
            "kind": verdict.kind.value,
            "payload": reply.payload_ref,
        }
        if verdict.kind is ReplyKind.AUTOMATED:
            log.info("reply.automated", reason=verdict.reason)
            self._file(reply, tenant_id, lead_id, job, verdict.kind, None)
            return replace(base, kind=verdict.kind, detail=verdict.reason)
        if verdict.kind is ReplyKind.AUTO_REPLY:
            until = verdict.resume_at or now + self.policy.auto_reply_pause
            moved = self._postpone(tenant_id, lead_id, until)
            self.audit.record(
                tenant_id, now, "system:replies", "lead.auto_reply", lead_id, verdict.reason,
                until=until.isoformat(), postponed=moved, **details,
            )  # fmt: skip
            log.info("reply.automatic", until=until.isoformat(), postponed=moved)
            self._file(reply, tenant_id, lead_id, job, verdict.kind, until)
            return replace(base, kind=verdict.kind, resume_at=until, detail=verdict.reason)
        lead = self.records.find(Lead, tenant_id, lead_id)
        if lead is None:
            return replace(base, kind=verdict.kind, detail="the lead is gone (erased)")
        if verdict.kind is ReplyKind.UNSUBSCRIBE:
            self.suppression.suppress(
                tenant_id,
                lead.email,
                SuppressionReason.UNSUBSCRIBE,
                source=f"reply:{reply.event_id}",
                at=now,
                actor="recipient:reply",
            )
        else:
            self._mark_replied(tenant_id, lead_id)
        cancelled = self.suppression.cancel_open_jobs(tenant_id, lead_id, STOPPED_BY_REPLY, now)
        self.audit.record(
            tenant_id, now, "system:replies", "lead.replied", lead_id, verdict.reason,
            cancelled=cancelled, **details,
        )  # fmt: skip
        log.info("reply.recorded", kind=verdict.kind.value, cancelled=cancelled)
        self._file(reply, tenant_id, lead_id, job, verdict.kind, None)
        return replace(base, kind=verdict.kind, stopped=True, detail=verdict.reason)

    def _file(
        self,
        reply: InboundReply,
        tenant_id: str,
        lead_id: str,
        job: MessageJob | None,
        kind: ReplyKind,
        until: datetime | None,
    ) -> None:
        if self.inbox is not None:
            self.inbox.file_reply(reply, tenant_id, lead_id, job, kind, until)

    def _mark_replied(self, tenant_id: str, lead_id: str) -> None:
        for _ in range(3):
            lead = self.records.find(Lead, tenant_id, lead_id)
            if lead is None or lead.status is not LeadStatus.ACTIVE:
                return
            try:
                self.records.replace(lead.model_copy(update={"status": LeadStatus.REPLIED}))
                return
            except ConditionFailed:
                continue

    def _postpone(self, tenant_id: str, lead_id: str, until: datetime) -> int:
        return postpone_steps(self.records, tenant_id, lead_id, until)
