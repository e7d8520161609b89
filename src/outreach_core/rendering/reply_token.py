"""Reply tokens: `reply+<token>@...` in Reply-To, so a reply can be matched even when a client drops
In-Reply-To and References. HMAC-signed (tenant, lead) with a purpose of its own, so an unsubscribe
token is never a reply token and the other way round; short enough for a 64-character local part."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

PLACEHOLDER = "{reply_token}"
MAX_LOCAL_PART = 64
_TOKEN = re.compile(r"^([a-z0-9][a-z0-9-]{0,62})\.(l-[0-9a-f]{16})\.([0-9a-f]{12})$")


@dataclass(frozen=True)
class ReplyToken:
    tenant_id: str
    lead_id: str


def _signature(secret: str, tenant_id: str, lead_id: str) -> str:
    mac = hmac.new(secret.encode(), f"reply\x1f{tenant_id}\x1f{lead_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:12]


def sign_reply(secret: str, tenant_id: str, lead_id: str) -> str:
    return f"{tenant_id}.{lead_id}.{_signature(secret, tenant_id, lead_id)}"


def reply_address(template: str, token: str) -> str:
    """`reply+{reply_token}@in.example.com` with the token filled in, or the template unchanged when
    it has no placeholder or the result would break the local-part limit."""
    if PLACEHOLDER not in template:
        return template
    filled = template.replace(PLACEHOLDER, token)
    local = filled.rsplit("@", 1)[0]
    if len(local) > MAX_LOCAL_PART:
        return template.replace("+" + PLACEHOLDER, "").replace(PLACEHOLDER, "")
    return filled


def verify_reply(secrets: Sequence[str], token: str) -> ReplyToken | None:
    match = _TOKEN.match(token.strip().lower())
    if match is None:
        return None
    tenant_id, lead_id, signature = match.groups()
    for secret in secrets:
        if secret and hmac.compare_digest(signature, _signature(secret, tenant_id, lead_id)):
            return ReplyToken(tenant_id, lead_id)
    return None
