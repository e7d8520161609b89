"""MailProvider on SES v2 SendEmail with raw MIME content, so our own headers go out unchanged.

The message is built by adapters/mime.py (List-Unsubscribe, List-Unsubscribe-Post, In-Reply-To,
References, the opaque X-Outreach-Ref); SES replaces only Message-ID and Date. Sends carry the
configuration set (its event destinations publish to SNS) and EmailTags tenant / campaign / job / ikey,
which come back in every event's `mail.tags`: the internal ids travel there, never in the headers.

SES answers are normalised to the MailError classes (reference: aws.md §1.4); the sender decides:

    TooManyRequests / Throttling, "Maximum sending rate exceeded"   MailThrottled (retry soon)
    "Daily message quota exceeded" (429 or LimitExceeded)          MailThrottled, retry_after 1 h
    SendingPaused / AccountSuspended                               MailSendingPaused (stop, alert)
    MessageRejected / NotFound / BadRequest / other LimitExceeded  MailRejected (never retried)
    MailFromDomainNotVerified                                      MailRejected, status 5.7.1
    connection never established                                   MailTransientError (not sent)
    5xx, read timeout, connection lost mid-request                 MailOutcomeUnknown (maybe sent)
    any other 4xx (AccessDenied...)                                MailTransientError (retried,
                                                                   then dead-lettered for a person)
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
)

from adapters.mime import to_bytes
from outreach_core.domain.mail import (
    MailError,
    MailOutcomeUnknown,
    MailRejected,
    MailSendingPaused,
    MailThrottled,
    MailTransientError,
    OutboundEmail,
    SendReceipt,
)
from outreach_core.ports import Clock

if TYPE_CHECKING:
    from mypy_boto3_sesv2.client import SESV2Client

IAM_ACTIONS = frozenset({"ses:SendEmail"})
DAILY_QUOTA_RETRY = timedelta(hours=1)  # the 24-hour window frees up gradually; look again hourly
_THROTTLE_CODES = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException"})
_PAUSED_CODES = frozenset(
    {
        "SendingPausedException",
        "AccountSuspendedException",
        "AccountSendingPausedException",
        "ConfigurationSetSendingPausedException",
    }
)
_REJECTED_CODES = frozenset(
    {"MessageRejected", "NotFoundException", "BadRequestException", "MailFromDomainNotVerifiedException"}
)
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

log = structlog.get_logger(__name__)


def rfc_message_id(message_id: str, region: str) -> str:
    """The Message-ID SES writes into the message: `email.amazonses.com` in us-east-1, else
    `<region>.amazonses.com` (what a recipient's reply quotes in In-Reply-To)."""
    host = "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"
    return f"<{message_id}@{host}>"


def email_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    """SES allows [A-Za-z0-9_-] up to 256 characters in tag names and values; others become `_`."""
    out = []
    for name, value in sorted(tags.items()):
        safe = _TAG_UNSAFE.sub("_", value)[:256] or "_"
        if safe != value:
            log.warning("ses.tag_rewritten", tag=name)
        out.append({"Name": _TAG_UNSAFE.sub("_", name)[:256], "Value": safe})
    return out


def mail_error(exc: ClientError) -> MailError:
    """An SES ClientError as the MailError the core understands."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    text = str(error.get("Message", "")) or code
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    detail = f"SES {code}: {text}"
    if "daily message quota" in text.lower() and (
        code in _THROTTLE_CODES or code == "LimitExceededException"
    ):
        return MailThrottled(detail, retry_after=DAILY_QUOTA_RETRY, text=text)
    if code in _THROTTLE_CODES:
        return MailThrottled(detail, text=text)
    if code in _PAUSED_CODES:
        return MailSendingPaused(detail, text=text)
    if code == "MailFromDomainNotVerifiedException":
        return MailRejected(detail, status="5.7.1", text=text)  # the sender's set-up, not the recipient
    if code in _REJECTED_CODES or code == "LimitExceededException":
        return MailRejected(detail, text=text)
    if status >= 500:
        return MailOutcomeUnknown(detail, text=text)
    return MailTransientError(detail, text=text)


class SesMailer:
    def __init__(
        self,
        client: SESV2Client,
        region: str,
        clock: Clock,
        *,
        configuration_set: str = "",
    ) -> None:
        self.client = client
        self.region = region
        self.clock = clock
        self.configuration_set = configuration_set
        self.name = f"ses:{region}"

    def send(self, email: OutboundEmail) -> SendReceipt:
        request: dict[str, Any] = {
            "FromEmailAddress": email.sender.email,
            "Destination": {"ToAddresses": [email.recipient.email]},
            "Content": {"Raw": {"Data": to_bytes(email, self.clock.now())}},
            "EmailTags": email_tags(email.tags),
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            response = self.client.send_email(**request)
        except ClientError as exc:
            raise mail_error(exc) from exc
        except EndpointConnectionError as exc:  # includes connect timeouts: nothing reached SES
            raise MailTransientError(f"SES {self.region} unreachable: {exc}") from exc
        except ParamValidationError as exc:
            raise MailRejected(f"SES request invalid: {exc}") from exc
        except NoCredentialsError as exc:
            raise MailTransientError(f"no AWS credentials: {exc}") from exc
        except BotoCoreError as exc:  # read timeout, connection closed mid-request: SES may have it
            raise MailOutcomeUnknown(f"SES {self.region} call interrupted: {exc}") from exc
        message_id = response["MessageId"]
        return SendReceipt(
            provider_message_id=message_id,
            rfc_message_id=rfc_message_id(message_id, self.region),
            region=self.region,
            transport="ses",
        )
