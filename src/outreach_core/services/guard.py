"""The reputation guard: keeps the sliding windows and applies the auto-stop rules to them.

Sends and outcomes go into per-campaign and per-identity windows (compare-and-set documents in the
store, so concurrent senders and feedback handlers never lose an update). When a rule is breached the
guard pauses the campaign or blocks the identity, once, with the figures in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.models import Campaign, CampaignStatus, IdentityStatus, SenderIdentity
from outreach_core.policies.autostop import AutoStopRules, Breach, RateRule, SlidingWindow, evaluate
from outreach_core.ports import Alert, Clock, ConditionFailed, Notifier
from outreach_core.records import Records
from outreach_core.services.audit import AuditTrail

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
    ) -> None:
        self.records = records
        self.clock = clock
        self.rules = rules or AutoStopRules()
        self.notifier = notifier
        self.audit = AuditTrail(records)

    def _alert(self, kind: str, tenant_id: str, subject: str, message: str, **details: object) -> None:
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

    def _update(
        self,
        tenant_id: str,
        scope: str,
        ident: str,
        rule: RateRule,
        change: Callable[[SlidingWindow], SlidingWindow],
    ) -> SlidingWindow:
        sort = f"WIN#{scope}#{ident}"
        for _ in range(_CAS_ATTEMPTS):
            doc, version = self.records.state(tenant_id, sort)
            window = SlidingWindow.model_validate(doc) if doc else SlidingWindow(size=rule.window)
            updated = change(window.model_copy(update={"size": rule.window}))
            if updated == window:
                return window
            try:
                self.records.store.write(
                    self.records.state_put(tenant_id, sort, updated.model_dump(mode="json"), version)
                )
                return updated
            except ConditionFailed:
                continue
        raise ConditionFailed(sort, "too much contention")

    def on_sent(self, job: MessageJob) -> None:
        self._update(
            job.tenant_id,
            "campaign",
            job.campaign_id,
            self.rules.campaign,
            lambda w: w.record_send(job.job_id),
        )
        if job.sender_id:
            self._update(
                job.tenant_id,
                "identity",
                job.sender_id,
                self.rules.identity,
                lambda w: w.record_send(job.job_id),
            )

    def on_outcome(self, job: MessageJob, letter: str) -> list[GuardAction]:
        """Record an outcome letter (see policies.autostop) and act on any breach it causes."""
        actions: list[GuardAction] = []
        campaign_window = self._update(
            job.tenant_id,
            "campaign",
            job.campaign_id,
            self.rules.campaign,
            lambda w: w.record_outcome(job.job_id, letter),
        )
        breach = evaluate(campaign_window, self.rules.campaign)
        if breach and self.pause_campaign(
            job.tenant_id,
            job.campaign_id,
            f"auto-stop: {breach.describe()}",
            **breach.model_dump(mode="json"),
        ):
            actions.append(GuardAction("campaign.pause", job.tenant_id, job.campaign_id, breach))
        if job.sender_id:
            identity_window = self._update(
                job.tenant_id,
                "identity",
                job.sender_id,
                self.rules.identity,
                lambda w: w.record_outcome(job.job_id, letter),
            )
            breach = evaluate(identity_window, self.rules.identity)
            if breach and self.set_identity(
                job.tenant_id,
                job.sender_id,
                IdentityStatus.BLOCKED,
                f"auto-stop: {breach.describe()}",
                **breach.model_dump(mode="json"),
            ):
                actions.append(GuardAction("identity.block", job.tenant_id, job.sender_id, breach))
        return actions

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
