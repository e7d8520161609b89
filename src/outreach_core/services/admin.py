"""Admin use cases: tenants, directions, identities, templates and campaigns, and their life cycle."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import structlog

from outreach_core.domain.addresses import AddressError, canonical_email, is_single_line
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import (
    MAX_STEP_DELAY,
    Campaign,
    CampaignStatus,
    CampaignStep,
    Direction,
    IdentityStatus,
    Lead,
    SenderIdentity,
    Template,
    Tenant,
)
from outreach_core.ports import Clock
from outreach_core.records import Records, Timer, TimerKind
from outreach_core.rendering.reply_token import PLACEHOLDER
from outreach_core.rendering.templating import parse
from outreach_core.services.audit import AuditTrail
from outreach_core.services.sequence import pending_timers

log = structlog.get_logger(__name__)

PAUSED_BY_CAMPAIGN = "campaign paused"


def _reply_to(value: str) -> str:
    """A Reply-To is one address, optionally with the {reply_token} placeholder in its local part."""
    if not is_single_line(value):
        raise ValueError("reply-to: a line break or control character is not allowed in an address")
    probe = value.strip().replace(PLACEHOLDER, "token")
    try:
        canonical = canonical_email(probe)
    except AddressError as exc:
        raise ValueError(f"reply-to: {exc}") from exc
    local, domain = canonical.rsplit("@", 1)
    token_local = value.strip().rsplit("@", 1)[0]
    return f"{token_local if PLACEHOLDER in value else local}@{domain}"


class AdminService:
    def __init__(self, records: Records, clock: Clock, actor: str = "operator") -> None:
        self.records = records
        self.clock = clock
        self.actor = actor
        self.audit = AuditTrail(records)

    def _audit(self, tenant_id: str, action: str, target: str, reason: str = "", **details: Any) -> None:
        self.audit.record(tenant_id, self.clock.now(), self.actor, action, target, reason, **details)

    # --- tenants and what they own ---------------------------------------------------------------

    def add_tenant(self, tenant_id: str, name: str, postal_address: str, **options: Any) -> Tenant:
        tenant = Tenant(
            id=tenant_id, name=name, postal_address=postal_address, created_at=self.clock.now(), **options
        )
        created = self.records.create_tenant(tenant)
        self._audit(tenant.id, "tenant.create", tenant.id)
        return created

    def tenants(self) -> list[Tenant]:
        return self.records.tenants()

    def add_direction(self, tenant_id: str, direction_id: str, name: str, description: str = "") -> Direction:
        self.records.tenant(tenant_id)
        direction = Direction(tenant_id=tenant_id, id=direction_id, name=name, description=description)
        created = self.records.create(direction)
        self._audit(tenant_id, "direction.create", direction_id)
        return created

    def add_identity(self, tenant_id: str, identity_id: str, email: str, **options: Any) -> SenderIdentity:
        self.records.tenant(tenant_id)
        try:
            normalised = canonical_email(email)
        except AddressError as exc:
            raise ValueError(f"sender address: {exc}") from exc
        if not is_single_line(options.get("display_name", "")):
            raise ValueError("display name: a line break or control character is not allowed in a header")
        if options.get("reply_to"):
            options["reply_to"] = _reply_to(options["reply_to"])
        if options.get("daily_cap", 1) < 1:
            raise ValueError(
                f"daily cap {options['daily_cap']}: an identity sends at least 1 a day "
                "(to stop one, `outreach identity pause`)"
            )
        for direction_id in options.get("directions", ()):
            self.records.get(Direction, tenant_id, direction_id)
        identity = SenderIdentity(
            tenant_id=tenant_id, id=identity_id, email=normalised, created_at=self.clock.now(), **options
        )
        created = self.records.create(identity)
        self._audit(tenant_id, "identity.create", identity_id, email_domain=identity.domain)
        return created

    def add_template(
        self, tenant_id: str, template_id: str, subject: str, text: str, html: str | None = None
    ) -> Template:
        """Parses subject and bodies first: a broken template is refused before any campaign uses it."""
        self.records.tenant(tenant_id)
        parse("subject", subject)
        parse("text", text)
        if html:
            parse("html", html, spintax=False)
        created = self.records.create(
            Template(tenant_id=tenant_id, id=template_id, subject=subject, text=text, html=html)
        )
        self._audit(tenant_id, "template.create", template_id)
        return created

    def add_campaign(
        self,
        tenant_id: str,
        campaign_id: str,
        direction_id: str,
        steps: Sequence[CampaignStep],
        name: str = "",
        lead_list: str = "default",
    ) -> Campaign:
        self.records.tenant(tenant_id)
        self.records.get(Direction, tenant_id, direction_id)
        for step in steps:
            if not timedelta(0) <= step.delay <= MAX_STEP_DELAY:
                raise ValueError(f"step {step.number}: a delay is 0 to {MAX_STEP_DELAY.days} days")
            template = self.records.get(Template, tenant_id, step.template_id)
            if step.number == 1 and not template.subject.strip():
                raise ValueError(
                    f"step 1 template {template.id!r} needs a subject (only follow-ups may reply in thread)"
                )
        campaign = Campaign(
            tenant_id=tenant_id,
            id=campaign_id,
            direction_id=direction_id,
            name=name or campaign_id,
            lead_list=lead_list,
            steps=tuple(steps),
            created_at=self.clock.now(),
        )
        created = self.records.create(campaign)
        self._audit(tenant_id, "campaign.create", campaign_id, steps=len(steps), lead_list=lead_list)
        return created

    # --- campaign life cycle ---------------------------------------------------------------------

    def start_campaign(self, tenant_id: str, campaign_id: str) -> int:
        """Enrol every active lead of the campaign's list at step 1. Returns how many were enrolled."""
        campaign = self.records.get(Campaign, tenant_id, campaign_id)
        if campaign.status is not CampaignStatus.DRAFT:
            raise ValueError(
                f"campaign {campaign_id!r} is {campaign.status.value}; only a draft can be started"
            )
        if not any(i.serves(campaign.direction_id) for i in self.records.all(SenderIdentity, tenant_id)):
            raise ValueError(f"no sender identity serves direction {campaign.direction_id!r}")
        now = self.clock.now()
        running = campaign.model_copy(update={"status": CampaignStatus.RUNNING, "started_at": now})
        self.records.replace(running)
        enrolled = 0
        for leads in _pages(self.records.each(Lead, tenant_id), 1000):  # a big list is never held whole
            timers = pending_timers(running, leads, [], now)
            self._write_timers(timers)
            enrolled += len(timers)
        self._audit(tenant_id, "campaign.start", campaign_id, enrolled=enrolled)
        return enrolled

    def pause_campaign(
        self, tenant_id: str, campaign_id: str, reason: str = "paused by operator"
    ) -> Campaign:
        campaign = self.records.get(Campaign, tenant_id, campaign_id)
        if campaign.status is not CampaignStatus.RUNNING:
            return campaign
        paused = self.records.replace(
            campaign.model_copy(update={"status": CampaignStatus.PAUSED, "status_reason": reason})
        )
        self._audit(tenant_id, "campaign.pause", campaign_id, reason)
        return paused

    def resume_campaign(self, tenant_id: str, campaign_id: str) -> int:
        """Run again: jobs cancelled by the pause are reopened, and each lead's next step rescheduled."""
        campaign = self.records.get(Campaign, tenant_id, campaign_id)
        if campaign.status is not CampaignStatus.PAUSED:
            raise ValueError(f"campaign {campaign_id!r} is {campaign.status.value}, not paused")
        now = self.clock.now()
        running = self.records.replace(
            campaign.model_copy(update={"status": CampaignStatus.RUNNING, "status_reason": ""})
        )
        reopened = 0
        jobs = self.records.jobs(tenant_id, campaign_id)
        for job in jobs:
            if job.status is JobStatus.CANCELLED and job.status_reason == PAUSED_BY_CAMPAIGN:
                wake = Timer(
                    tenant_id=tenant_id,
                    at=now,
                    kind=TimerKind.WAKE,
                    job_id=job.job_id,
                    campaign_id=campaign_id,
                    lead_id=job.lead_id,
                    step=job.step,
                )
                self.records.save_job(
                    job.moved(JobStatus.PLANNED, now, "campaign resumed"), self.records.timer_put(wake)
                )
                reopened += 1
        live = [
            j for j in jobs if not (j.status is JobStatus.CANCELLED and j.status_reason == PAUSED_BY_CAMPAIGN)
        ]
        self._write_timers(pending_timers(running, self.records.all(Lead, tenant_id), live, now))
        self._audit(tenant_id, "campaign.resume", campaign_id, reopened=reopened)
        return reopened

    def campaigns(self, tenant_id: str) -> list[Campaign]:
        self.records.tenant(tenant_id)
        return self.records.all(Campaign, tenant_id)

    # --- identities ------------------------------------------------------------------------------

    def set_identity_status(
        self, tenant_id: str, identity_id: str, status: IdentityStatus, reason: str = ""
    ) -> SenderIdentity:
        identity = self.records.get(SenderIdentity, tenant_id, identity_id)
        updated = self.records.replace(
            identity.model_copy(update={"status": status, "status_reason": reason})
        )
        self._audit(tenant_id, f"identity.{status.value}", identity_id, reason)
        return updated

    def identities(self, tenant_id: str) -> list[SenderIdentity]:
        self.records.tenant(tenant_id)
        return self.records.all(SenderIdentity, tenant_id)

    def directions(self, tenant_id: str) -> list[Direction]:
        self.records.tenant(tenant_id)
        return self.records.all(Direction, tenant_id)

    def templates(self, tenant_id: str) -> list[Template]:
        self.records.tenant(tenant_id)
        return self.records.all(Template, tenant_id)

    def _write_timers(self, timers: Sequence[Timer]) -> None:
        # Each timer on its own (unconditional puts): the store batches them into as few round trips
        # as it can (DynamoDB: transactions of up to 100 items).
        self.records.store.write_many([[self.records.timer_put(t)] for t in timers])


def _pages(items: Iterable[Lead], size: int) -> Iterator[list[Lead]]:
    page: list[Lead] = []
    for item in items:
        page.append(item)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page
