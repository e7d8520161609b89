"""An outbound email as the core composes it, and how a provider's answer is expressed."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from outreach_core.domain.accounts import SmtpAccount
from outreach_core.domain.addresses import is_single_line


def _header_text(value: str) -> str:
    """What goes into a header line: CR/LF there would end the header and start another (injection)."""
    if not is_single_line(value):
        raise ValueError("a line break or control character in a header value")
    return value


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    name: str = ""

    _one_line = field_validator("name")(_header_text)

    @field_validator("email")
    @classmethod
    def _wire_form(cls, value: str) -> str:
        if not value.isascii() or not is_single_line(value) or " " in value or value.count("@") != 1:
            raise ValueError("not an address in its ASCII wire form (no SMTPUTF8)")
        return value


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
    account: SmtpAccount | None = Field(
        default=None, description="the identity's own SMTP account (secret references only); None: default"
    )

    _one_line = field_validator("reply_to", "subject", "message_id")(_header_text)

    @field_validator("headers")
    @classmethod
    def _header_lines(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not name.isascii() or not name.replace("-", "").isalnum():
                raise ValueError(f"header name {name[:40]!r} is not a header name")
            _header_text(text)
        return value


class SendReceipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider_message_id: str
    rfc_message_id: str = Field(description="the Message-ID the recipient sees (SES rewrites ours)")
    region: str = ""
    # smtp: the receiving server accepted it, and no delivery report will follow (only bounces, as
    # DSNs over IMAP); ses (and its simulator): delivery and bounce events follow.
    transport: str = ""


class MailError(Exception):
    """Base for provider answers other than acceptance. Carries the provider's own words."""

    def __init__(
        self, message: str, *, smtp_code: int | None = None, status: str = "", text: str = "", stage: str = ""
    ) -> None:
        super().__init__(message)
        self.smtp_code = smtp_code
        self.status = status  # enhanced status code, e.g. 5.1.1
        self.text = text or message
        self.stage = stage  # SMTP: connect | MAIL FROM | RCPT TO | DATA | end of DATA


class MailRefused(MailError):
    """The provider answered and did not take the message. The adapter reports the reply as it came;
    what it means (slow down, retry, bounce, block) is decided by the core's response policy."""


class MailThrottled(MailRefused):
    """The sending API refused for rate reasons (SES throttling, daily quota): its own error code."""

    def __init__(self, message: str, *, retry_after: timedelta | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class MailRejected(MailRefused):
    """The sending API refused the message itself (SES MessageRejected, an unverified sender)."""


class MailTransientError(MailError):
    """Not handed over and no reply to go by (connection refused or lost before the message, an API
    that could not be reached): may work later."""


class MailSendingPaused(MailError):
    """The provider stopped all sending for us (SES SendingPaused / AccountSuspended, SMTP login
    refused): stop and alert."""


class MailUnencodable(MailRejected):
    """The message could not be turned into what the provider takes (MIME bytes): nothing was handed
    over, and the same message never will be. A rendering failure, never `uncertain`."""


class MailOutcomeUnknown(MailError):
    """The provider may have accepted the message (timeout after handing it over). Never resend blindly."""
