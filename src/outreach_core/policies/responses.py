"""What a provider's answer means for us: slow down, drop the recipient, or stop the sender.

Parse order (deliverability.md §3.7): provider texts known to mean "rate" first (some are 5xx),
then the reply class (4xx is never a bounce), then recipient texts, then sender-reputation texts,
then the enhanced status code, then the basic code. The rules are a table, so a new provider string
is one line; tests/unit/test_responses.py holds the real strings each rule exists for.
"""

from __future__ import annotations

import re
from enum import StrEnum

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_BASIC = re.compile(r"^\s*(?:smtp;\s*)?([245]\d\d)\b")


class ResponseClass(StrEnum):
    THROTTLE = "throttle"  # retry later, slower; never suppress
    HARD_BOUNCE = "hard_bounce"  # suppress the recipient
    SENDER_BLOCK = "sender_block"  # pause the identity at that provider; never suppress the recipient
    SOFT_PERSISTENT = "soft_persistent"  # mailbox full: retry a few times, then suppress
    COMPLAINT = "complaint"  # suppress everywhere in the tenant; counts toward the complaint rate
    PERMANENT = "permanent"  # the message itself is refused; not the recipient's fault


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# Rate texts: slow down even when the code is 5xx (Gmail 550 5.7.1 "rate limited", Microsoft 5.2.12x).
_RATE = _rx(
    r"rate limited",
    r"rate-limited",
    r"receive limit",
    r"\b5\.2\.12[12]\b",
    r"too many recipients",
    r"receiving (?:e-?mail|mail) (?:too quickly|at a rate)",
    r"mail too quickly",
    r"sending rate exceeded",
    r"daily message quota",
    r"daily (?:user sending|smtp relay) limit",
    r"exceeded permitted limits",
    r"max(?:imum)? message per connection",
    r"throttl",
)
_MAILBOX_FULL = _rx(
    r"\b[45]\.2\.2\b",
    r"over ?quota",
    r"out of storage",
    r"mailbox (?:size )?(?:limit )?exceeded",
    r"mailbox (?:is )?full",
    r"insufficient (?:system )?storage",
)
# Recipient-class texts: the address is bad, gone, or its own organisation refuses us.
_RECIPIENT = _rx(
    r"user unknown",
    r"unknown user",
    r"no such user",
    r"user not found",
    r"does not exist",
    r"doesn'?t have an? \S+ account",
    r"invalid (?:mailbox|recipient)",
    r"mailbox not found",
    r"mailbox unavailable",
    r"mailbox is disabled",
    r"account (?:is )?disabled",
    r"user is terminated",
    r"is no longer valid",
    r"is inactive",
    r"recipientnotfound",
    r"recipient address rejected",
    r"bad (?:recipient address|address mailbox) syntax",
    r"no correct recipients",
    r"not a valid rfc ?5321 address",
    r"find the recipient domain",
    r"policy rejection on the target address",
    r"customer block ?list",
    r"user or domain that you are sending to .{0,20}has a policy",
)
# Sender-class texts: our reputation, authentication or network is refused.
_SENDER = _rx(
    r"unsolicited",
    r"spam message (?:rejected|discarded)",
    r"suspicion of spam",
    r"blocked by spam statistics",
    r"client host \S* ?blocked",
    r"low reputation",
    r"\bS3150\b",
    r"banned sending ip",
    r"traffic not accepted",
    r"tenant has exceeded threshold",
    r"\[TSS(?:09|11)\]",
    r"\[BL2\d\]",
    r"spamhaus",
    r"block ?list",
    r"not accepted for policy reasons",
    r"\[PH01\]",
    r"unauthenticated",
    r"authentication level",
    r"dmarc",
    r"\b(?:SC|OU|DY)-00\d\b",
    r"message sending for this account is disabled",
)


def is_rate_signal(text: str, status: str = "") -> bool:
    """A receiving provider telling us to slow down (4.7.x, rate texts, Yahoo's TS deferrals), as
    opposed to a network hiccup (4.4.x) that says nothing about our rate."""
    status = status or enhanced_status(text)
    return (
        bool(_RATE.search(text))
        or status.startswith("4.7.")
        or bool(re.search(r"temporarily deferred|\[TSS?0\d\]|RP-00\d", text, re.IGNORECASE))
    )


def enhanced_status(text: str) -> str:
    match = _ENHANCED.search(text)
    return ".".join(match.groups()) if match else ""


def basic_code(text: str) -> int | None:
    match = _BASIC.search(text)
    return int(match.group(1)) if match else None


def classify(smtp_code: int | None, text: str, status: str = "") -> ResponseClass:
    """Classify one refusal from its basic code, text and enhanced status (any may be missing)."""
    status = status or enhanced_status(text)
    code = smtp_code or basic_code(text)
    if _RATE.search(text):
        return ResponseClass.THROTTLE
    transient = (code is not None and 400 <= code < 500) or status.startswith("4.")
    if _MAILBOX_FULL.search(text) or status in ("4.2.2", "5.2.2"):
        return ResponseClass.SOFT_PERSISTENT
    if transient:
        return ResponseClass.THROTTLE  # 4xx slows down; it never suppresses (design.md §4.7)
    if _RECIPIENT.search(text):
        return ResponseClass.HARD_BOUNCE
    if _SENDER.search(text):
        return ResponseClass.SENDER_BLOCK
    return _by_status(status, code)


def _by_status(status: str, code: int | None) -> ResponseClass:
    if status in ("5.1.7", "5.1.8"):
        return ResponseClass.SENDER_BLOCK  # our own sender address or domain is refused
    if status.startswith(("5.1.", "5.4.")) or status == "5.2.1":
        return ResponseClass.HARD_BOUNCE
    if status.startswith("5.7."):
        return ResponseClass.SENDER_BLOCK
    if status or (code is not None and code >= 500):
        return ResponseClass.PERMANENT
    return ResponseClass.THROTTLE  # no code at all: an API-level refusal; retrying is the safe side


# SES bounce types and subtypes (deliverability.md §3.6). The diagnostic refines them: SES reports
# policy blocks ("550 5.7.1 ... unsolicited") as Permanent/General, and those must not suppress.
_SES_TRANSIENT = {
    "MailboxFull": ResponseClass.SOFT_PERSISTENT,
    "MessageTooLarge": ResponseClass.PERMANENT,
    "ContentRejected": ResponseClass.PERMANENT,
    "AttachmentRejected": ResponseClass.PERMANENT,
}


def classify_bounce(bounce_type: str, subtype: str, status: str = "", diagnostic: str = "") -> ResponseClass:
    """An SES Bounce record (bounceType, bounceSubType, status, diagnosticCode) -> class."""
    if bounce_type == "Permanent" and subtype in ("OnAccountSuppressionList", "Suppressed", "NoEmail"):
        return ResponseClass.HARD_BOUNCE
    if diagnostic or status:
        verdict = classify(None, diagnostic, status)
        # A rate refusal SES gave up on after retrying for hours: a soft failure, never a suppression.
        return ResponseClass.SOFT_PERSISTENT if verdict is ResponseClass.THROTTLE else verdict
    if bounce_type == "Permanent":
        return ResponseClass.HARD_BOUNCE
    if bounce_type == "Transient":
        return _SES_TRANSIENT.get(subtype, ResponseClass.SOFT_PERSISTENT)
    return ResponseClass.PERMANENT
