"""What a provider's refusal means for us: slow down, drop the recipient, or stop the sender.

The foundation's form: enhanced status classes only. The policy-engine issue grows this into a table
of real provider texts; callers depend on `ResponseClass` and `classify`, not on the rules inside.
"""

from __future__ import annotations

import re
from enum import StrEnum

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


class ResponseClass(StrEnum):
    THROTTLE = "throttle"  # retry later, slower; never suppress
    HARD_BOUNCE = "hard_bounce"  # suppress the recipient
    SENDER_BLOCK = "sender_block"  # pause the identity at that provider; never suppress the recipient
    SOFT_PERSISTENT = "soft_persistent"  # mailbox full: retry a few times, then suppress
    PERMANENT = "permanent"  # the message itself is refused; not the recipient's fault


def enhanced_status(text: str) -> str:
    match = _ENHANCED.search(text)
    return ".".join(match.groups()) if match else ""


def classify(smtp_code: int | None, text: str, status: str = "") -> ResponseClass:
    status = status or enhanced_status(text)
    if (smtp_code and 400 <= smtp_code < 500) or status.startswith("4."):
        return ResponseClass.THROTTLE
    if status.startswith("5.1.") or status == "5.2.1":
        return ResponseClass.HARD_BOUNCE
    if status == "5.2.2":
        return ResponseClass.SOFT_PERSISTENT
    if status.startswith("5.7."):
        return ResponseClass.SENDER_BLOCK
    return ResponseClass.PERMANENT
