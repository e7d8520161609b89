"""Admin use cases: tenants, directions, identities, templates and campaigns, and their life cycle."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import structlog

from outreach_core.domain.accounts import ImapAccount, SmtpAccount
from outreach_core.domain.addresses import AddressError, canonical_email, is_single_line
from outreach_core.domain.ids import job_id_for
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import (
    MAX_STEP_DELAY,
    Campaign,
    CampaignStatus,
    CampaignStep,
    Direction,
    IdentityStatus,
    Lead,
    LeadStatus,
    SenderIdentity,
    Template,
    Tenant,
)
from outreach_core.policies.config import TenantPolicy
from outreach_core.ports import Clock, Delete, Put
from outreach_core.records import Records, Timer, TimerKind
from outreach_core.rendering.reply_token import PLACEHOLDER
from outreach_core.services import lifecycle
from outreach_core.services.audit import AuditTrail
from outreach_core.services.limiter import SendLimiter
from outreach_core.services.sequence import next_step_timer, pending_timers, pull_waiting_steps
from outreach_core.services.templates import TemplateService
from outreach_core.services.webhooks import WebhookPublisher, announce

log = structlog.get_logger(__name__)

PAUSED_BY_CAMPAIGN = "campaign paused"
PAUSED_LEAD = lifecycle.PAUSED_LEAD  # the sender's reason for a job of a paused lead: resume reopens it
REMOVED_FROM_CAMPAIGN = lifecycle.REMOVED
STOPPED_BY_OPERATOR = "campaign stopped"


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
    def __init__(
        self,
        records: Records,
        clock: Clock,
        actor: str = "operator",
        webhooks: WebhookPublisher | None = None,
    ) -> None:
        self.records = records
        self.webhooks = webhooks
        self.clock = clock
        self.actor = actor
        self.audit = AuditTrail(records)

    def _audit(self, tenant_id: str, action: str, target: str, reason: str = "", **details: Any) -> None:
        self.audit.record(tenant_id, self.clock.now(), self.actor, action, target, reason, **details)

    # --- tenants and what they own ---------------------------------------------------------------

    def set_tenant_policy(self, tenant_id: str, policy: TenantPolicy, limiter: SendLimiter) -> None:
        """Replace the tenant's sending-policy overrides (a warmed-up domain, a provider's own limits)."""
        self.records.tenant(tenant_id)
        limiter.set_tenant_policy(tenant_id, policy)
        self._audit(tenant_id, "tenant.policy", tenant_id, overrides=sorted(policy.model_fields_set))
        self._capacity_changed(tenant_id)

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
        self._capacity_changed(tenant_id)
        return created

    def _capacity_changed(self, tenant_id: str) -> None:
        """What the tenant's room depends on changed: its steps waiting for room come due now (the
        planner reads them at its next tick and files them again for what room there is)."""
        pull_waiting_steps(self.records, tenant_id, self.clock.now())

    def add_template(
        self,
        tenant_id: str,
        template_id: str,
        subject: str,
        text: str,
        html: str | None = None,
        fields: Sequence[str] = (),
    ) -> Template:
        """Linted first (services.templates): a broken template is refused before any campaign uses it."""
        return TemplateService(self.records, self.clock, actor=self.actor).add(
            tenant_id, template_id, subject, text, html, fields
        )

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
            self._check_step(tenant_id, step)
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

    def _check_step(self, tenant_id: str, step: CampaignStep) -> None:
        if not timedelta(0) <= step.delay <= MAX_STEP_DELAY:
            raise ValueError(f"step {step.number}: a delay is 0 to {MAX_STEP_DELAY.days} days")
        for template_id in step.template_ids:
            template = self.records.get(Template, tenant_id, template_id)
            if step.number == 1 and not template.subject.strip():
                raise ValueError(
                    f"step 1 template {template.id!r} needs a subject (only follow-ups may reply in thread)"
                )

    # --- editing -------------------------------------------------------------------------------------

    def update_tenant(self, tenant_id: str, **changes: Any) -> Tenant:
        """Name, address, window, quotas, weight, overlap policy: what is given changes, the rest stays."""
        tenant = self.records.tenant(tenant_id)
        if not changes:
            return tenant
        updated = Tenant.model_validate({**tenant.model_dump(), **changes, "version": tenant.version})
        saved = self.records.replace_tenant(updated)
        self._audit(tenant_id, "tenant.update", tenant_id, changed=sorted(changes))
        self._capacity_changed(tenant_id)
        return saved

    def update_identity(self, tenant_id: str, identity_id: str, **changes: Any) -> SenderIdentity:
        """Display name, daily cap, weight, directions, reply-to. The address is the identity: add another."""
        identity = self.records.get(SenderIdentity, tenant_id, identity_id)
        if not changes:
            return identity
        if "display_name" in changes and not is_single_line(changes["display_name"]):
            raise ValueError("display name: a line break or control character is not allowed in a header")
        if changes.get("reply_to"):
            changes["reply_to"] = _reply_to(changes["reply_to"])
        if "daily_cap" in changes and changes["daily_cap"] < 1:
            raise ValueError(
                f"daily cap {changes['daily_cap']}: an identity sends at least 1 a day "
                "(to stop one, `outreach identity pause`)"
            )
        for direction_id in changes.get("directions", ()):
            self.records.get(Direction, tenant_id, direction_id)
        updated = SenderIdentity.model_validate(
            {**identity.model_dump(), **changes, "version": identity.version}
        )
        saved = self.records.replace(updated)
        self._audit(tenant_id, "identity.update", identity_id, changed=sorted(changes))
        self._capacity_changed(tenant_id)
        return saved

    def edit_step(self, tenant_id: str, campaign_id: str, step: CampaignStep) -> Campaign:
        """Replace one step's template(s) or delay, in a draft, running or paused campaign. Messages not
        yet handed over use the new template (the sender reads the step when it sends); step timers not
        yet due move by the change of delay. What was sent stays as it was."""
        campaign = self.records.get(Campaign, tenant_id, campaign_id)
        self._editable(campaign)
        if not campaign.has_step(step.number):
            raise ValueError(f"campaign {campaign_id!r} has no step {step.number} (add one with add-step)")
        self._check_step(tenant_id, step)
        old = campaign.step(step.number)
        steps = tuple(step if s.number == step.number else s for s in campaign.steps)
        saved = self.records.replace(campaign.model_copy(update={"steps": steps}))
        moved = 0
        if step.delay != old.delay and step.number > 1:
            moved = self._move_step_timers(saved, step.number)
        self._audit(
            tenant_id,
            "campaign.edit_step",
            campaign_id,
            step=step.number,
            templates=list(step.template_ids),
            delay_days=step.delay.total_seconds() / 86400,
            timers_moved=moved,
        )
        return saved

    def add_step(self, tenant_id: str, campaign_id: str, step: CampaignStep) -> tuple[Campaign, int]:
        """Append a step. Leads that already finished the old last step get it, its delay after their
        last send (or at once, if that is past). Returns the campaign and how many leads got it."""
        campaign = self.records.get(Campaign, tenant_id, campaign_id)
        self._editable(campaign)
        step = step.model_copy(update={"number": len(campaign.steps) + 1})
        self._check_step(tenant_id, step)
        saved = self.records.replace(campaign.model_copy(update={"steps": (*campaign.steps, step)}))
        now = self.clock.now()
        timers: list[Timer] = []
        if saved.status is CampaignStatus.RUNNING:
            active = {
                lead.id for lead in self.records.all(Lead, tenant_id) if lead.status is LeadStatus.ACTIVE
            }
            for job in self.records.jobs(tenant_id, campaign_id):
                if (
                    job.step == step.number - 1
                    and job.lead_id in active
                    and job.status in lifecycle.ADVANCING
                    and job.sent_at is not None
                ):
                    timer = next_step_timer(saved, job, job.sent_at)
                    if timer is not None:
                        timers.append(timer.model_copy(update={"at": max(timer.at, now)}))
        self._write_timers(timers)
        self._audit(tenant_id, "campaign.add_step", campaign_id, step=step.number, enrolled=len(timers))
        return saved, len(timers)

    def _editable(self, campaign: Campaign) -> None:
        if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.STOPPED):
            raise ValueError(f"campaign {campaign.id!r} is {campaign.status.value}: its steps are final")

    def _move_step_timers(self, campaign: Campaign, number: int) -> int:
        """Re-time the step timers of step `number` from the previous step's send and the new delay."""
        now = self.clock.now()
        ops: list[Put | Delete] = []
        for timer in lifecycle.campaign_step_timers(self.records, campaign):
            if timer.step != number:
                continue
            previous = self.records.job(
                campaign.tenant_id, job_id_for(campaign.id, timer.lead_id, number - 1)
            )
            if previous is None or previous.sent_at is None:
                continue
            moved = timer.model_copy(update={"at": max(previous.sent_at + campaign.step(number).delay, now)})
            if moved.sort != timer.sort:
                ops += [self.records.timer_delete(timer), self.records.timer_put(moved)]
        lifecycle.write_ops(self.records, ops)
        return len(ops) // 2

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
        announce(self.webhooks, tenant_id, "campaign.paused", campaign_id, reason, self.clock.now())
        return paused

    def stop_campaign(self, tenant_id: str, campaign_id: str, reason: str = "") -> tuple[Campaign, int]:
        """End a campaign for good: its planned and queued jobs are cancelled, its step timers deleted,
        nothing of it is sent again (messages already handed over finish). Returns how many cancelled."""
        campaign = self.records.get(Campaign, tenant_id, campaign_id)
        if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.STOPPED):
            raise ValueError(f"campaign {campaign_id!r} is {campaign.status.value} already")
        stopped = self.records.replace(
            campaign.model_copy(
                update={"status": CampaignStatus.STOPPED, "status_reason": reason or "stopped by operator"}
            )
        )
        now = self.clock.now()
        cancelled = lifecycle.stop_open_jobs(
            self.records, self.records.jobs(tenant_id, campaign_id), STOPPED_BY_OPERATOR, now
        )
        drops = [self.records.timer_delete(t) for t in lifecycle.campaign_step_timers(self.records, stopped)]
        lifecycle.write_ops(self.records, drops)
        self._audit(tenant_id, "campaign.stop", campaign_id, reason, cancelled=cancelled, timers=len(drops))
        return stopped, cancelled

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
        if status is IdentityStatus.ACTIVE:
            self._capacity_changed(tenant_id)
        if status is IdentityStatus.BLOCKED:
            announce(self.webhooks, tenant_id, "identity.blocked", identity_id, reason, self.clock.now())
        return updated

    def connect_identity(
        self,
        tenant_id: str,
        identity_id: str,
        *,
        smtp: SmtpAccount | None = None,
        imap: ImapAccount | None = None,
        drop_smtp: bool = False,
        drop_imap: bool = False,
    ) -> SenderIdentity:
        """Give an identity its own SMTP and / or IMAP account (references to secrets only), or take
        them away. Audited with the hosts and users, never a secret."""
        identity = self.records.get(SenderIdentity, tenant_id, identity_id)
        update: dict[str, Any] = {}
        if smtp is not None or drop_smtp:
            update["smtp"] = None if drop_smtp else smtp
        if imap is not None or drop_imap:
            update["imap"] = None if drop_imap else imap
        if not update:
            raise ValueError("nothing to change: give SMTP or IMAP settings, or --drop-smtp / --drop-imap")
        updated = self.records.replace(identity.model_copy(update=update))
        self._audit(
            tenant_id,
            "identity.connect",
            identity_id,
            "",
            smtp=f"{updated.smtp.host}:{updated.smtp.port} {updated.smtp.username}" if updated.smtp else "-",
            imap=f"{updated.imap.host}:{updated.imap.port} {updated.imap.username}" if updated.imap else "-",
        )
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
