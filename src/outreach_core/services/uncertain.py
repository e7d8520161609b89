"""Jobs that may or may not have gone out (`uncertain`): listed for a person, never resent by a worker.

A person who has checked (the provider's console, the recipient, the archive) resolves each one:
`sent` records the send and lets the sequence go on; `failed` closes it. Either way it is audited.
A provider event that arrives later still reconciles an uncertain job by itself (FeedbackService).
"""

from __future__ import annotations

from enum import StrEnum

import structlog

from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import Campaign, Lead, Template
from outreach_core.ports import Clock
from outreach_core.records import NotFoundError, Records
from outreach_core.rendering.compose import render_subject
from outreach_core.rendering.templating import TemplateError
from outreach_core.services.audit import AuditTrail
from outreach_core.services.sequence import next_step_timer

log = structlog.get_logger(__name__)


class Resolution(StrEnum):
    SENT = "sent"
    FAILED = "failed"


class UncertainJobs:
    def __init__(self, records: Records, clock: Clock) -> None:
        self.records = records
        self.clock = clock
        self.audit = AuditTrail(records)

    def list(self, tenant_id: str | None = None) -> list[MessageJob]:
        tenants = [tenant_id] if tenant_id else [t.id for t in self.records.tenants()]
        jobs = [j for t in tenants for j in self.records.jobs(t) if j.status is JobStatus.UNCERTAIN]
        return sorted(jobs, key=lambda j: (j.updated_at, j.tenant_id, j.job_id))

    def resolve(
        self, tenant_id: str, job_id: str, resolution: Resolution, *, actor: str, reason: str
    ) -> MessageJob:
        """Record a person's finding. Raises NotFoundError, or ValueError when the job is not uncertain
        (a late provider event may have settled it meanwhile: then there is nothing to decide)."""
        if not reason.strip():
            raise ValueError("say why (what you checked): the reason goes into the audit log")
        job = self.records.job(tenant_id, job_id)
        if job is None:
            raise NotFoundError(f"tenant {tenant_id!r} has no job {job_id!r}")
        if job.status is not JobStatus.UNCERTAIN:
            raise ValueError(f"job {job_id} is {job.status.value}, not uncertain: nothing to resolve")
        now = self.clock.now()
        note = f"resolved by {actor}: {reason.strip()}"[:500]
        extra = []
        if resolution is Resolution.SENT:
            sent_at = job.sent_at or job.updated_at
            updated = job.moved(
                JobStatus.SENT,
                now,
                note,
                sent_at=sent_at,
                lease_until=None,
                subject=job.subject or self._subject(job),
            )
            campaign = self.records.find(Campaign, tenant_id, job.campaign_id)
            timer = next_step_timer(campaign, updated, sent_at) if campaign else None
            if timer is not None:
                extra.append(self.records.timer_put(timer.model_copy(update={"at": max(timer.at, now)})))
        else:
            updated = job.moved(JobStatus.FAILED, now, note, lease_until=None)
        saved = self.records.save_job(updated, *extra)
        self.audit.record(
            tenant_id, now, actor, f"job.resolve.{resolution.value}", job_id, reason.strip(),
            campaign=job.campaign_id, lead=job.lead_id, was=job.status_reason[:200],
        )  # fmt: skip
        log.info("job.resolved", tenant_id=tenant_id, job_id=job_id, resolution=resolution.value)
        return saved

    def _subject(self, job: MessageJob) -> str:
        """The subject that went out (rendering is deterministic), for follow-ups to carry on."""
        template = self.records.find(Template, job.tenant_id, job.template_id)
        lead = self.records.find(Lead, job.tenant_id, job.lead_id)
        if template is None or lead is None or not template.subject.strip():
            return ""
        try:
            return render_subject(template, lead, job.idempotency_key)
        except TemplateError:
            return ""
