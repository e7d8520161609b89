"""An outbound email as the core composes it, and how a provider's answer is expressed."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    name: str = ""


class OutboundEmail(BaseModel):
    """Everything a provider needs; adapters turn it into MIME or an API call, and decide nothing."""

    model_config = ConfigDict(frozen=True)

    sender: Address
    recipient: Address
    reply_to: str = ""
    subject: str
    text: str
    html: str | None = None
    message_id: str = Field(description="our RFC 5322 Message-ID, with angle brackets")
    headers: dict[str, str] = Field(
        default_factory=dict, description="List-Unsubscribe, threading, X-Outreach-Ref"
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="tenant, campaign, job, ikey; SES EmailTags"
    )


class SendReceipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider_message_id: str
    rfc_message_id: str = Field(description="the Message-ID the recipient sees (SES rewrites ours)")
    region: str = ""


class MailError(Exception):
    """Base for provider answers other than acceptance. Carries the provider's own words."""

    def __init__(
        self, message: str, *, smtp_code: int | None = None, status: str = "", text: str = ""
    ) -> None:
        super().__init__(message)
        self.smtp_code = smtp_code
        self.status = status  # enhanced status code, e.g. 5.1.1
        self.text = text or message


class MailThrottled(MailError):
    """Slow down: the provider refused for rate reasons and did not accept the message."""

    def __init__(self, message: str, *, retry_after: timedelta | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class MailTransientError(MailError):
    """Not accepted, may work later (4xx, connection refused before the message was handed over)."""


class MailRejected(MailError):
    """Permanently refused (5xx, invalid content, unverified sender): retrying will not help."""


class MailSendingPaused(MailError):
    """The provider stopped all sending for us (SES SendingPaused / AccountSuspended): stop and alert."""


class MailOutcomeUnknown(MailError):
    """The provider may have accepted the message (timeout after handing it over). Never resend blindly."""
