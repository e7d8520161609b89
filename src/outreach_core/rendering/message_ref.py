"""X-Outreach-Ref: the one internal reference a sent message carries in its headers.

Recipients and their filters see the headers, so the tenant id, the campaign slug and the step stay
out of them; the provider's own channel carries those (SES EmailTags come back in every event's
`mail.tags`). Where a header is still useful — a bounce or abuse report that quotes the original
headers, a message found in a mailbox or a provider's log — this value maps back to the job, and
only for whoever holds the secret.

The token is the (tenant, job) pair sealed with a deterministic authenticated encryption built from
HMAC-SHA256 alone (stdlib, no crypto dependency in the Lambda zip): the synthetic IV is a MAC of the
padded plaintext, the keystream is HMAC(IV, counter) under a second derived key (SIV; RFC 5297's
construction with HMAC in place of CMAC/CTR-AES). The same job always gets the same token, so a retry
renders the same message; the plaintext is padded to a multiple of 64 bytes so the length says
little. Keys are derived per purpose, so this token never verifies as an unsubscribe or reply token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

HEADER = "X-Outreach-Ref"
_VERSION = "r1."
_IV_BYTES = 16
_BLOCK = 32  # bytes of keystream per HMAC
_PAD = 64  # the plaintext is padded to a multiple of this
_SEP = b"\x1f"


@dataclass(frozen=True)
class MessageRef:
    tenant_id: str
    job_id: str


def _key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), f"message-ref\x1f{purpose}".encode(), hashlib.sha256).digest()


def _keystream(secret: str, iv: bytes, length: int) -> bytes:
    key = _key(secret, "encrypt")
    blocks = (length + _BLOCK - 1) // _BLOCK
    return b"".join(hmac.new(key, iv + n.to_bytes(4, "big"), hashlib.sha256).digest() for n in range(blocks))


def _iv(secret: str, padded: bytes) -> bytes:
    return hmac.new(_key(secret, "mac"), padded, hashlib.sha256).digest()[:_IV_BYTES]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))


def seal_ref(secret: str, tenant_id: str, job_id: str) -> str:
    plain = tenant_id.encode() + _SEP + job_id.encode()
    padded = plain + b"\x00" * (-len(plain) % _PAD)
    iv = _iv(secret, padded)
    sealed = iv + _xor(padded, _keystream(secret, iv, len(padded)))
    return _VERSION + base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def open_ref(secrets: Sequence[str], token: str) -> MessageRef | None:
    """The (tenant, job) a token was sealed for, under any of the secrets (rotation); None when it was
    not made by us, was altered, or is not a token at all."""
    token = token.strip()
    if not token.startswith(_VERSION) or len(token) > 1024:
        return None
    body = token[len(_VERSION) :]
    try:
        sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None
    iv, cipher = sealed[:_IV_BYTES], sealed[_IV_BYTES:]
    if len(iv) != _IV_BYTES or not cipher or len(cipher) % _PAD:
        return None
    for secret in secrets:
        if not secret:
            continue
        padded = _xor(cipher, _keystream(secret, iv, len(cipher)))
        if hmac.compare_digest(iv, _iv(secret, padded)):
            tenant, _, job = padded.rstrip(b"\x00").partition(_SEP)
            try:
                return MessageRef(tenant.decode(), job.decode())
            except UnicodeDecodeError:
                return None
    return None
