"""List hygiene as a use case: one address of one tenant against the rules (policies.hygiene), with
the facts gathered here: the tenant's do-not-contact domains and policy, the domain's mail route
(MxResolver, cached per domain), the disposable-domain list (data an adapter loads from a package)."""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime

import structlog

from outreach_core.domain.models import Lead, LeadStatus
from outreach_core.policies.config import TenantPolicy
from outreach_core.policies.hygiene import (
    DomainTraits,
    HygienePolicy,
    HygieneVerdict,
    assess,
    domain_traits,
)
from outreach_core.policies.providers import CONSUMER_DOMAINS
from outreach_core.ports import ConditionFailed, MxResolver
from outreach_core.records import Records
from outreach_core.services.audit import AuditTrail

log = structlog.get_logger(__name__)

POLICY = "POLICY"  # the tenant's policy document (services.limiter.POLICY)


class ListHygiene:
    def __init__(
        self, records: Records, resolver: MxResolver | None = None, disposable: Collection[str] = ()
    ) -> None:
        self.records = records
        self.resolver = resolver
        self.disposable = disposable
        self.audit = AuditTrail(records)
        # A list's addresses share few domains: what the rules read from the domain alone (a pure
        # function of it and the disposable list, fixed here) is worked out once per domain.
        self._traits = functools.lru_cache(maxsize=65_536)(self._domain_traits)

    def _domain_traits(self, domain: str) -> DomainTraits:
        return domain_traits(domain, self.disposable)

    def policy(self, tenant_id: str) -> HygienePolicy:
        doc, _ = self.records.state(tenant_id, POLICY)
        return (TenantPolicy.model_validate(doc).hygiene if doc else None) or HygienePolicy()

    def set_policy(self, tenant_id: str, policy: HygienePolicy, *, at: datetime, actor: str) -> None:
        """Store the tenant's hygiene choices in its policy document (the other overrides stay)."""
        self.records.tenant(tenant_id)
        for _ in range(5):
            doc, version = self.records.state(tenant_id, POLICY)
            data = {**doc, "hygiene": policy.model_dump(mode="json")}
            try:
                self.records.store.write(self.records.state_put(tenant_id, POLICY, data, version))
                break
            except ConditionFailed:
                continue
        else:
            raise ConditionFailed(f"T#{tenant_id}", POLICY)
        self.audit.record(
            tenant_id, at, actor, "hygiene.policy", tenant_id, "", **policy.model_dump(mode="json")
        )

    def check(self, tenant_id: str, email: str, policy: HygienePolicy | None = None) -> HygieneVerdict:
        traits = self._traits(email.rsplit("@", 1)[-1].lower())
        domain = traits.domain
        block = self.records.domain_block_for(tenant_id, domain)
        # The big consumer domains receive mail: no lookup for them.
        route = None
        known = domain in CONSUMER_DOMAINS or traits.disposable
        if block is None and not known and self.resolver is not None:
            route = self.resolver.route(domain)
        return assess(
            email,
            route,
            disposable=self.disposable,
            do_not_contact=f"{block.domain} ({block.reason})" if block else "",
            policy=policy or self.policy(tenant_id),
            traits=traits,
        )

    def skip(self, lead: Lead, verdict: HygieneVerdict) -> Lead:
        """The lead as list hygiene leaves it: skipped with its reason (never sent to), or flagged."""
        if verdict.skip is None:
            return lead.model_copy(update={"flags": verdict.flags}) if verdict.flags else lead
        return lead.model_copy(
            update={
                "status": LeadStatus.SKIPPED,
                "skip_code": verdict.skip.value,
                "status_reason": verdict.reason,
                "flags": verdict.flags,
            }
        )
