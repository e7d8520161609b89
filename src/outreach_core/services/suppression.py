"""Suppression: put an address on the tenant's (and, by policy, the global) list and stop its lead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from outreach_core.domain.addresses import REDACTED_LOCAL, address_key, redact_addresses
from outreach_core.domain.ids import email_hash, lead_id_for
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import Lead, LeadStatus
from outreach_core.domain.suppression import (
    DomainBlock,
    SuppressionEntry,
    SuppressionReason,
    SuppressionScope,
)
from outreach_core.policies.suppression import SuppressionPolicy
from outreach_core.ports import ConditionFailed, Delete, Put
from outreach_core.records import GLOBAL, Records
from outreach_core.services.audit import AuditTrail
from outreach_core.services.webhooks import WebhookPublisher

log = structlog.get_logger(__name__)

# Audit entries about the global list are kept under this pseudo-tenant (never a valid tenant slug).
GLOBAL_AUDIT = GLOBAL
_OPEN = frozenset({JobStatus.PLANNED, JobStatus.QUEUED})


def _without(text: str, email: str) -> str:
    """The text with every quoted address redacted, and this one gone whatever its spelling."""
    text = redact_addresses(text)
    for form in {email, address_key(email)}:
        text = text.replace(form, REDACTED_LOCAL) if form else text
    return text


@dataclass(frozen=True)
class ErasureReport:
    lead_erased: bool
    entries_scrubbed: int
    jobs_cancelled: int
    jobs_scrubbed: int


LEAD_STATUS = {
    SuppressionReason.HARD_BOUNCE: LeadStatus.BOUNCED,
    SuppressionReason.SOFT_BOUNCE_REPEATED: LeadStatus.BOUNCED,
    SuppressionReason.COMPLAINT: LeadStatus.COMPLAINED,
    SuppressionReason.UNSUBSCRIBE: LeadStatus.UNSUBSCRIBED,
}


# The webhook event a new suppression of this reason announces.
_WEBHOOK_EVENT = {
    SuppressionReason.UNSUBSCRIBE: "lead.unsubscribed",
    SuppressionReason.COMPLAINT: "lead.unsubscribed",
    SuppressionReason.HARD_BOUNCE: "lead.bounced",
}


class SuppressionService:
    def __init__(
        self,
        records: Records,
        policy: SuppressionPolicy | None = None,
        webhooks: WebhookPublisher | None = None,
    ) -> None:
        self.records = records
        self.policy = policy or SuppressionPolicy()
        self.audit = AuditTrail(records)
        self.webhooks = webhooks

    def entries(
        self, tenant_id: str, email: str, reason: SuppressionReason, source: str, at: datetime
    ) -> list[Put]:
        """Entries for the scopes the policy names that do not hold this address yet."""
        puts = []
        digest = email_hash(email)
        for scope in self.policy.scopes_for(reason):
            partition = self.records.suppression_partition(scope, tenant_id)
            if self.records.store.get(partition, f"SUPP#{digest}") is not None:
                continue
            entry = SuppressionEntry(
                scope=scope,
                tenant_id=tenant_id if scope is SuppressionScope.TENANT else None,
                email_hash=digest,
                email=email,
                reason=reason,
                source=source,
                created_at=at,
            )
            puts.append(self.records.suppression_put(entry))
        return puts

    def suppress(
        self,
        tenant_id: str,
        email: str,
        reason: SuppressionReason,
        *,
        source: str,
        at: datetime,
        actor: str = "system:feedback",
    ) -> None:
        """Suppress per policy, and stop the address's lead in this tenant. Idempotent."""
        entries = self.entries(tenant_id, email, reason, source, at)
        if entries:
            self.records.store.write(*entries)
            self.audit.record(
                tenant_id, at, actor, "suppression.add", email_hash(email), reason.value, source=source
            )
        self.stop_lead(tenant_id, email, LEAD_STATUS.get(reason, LeadStatus.UNSUBSCRIBED))
        if entries and reason in _WEBHOOK_EVENT:
            self._announce(tenant_id, email, reason, source, at)

    def _announce(
        self, tenant_id: str, email: str, reason: SuppressionReason, source: str, at: datetime
    ) -> None:
        if self.webhooks is None or tenant_id == GLOBAL:
            return
        lead_id = lead_id_for(tenant_id, email)
        data = {"lead_id": lead_id, "lead_email": email, "reason": reason.value, "at": at.isoformat()}
        try:
            self.webhooks.publish(tenant_id, _WEBHOOK_EVENT[reason], f"{lead_id}:{reason.value}", data)
        except Exception:  # a webhook must never stop a suppression
            log.exception("suppression.webhook_failed")

    def stop_lead(self, tenant_id: str, email: str, status: LeadStatus) -> None:
        for _ in range(3):
            lead = self.records.find(Lead, tenant_id, lead_id_for(tenant_id, email))
            if lead is None or lead.status is not LeadStatus.ACTIVE:
                return
            try:
                self.records.replace(lead.model_copy(update={"status": status}))
                return
            except ConditionFailed:
                continue

    # --- operator actions ------------------------------------------------------------------------

    def add_global(
        self, email: str, reason: SuppressionReason, *, source: str, at: datetime, actor: str
    ) -> bool:
        """Put an address on the cross-tenant list (a spam trap, a complaint elsewhere). Idempotent."""
        digest = email_hash(email)
        if self.records.store.get(GLOBAL, f"SUPP#{digest}") is not None:
            return False
        entry = SuppressionEntry(
            scope=SuppressionScope.GLOBAL,
            tenant_id=None,
            email_hash=digest,
            email=email,
            reason=reason,
            source=source,
            created_at=at,
        )
        self.records.suppress(entry)
        self.audit.record(GLOBAL_AUDIT, at, actor, "suppression.add", digest, reason.value, scope="global")
        return True

    def remove(
        self,
        scope: SuppressionScope,
        tenant_id: str | None,
        email: str,
        *,
        at: datetime,
        actor: str,
        reason: str,
    ) -> bool:
        """Take an address off one list. The lead stays stopped: re-activating it is a separate decision."""
        if scope is SuppressionScope.TENANT and not tenant_id:
            raise ValueError("removing from a tenant's list needs the tenant")
        partition = self.records.suppression_partition(scope, tenant_id)
        digest = email_hash(email)
        item = self.records.store.get(partition, f"SUPP#{digest}")
        if item is None:
            return False
        entry = SuppressionEntry.model_validate(item.data)
        if entry.reason is SuppressionReason.ERASURE or entry.email is None:
            raise ValueError("an erased address stays suppressed: its owner asked us to forget them")
        self.records.store.write(Delete(partition=partition, sort=f"SUPP#{digest}"))
        audit_tenant = tenant_id if scope is SuppressionScope.TENANT and tenant_id else GLOBAL_AUDIT
        self.audit.record(audit_tenant, at, actor, "suppression.remove", digest, reason, scope=scope.value)
        return True

    # --- do-not-contact domains ---------------------------------------------------------------------

    def add_domain(
        self, tenant_id: str, domain: str, *, reason: str, note: str = "", at: datetime, actor: str
    ) -> bool:
        """Put a domain (and its subdomains) on the tenant's do-not-contact list. False if it was."""
        self.records.tenant(tenant_id)
        domain = normalised_domain(domain)
        if self.records.store.get(f"T#{tenant_id}", f"DNC#{domain}") is not None:
            return False
        block = DomainBlock(
            tenant_id=tenant_id, domain=domain, reason=reason, note=note, created_at=at, actor=actor
        )
        self.records.store.write(self.records.domain_block_put(block))
        self.audit.record(tenant_id, at, actor, "suppression.add_domain", domain, reason, note=note)
        return True

    def remove_domain(self, tenant_id: str, domain: str, *, at: datetime, actor: str, reason: str) -> bool:
        domain = normalised_domain(domain)
        if self.records.store.get(f"T#{tenant_id}", f"DNC#{domain}") is None:
            return False
        self.records.store.write(Delete(partition=f"T#{tenant_id}", sort=f"DNC#{domain}"))
        self.audit.record(tenant_id, at, actor, "suppression.remove_domain", domain, reason)
        return True

    def cancel_open_jobs(self, tenant_id: str, lead_id: str, reason: str, at: datetime) -> int:
        """Cancel the lead's planned and queued jobs now (a queue message left behind finds them
        cancelled and does nothing). Jobs already being sent are left to finish."""
        cancelled = 0
        for found in self.records.lead_jobs(tenant_id, lead_id):
            job: MessageJob | None = found
            for _ in range(3):
                if job is None or job.status not in _OPEN:
                    break
                try:
                    self.records.save_job(job.moved(JobStatus.CANCELLED, at, reason))
                    cancelled += 1
                    break
                except ConditionFailed:
                    job = self.records.job(tenant_id, found.job_id)
        return cancelled

    def erase(self, tenant_id: str, email: str, *, at: datetime, actor: str, reason: str) -> ErasureReport:
        """Erase-on-request: forget the person, keep them unreachable. Afterwards only the address's
        hash remains (in the tenant's suppression list, and in any global entry); the lead record is
        deleted, its open jobs cancelled and the personal text of its jobs blanked: subjects, and any
        address quoted in a status reason (a provider's `550 <person@...>`). docs/archive.md says what
        lies beyond reach (archived raw events and exports, until they expire)."""
        digest = email_hash(email)
        scrubbed = 0
        ops: list[Put | Delete] = []
        for partition in (self.records.suppression_partition(SuppressionScope.TENANT, tenant_id), GLOBAL):
            item = self.records.store.get(partition, f"SUPP#{digest}")
            if item is not None and item.data.get("email"):
                ops.append(Put(partition=partition, sort=item.sort, data={**item.data, "email": None}))
                scrubbed += 1
        if (
            self.records.store.get(
                self.records.suppression_partition(SuppressionScope.TENANT, tenant_id), f"SUPP#{digest}"
            )
            is None
        ):
            ops.append(
                self.records.suppression_put(
                    SuppressionEntry(
                        scope=SuppressionScope.TENANT,
                        tenant_id=tenant_id,
                        email_hash=digest,
                        email=None,
                        reason=SuppressionReason.ERASURE,
                        source=actor,
                        created_at=at,
                    )
                )
            )
        if ops:
            self.records.store.write(*ops)
        lead_id = lead_id_for(tenant_id, email)
        cancelled = self.cancel_open_jobs(tenant_id, lead_id, "lead erased on request", at)
        jobs_scrubbed = 0
        for job in self.records.lead_jobs(tenant_id, lead_id):
            scrubbed_reason = _without(job.status_reason, email)
            if job.subject or scrubbed_reason != job.status_reason:
                self.records.save_job(
                    job.model_copy(update={"subject": "", "status_reason": scrubbed_reason})
                )
                jobs_scrubbed += 1
        erased = False
        for _ in range(3):
            lead = self.records.find(Lead, tenant_id, lead_id)
            if lead is None:
                break
            try:
                self.records.store.write(self.records.delete_op(lead))
                erased = True
                break
            except ConditionFailed:
                continue
        self.audit.record(
            tenant_id, at, actor, "lead.erase", digest, reason, lead=lead_id, cancelled=cancelled
        )
        log.info("suppression.erased", tenant_id=tenant_id, lead_id=lead_id, cancelled=cancelled)
        return ErasureReport(erased, scrubbed, cancelled, jobs_scrubbed)

    def export(self, scope: SuppressionScope, tenant_id: str | None = None) -> list[SuppressionEntry]:
        """The whole list, oldest first (for CSV export and audits)."""
        return sorted(self.records.suppressions(scope, tenant_id), key=lambda e: (e.created_at, e.email_hash))


def normalised_domain(domain: str) -> str:
    """A domain as the do-not-contact list keys it: lower case, no trailing dot, IDNA A-labels."""
    value = domain.strip().lower().rstrip(".").removeprefix("@")
    if "@" in value or not value or "." not in value or any(c.isspace() for c in value):
        raise ValueError(f"not a domain: {domain!r}")
    try:
        return value.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"not a domain: {domain!r} ({exc})") from exc
