"""Unsubscribe tokens: HMAC-signed (tenant, lead), so a link cannot be forged for somebody else."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class UnsubscribeToken:
    tenant_id: str
    lead_id: str


def _signature(secret: str, tenant_id: str, lead_id: str) -> str:
    mac = hmac.new(secret.encode(), f"{tenant_id}\x1f{lead_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def sign(secret: str, tenant_id: str, lead_id: str) -> str:
    return f"{tenant_id}.{lead_id}.{_signature(secret, tenant_id, lead_id)}"


def verify(secrets: list[str], token: str) -> UnsubscribeToken | None:
    """The token's tenant and lead if any of `secrets` signed it (rotation: old secrets still verify)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    tenant_id, lead_id, signature = parts
    for secret in secrets:
        if hmac.compare_digest(signature, _signature(secret, tenant_id, lead_id)):
            return UnsubscribeToken(tenant_id=tenant_id, lead_id=lead_id)
    return None
