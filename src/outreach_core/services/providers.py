"""Which provider receives a domain's mail: the static table first, then the MX resolver."""

from __future__ import annotations

from outreach_core.policies.providers import Provider, provider_for_domain, provider_for_mx
from outreach_core.ports import MxResolver


class ProviderDirectory:
    """Domain -> Provider, memoised for the life of the process (the resolver caches DNS answers too)."""

    def __init__(self, resolver: MxResolver | None = None) -> None:
        self.resolver = resolver
        self._known: dict[str, Provider] = {}

    def provider(self, domain: str) -> Provider:
        domain = domain.lower().rstrip(".")
        found = self._known.get(domain) or provider_for_domain(domain)
        if found is None:
            found = provider_for_mx(self.resolver.mx(domain)) if self.resolver else Provider.OTHER
        self._known[domain] = found
        return found
