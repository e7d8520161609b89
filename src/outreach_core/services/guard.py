"""The reputation guard: keeps the sliding windows and applies the auto-stop rules to them.

Sends and outcomes go into per-campaign, per-identity and per-tenant windows (compare-and-set
documents in the store, so concurrent senders and feedback handlers never lose an update). When a rule
is breached the guard pauses the campaign (or all of a tenant's campaigns) or blocks the identity,
once, with the figures in the audit log and an alert. Deferrals cut the identity's and provider's rate
(AIMD, in the limiter's documents); a sender block pauses the identity at that provider. A rule with a
cool-down schedules its own resume, which the planner applies when it comes due.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from outreach_core.domain.addresses import redact_addresses
from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.models import Campaign, CampaignStatus, IdentityStatus, SenderIdentity
from outreach_core.policies.autostop import (
    BOUNCED,
    COMPLAINED,
    AutoStopRules,
    Breach,
    RateRule,
    SlidingWindow,
    evaluate,
)
from outreach_core.policies.config import TenantPolicy
from outreach_core.policies.providers import Provider
from outreach_core.ports import Alert, Clock, ConditionFailed, Delete, Key, Notifier, Put
from outreach_core.records import Records, stamp
from outreach_core.services.admin import AdminService
from outreach_core.services.audit import AuditTrail
from outreach_core.services.limiter import POLICY, SendLimiter
from outreach_core.services.sequence import pull_waiting_steps
from outreach_core.services.webhooks import WebhookPublisher, announce

log = structlog.get_logger(__name__)

ACTOR = "system:guard"
_CAS_ATTEMPTS = 8


@dataclass(frozen=True)
class GuardAction:
    action: str  # campaign.pause | identity.block
    tenant_id: str
    target: str
    breach: Breach


class ReputationGuard:
    def __init__(
        self,
        records: Records,
        clock: Clock,
        rules: AutoStopRules | None = None,
        notifier: Notifier | None = None,
        limiter: SendLimiter | None = None,
        webhooks: WebhookPublisher | None = None,
    ) -> None:
        self.records = records
        self.clock = clock
        self.webhooks = webhooks
        self.limiter = limiter or SendLimiter(records)
        self.rules = rules or self.limiter.policy.autostop
        self.notifier = notifier
        self.audit = AuditTrail(records)

    def rules_for(self, tenant_id: str) -> AutoStopRules:
        """The tenant's own thresholds when it has them, else the defaults."""
        policy = self.records.state_model(TenantPolicy, tenant_id, POLICY)
        return (policy.autostop if policy else None) or self.rules

    def _alert(self, kind: str, tenant_id: str, subject: str, message: str, **details: object) -> None:
        if kind in ("campaign.paused", "identity.blocked"):
            announce(self.webhooks, tenant_id, kind, subject, message, self.clock.now())
        if self.notifier is None:
            return
        alert = Alert(
            kind=kind,
            tenant_id=tenant_id,
            subject=subject,
            message=message,
            at=self.clock.now(),
            details=details,
        )
        try:
            self.notifier.notify(alert)
        except Exception:
            log.exception("guard.alert_failed", kind=kind)

    def window(self, tenant_id: str, scope: str, ident: str, rule: RateRule) -> SlidingWindow:
        doc, _ = self.records.state(tenant_id, f"WIN#{scope}#{ident}")
        return SlidingWindow.model_validate(doc) if doc else SlidingWindow(size=rule.window)

    def _changed(
        self,
        tenant_id: str,
        scope: str,
        ident: str,
        rule: RateRule,
        change: Callable[[SlidingWindow], SlidingWindow],
    ) -> tuple[SlidingWindow, Put | None]:
        """The window after `change`, and the compare-and-set put that stores it (None: unchanged)."""
        sort = f"WIN#{scope}#{ident}"
        doc, version = self.records.state(tenant_id, sort)
        window = SlidingWindow.model_validate(doc) if doc else SlidingWindow(size=rule.window)
        updated = change(window.model_copy(update={"size": rule.window}))
        if updated == window:
            return window, None
        return updated, self.records.state_put(tenant_id, sort, updated.model_dump(mode="json"), version)

    def _update(
        self,
        tenant_id: str,
        scope: str,
        ident: str,
        rule: RateRule,
        change: Callable[[SlidingWindow], SlidingWindow],
    ) -> SlidingWindow:
        for _ in range(_CAS_ATTEMPTS):
            updated, put = self._changed(tenant_id, scope, ident, rule, change)
            if put is None:
                return updated
            try:
                self.records.store.write(put)
                return updated
            except ConditionFailed:
                continue
        raise ConditionFailed(f"WIN#{scope}#{ident}", "too much contention")

    def on_sent(self, job: MessageJob) -> None:
        rules = self.rules_for(job.tenant_id)
        for scope, ident, rule in self._scopes(job, rules):
            self._update(job.tenant_id, scope, ident, rule, lambda w: w.record_send(job.job_id))

    def sent_puts(self, job: MessageJob) -> list[Put]:
        """What `on_sent` writes, as compare-and-set puts on the windows as read now: for the sender to
        write in the same transaction as the `sent` record (and, if that loses a race, `on_sent`)."""
        rules = self.rules_for(job.tenant_id)
        puts = []
        for scope, ident, rule in self._scopes(job, rules):
            _, put = self._changed(job.tenant_id, scope, ident, rule, lambda w: w.record_send(job.job_id))
            if put is not None:
                puts.append(put)
        return puts

    @staticmethod
    def window_keys(tenant_id: str, campaign_id: str) -> list[Key]:
        """The tenant's policy document and the campaign's and tenant's windows: what to prefetch for a
        send or an outcome (with `identity_window_keys` for its identities)."""
        partition = f"T#{tenant_id}"
        return [
            (partition, POLICY),
            (partition, f"WIN#campaign#{campaign_id}"),
            (partition, f"WIN#tenant#{tenant_id}"),
        ]

    @staticmethod
    def identity_window_keys(tenant_id: str, identity_ids: Sequence[str]) -> list[Key]:
        return [(f"T#{tenant_id}", f"WIN#identity#{i}") for i in identity_ids]

    @staticmethod
    def _scopes(job: MessageJob, rules: AutoStopRules) -> list[tuple[str, str, RateRule]]:
        scopes = [("campaign", job.campaign_id, rules.campaign), ("tenant", job.tenant_id, rules.tenant)]
        if job.sender_id:
            scopes.insert(1, ("identity", job.sender_id, rules.identity))
        return scopes

    def outcome_puts(self, job: MessageJob, letter: str) -> tuple[dict[str, SlidingWindow], list[Put]]:
        """What `on_outcome` writes to the windows, as compare-and-set puts on the windows as read now
        (for the caller's own transaction), and the windows as they will be, by scope: to hand to
        `on_outcome(..., recorded=)` once written."""
        rules = self.rules_for(job.tenant_id)
        windows: dict[str, SlidingWindow] = {}
        puts: list[Put] = []
        for scope, ident, rule in self._scopes(job, rules):
            windows[scope], put = self._changed(
                job.tenant_id, scope, ident, rule, lambda w: w.record_outcome(job.job_id, letter)
            )
            if put is not None:
                puts.append(put)
        return windows, puts

    def on_outcome(
        self, job: MessageJob, letter: str, recorded: dict[str, SlidingWindow] | None = None
    ) -> list[GuardAction]:
        """Record an outcome letter (see policies.autostop) and act on any breach it causes. `recorded`:
        the windows the caller already wrote (outcome_puts); only the rules are applied to them."""
        actions: list[GuardAction] = []
        rules = self.rules_for(job.tenant_id)
        if job.sender_id and letter in (BOUNCED, COMPLAINED):
            name = "bounced" if letter == BOUNCED else "complained"
            self.limiter.record(job.tenant_id, job.sender_id, None, name, self.clock.now())
        for scope, ident, rule in self._scopes(job, rules):
            if recorded is not None and scope in recorded:
                window = recorded[scope]
            else:
                window = self._update(
                    job.tenant_id, scope, ident, rule, lambda w: w.record_outcome(job.job_id, letter)
                )
            breach = evaluate(window, rule)
            if breach is None:
                continue
            details = breach.model_dump(mode="json")
            reason = f"auto-stop: {breach.describe()}"
            if scope == "campaign" and self.pause_campaign(job.tenant_id, ident, reason, **details):
                self._schedule_resume(job.tenant_id, "campaign", ident, rules.campaign_cooldown_s)
                actions.append(GuardAction("campaign.pause", job.tenant_id, ident, breach))
            elif scope == "identity" and self.set_identity(
                job.tenant_id, ident, IdentityStatus.BLOCKED, reason, **details
            ):
                self._schedule_resume(job.tenant_id, "identity", ident, rules.identity_cooldown_s)
                actions.append(GuardAction("identity.block", job.tenant_id, ident, breach))
            elif scope == "tenant":
                for campaign in self.records.all(Campaign, job.tenant_id):
                    if self.pause_campaign(job.tenant_id, campaign.id, f"tenant {reason}", **details):
                        self._schedule_resume(
                            job.tenant_id, "campaign", campaign.id, rules.campaign_cooldown_s
                        )
                        actions.append(GuardAction("campaign.pause", job.tenant_id, campaign.id, breach))
        return actions

    # --- rate and provider signals ------------------------------------------------------------------

    def on_deferral(self, job: MessageJob, provider: Provider | None, detail: str) -> list[str]:
        """A deferral or throttle about one of our sends: cut the identity's and provider's rate (AIMD)."""
        if not job.sender_id:
            return []
        detail = redact_addresses(detail)  # provider texts quote the recipient; audit and alerts must not
        cuts = self.limiter.record(job.tenant_id, job.sender_id, provider, "deferred", self.clock.now())
        for scope in cuts:
            self.audit.record(
                job.tenant_id, self.clock.now(), ACTOR, "rate.lowered", scope, detail[:300], job=job.job_id
            )
            self._alert(
                "rate.lowered",
                job.tenant_id,
                scope,
                f"{job.tenant_id}: rate of {scope} halved: {detail[:200]}",
            )
        return cuts

    def reply_alert(self, job: MessageJob, kind: str, provider: Provider | None, detail: str) -> None:
        """A reply about our own set-up or content (auth failure, content rejected): audit and alert.
        The recipient did nothing wrong; the alert's dedupe key is per identity and provider."""
        where = provider.value if provider else "provider"
        target = f"{job.sender_id or '-'}@{where}"
        self.audit.record(job.tenant_id, self.clock.now(), ACTOR, kind, target, detail[:300], job=job.job_id)
        log.warning("guard.reply_alert", kind=kind, target=target)
        what = "check the template"
        if kind == "identity.auth_failed":
            what = "fix its DNS (SPF, DKIM, DMARC) or TLS"
        self._alert(kind, job.tenant_id, target, f"{job.tenant_id}/{target}: {detail[:200]} ({what})")

    def resume_at_provider(self, tenant_id: str, identity_id: str, provider: Provider, actor: str) -> bool:
        """An operator ends an identity's pause at one provider before its cool-down; audited."""
        if not self.limiter.lift_provider_pause(tenant_id, identity_id, provider):
            return False
        target = f"{identity_id}@{provider.value}"
        self.audit.record(tenant_id, self.clock.now(), actor, "identity.provider_resumed", target, "")
        return True

    def sender_block(self, tenant_id: str, identity_id: str, provider: Provider, detail: str) -> bool:
        """A provider refused us for who we are (5.7.x reputation, blocklists): pause the identity at
        that provider and alert. The recipient is not suppressed: it did nothing wrong."""
        detail = redact_addresses(detail)
        until = self.limiter.pause_provider(tenant_id, identity_id, provider, self.clock.now(), detail)
        if until is None:
            return False
        target = f"{identity_id}@{provider.value}"
        self.audit.record(
            tenant_id,
            self.clock.now(),
            ACTOR,
            "identity.provider_paused",
            target,
            detail[:300],
            until=until.isoformat(),
        )
        log.warning("guard.provider_paused", tenant_id=tenant_id, target=target, until=until.isoformat())
        self._alert(
            "identity.provider_paused",
            tenant_id,
            target,
            f"identity {tenant_id}/{identity_id} paused at {provider.value} until {until:%Y-%m-%d %H:%M}: "
            f"{detail[:200]}",
            until=until.isoformat(),
        )
        return True

    # --- cool-downs ---------------------------------------------------------------------------------

    def _schedule_resume(self, tenant_id: str, kind: str, ident: str, cooldown_s: float | None) -> None:
        if cooldown_s is None:
            return
        at = self.clock.now() + timedelta(seconds=cooldown_s)
        self.records.store.write(
            self.records.state_put(
                tenant_id, f"GUARD#resume#{stamp(at)}#{kind}#{ident}", {"at": at.isoformat()}, 0
            )
        )

    def resume_due(self, tenant_id: str, now: datetime) -> int:
        """Apply cool-downs that have run out: resume the campaign, unblock the identity. Returns how many."""
        done = 0
        for item in self.records.store.query(
            f"T#{tenant_id}", "GUARD#resume#", upto=f"GUARD#resume#{stamp(now)}~"
        ):
            _, _, _, kind, ident = item.sort.split("#", 4)
            drop: Put | Delete = Delete(partition=item.partition, sort=item.sort)
            if kind == "campaign":
                campaign = self.records.find(Campaign, tenant_id, ident)
                if campaign is not None and campaign.status is CampaignStatus.PAUSED:
                    AdminService(self.records, self.clock, actor=ACTOR).resume_campaign(tenant_id, ident)
                    done += 1
            else:
                identity = self.records.find(SenderIdentity, tenant_id, ident)
                if identity is not None and identity.status is not IdentityStatus.ACTIVE:
                    self.records.replace(
                        identity.model_copy(update={"status": IdentityStatus.ACTIVE, "status_reason": ""})
                    )
                    self.audit.record(tenant_id, now, ACTOR, "identity.unblock", ident, "cool-down over")
                    pull_waiting_steps(self.records, tenant_id, now)  # its room is back: they come due
                    done += 1
            self.records.store.write(drop)
            if done:
                self._alert(
                    f"{kind}.resumed", tenant_id, ident, f"{tenant_id}/{ident} resumed after its cool-down"
                )
        return done

    def pause_campaign(self, tenant_id: str, campaign_id: str, reason: str, **details: object) -> bool:
        """Pause a running campaign, once. Its queued jobs are cancelled as senders reach them."""
        campaign = self.records.find(Campaign, tenant_id, campaign_id)
        if campaign is None or campaign.status is not CampaignStatus.RUNNING:
            return False
        try:
            self.records.replace(
                campaign.model_copy(update={"status": CampaignStatus.PAUSED, "status_reason": reason})
            )
        except ConditionFailed:
            return False
        self.audit.record(
            tenant_id, self.clock.now(), ACTOR, "campaign.pause", campaign_id, reason, **details
        )
        log.warning("guard.campaign_paused", tenant_id=tenant_id, campaign_id=campaign_id, reason=reason)
        self._alert(
            "campaign.paused",
            tenant_id,
            campaign_id,
            f"campaign {tenant_id}/{campaign_id} paused: {reason}",
            **details,
        )
        return True

    def set_identity(
        self, tenant_id: str, identity_id: str, status: IdentityStatus, reason: str, **details: object
    ) -> bool:
        """Block or pause an identity, once. Rotation skips it from the next pick on."""
        identity = self.records.find(SenderIdentity, tenant_id, identity_id)
        if identity is None or identity.status is status or identity.status is IdentityStatus.BLOCKED:
            return False
        try:
            self.records.replace(identity.model_copy(update={"status": status, "status_reason": reason}))
        except ConditionFailed:
            return False
        self.audit.record(
            tenant_id, self.clock.now(), ACTOR, f"identity.{status.value}", identity_id, reason, **details
        )
        log.warning(
            "guard.identity_stopped",
            tenant_id=tenant_id,
            identity_id=identity_id,
            status=status.value,
            reason=reason,
        )
        self._alert(
            f"identity.{status.value}",
            tenant_id,
            identity_id,
            f"identity {tenant_id}/{identity_id} {status.value}: {reason}",
            **details,
        )
        return True
