"""Identifiers and hashes. Deterministic, so a retry derives the same key as the first attempt."""

from __future__ import annotations

import hashlib
from typing import Annotated

from pydantic import StringConstraints

from outreach_core.domain.addresses import address_key

# Slugs are safe in store keys, SES tag values ([A-Za-z0-9_-]) and file names; "_" is never part of a
# slug, so it can join slugs unambiguously (job ids).
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]


def _digest(*parts: str) -> str:
    joined = "\x1f".join(parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def email_hash(email: str) -> str:
    """The hash kept for suppression and erasure: the address itself need not be stored. Of the
    canonical form, so `x@bücher.de` and `x@xn--bcher-kva.de` are one entry."""
    return _digest("email", address_key(email))[:40]


def lead_id_for(tenant_id: str, email: str) -> str:
    """One lead per address per tenant: the id is derived from the canonical address."""
    return "l-" + _digest("lead", tenant_id, address_key(email))[:16]


def job_id_for(campaign_id: str, lead_id: str, step: int) -> str:
    return f"{campaign_id}_{lead_id}_{step}"


def idempotency_key(tenant_id: str, campaign_id: str, lead_id: str, step: int) -> str:
    """hash(tenant, campaign, lead, step): the key that makes each send happen at most once."""
    return _digest("send", tenant_id, campaign_id, lead_id, str(step))[:32]


def stable_fraction(*parts: str) -> float:
    """A number in [0, 1) derived from the parts: deterministic jitter and variant choice."""
    return int(_digest("fraction", *parts)[:13], 16) / float(1 << 52)


def stable_seed(*parts: str) -> int:
    return int(_digest("seed", *parts)[:16], 16)
