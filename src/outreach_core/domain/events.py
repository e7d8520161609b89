"""Delivery events: what providers tell us about a message, normalised to one vocabulary."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class EventType(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    DEFERRED = "deferred"
    REJECT = "reject"
    RENDERING_FAILURE = "rendering_failure"
    OPEN = "open"
    CLICK = "click"
    SUBSCRIPTION = "subscription"
    UNKNOWN = "unknown"


class BounceKind(StrEnum):
    HARD = "hard"  # SES Permanent: the address is bad
    SOFT = "soft"  # SES Transient: SES gave up retrying (mailbox full, too large, content rejected)
    UNDETERMINED = "undetermined"


class DeliveryEvent(BaseModel):
    """One event for one recipient. `event_id` is stable, so a redelivered event is processed once."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    event_type: EventType
    message_id: str
    timestamp: datetime
    recipient: str = ""
    tenant_id: str | None = None
    campaign_id: str | None = None
    job_id: str | None = None
    bounce_kind: BounceKind | None = None
    bounce_subtype: str = ""
    status_code: str = ""  # enhanced status code, e.g. 5.1.1
    diagnostic: str = ""
    complaint_type: str = ""  # the ISP's feedback type: abuse, fraud, not-spam, ...
    complaint_subtype: str = ""  # SES complaintSubType: OnAccountSuppressionList means SES did not send
    delay_type: str = ""  # DeliveryDelay: MailboxFull, SpamDetected, TransientCommunicationFailure, ...
    opted_out: bool = False  # Subscription: the recipient left the list (or a topic of it)
    subject: str = ""  # of the message, when the provider reports it (reconciliation records it)
    rfc_message_id: str = ""  # the Message-ID the recipient saw, when the provider's rule gives it
    provider_event_type: str = ""  # the provider's own name for it ("Rendering Failure", or an unknown one)
    provider_payload_ref: str = ""

    @property
    def counts_as_bounce(self) -> bool:
        """Counts toward the bounce rate the way SES counts it: hard bounces SES attempted, not addresses
        it never tried because they were on its account's or tenant's suppression list."""
        return (
            self.event_type is EventType.BOUNCE
            and self.bounce_kind is BounceKind.HARD
            and self.bounce_subtype not in ("OnAccountSuppressionList", "OnTenantSuppressionList")
        )

    @property
    def counts_as_complaint(self) -> bool:
        """A complaint SES reports for an address it did not mail (account suppression list) is not one."""
        return self.event_type is EventType.COMPLAINT and self.complaint_subtype != "OnAccountSuppressionList"


class ReplyKind(StrEnum):
    HUMAN = "human"  # a person answered: the lead's sequence stops
    UNSUBSCRIBE = "unsubscribe"  # a person asked to be left alone: stop and suppress
    AUTO_REPLY = "auto_reply"  # out of office, vacation: the sequence goes on, perhaps later
    AUTOMATED = "automated"  # other machine mail (delivery reports, ticket systems, lists): ignored


class InboundReply(BaseModel):
    """A message that came back to one of ours, as the inbound adapter read it.

    Matched by its In-Reply-To / References (our Message-IDs: the provider message id is the local
    part) or a reply token from the address it was sent to. `kind` is decided by the core's reply
    policy from the headers, subject and text when the adapter leaves it unset. The text is used for
    that decision only and is never stored."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    tenant_id: str | None = None
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    reply_tokens: tuple[str, ...] = ()
    sender: str
    received_at: datetime
    auto_reply: bool = False  # the adapter already knows it is automatic (the simulator does)
    kind: ReplyKind | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="lower-cased names of the signals")
    subject: str = ""
    text: str = Field(default="", description="the new part of the body, quoted history removed")
    payload_ref: str = ""
    mailbox: str = ""  # the sender identity whose IMAP mailbox it was read from ("" for SES inbound)
