"""A simulated SES: accepts messages like SES does and publishes SES-shaped events about them.

It honours the SES mailbox-simulator addresses (success@, bounce@, complaint@, ooto@,
suppressionlist@simulator.amazonses.com, with +labels) and otherwise draws each message's fate from
configurable outcome rates per recipient domain, optionally overridden per sender. Draws are hashed
from (seed, recipient, job), so a run is reproducible. Events go to a queue as SES event-publishing
JSON (the same records the AWS feedback path receives), with realistic delays.

It also keeps a ledger of every accepted message: the demo's duplicate and suppression checks read
what actually "went out", not what the engine believes it sent.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from outreach_core.domain.ids import stable_fraction, stable_seed
from outreach_core.domain.mail import MailThrottled, MailTransientError, OutboundEmail, SendReceipt
from outreach_core.ports import Clock, JobQueue, QueueMessage

SIMULATOR_DOMAIN = "simulator.amazonses.com"
OVER_QUOTA = "smtp; 452 4.2.2 The email account that you tried to reach is over quota"


class OutcomeRates(BaseModel):
    """Probabilities per message. Unset fields inherit (sender overrides -> domain -> default)."""

    model_config = ConfigDict(frozen=True)

    bounce: float | None = Field(default=None, ge=0, le=1)
    soft_bounce: float | None = Field(default=None, ge=0, le=1)
    complaint: float | None = Field(default=None, ge=0, le=1)
    delay: float | None = Field(default=None, ge=0, le=1, description="a DeliveryDelay before delivery")
    reply: float | None = Field(default=None, ge=0, le=1)
    auto_reply: float | None = Field(default=None, ge=0, le=1)
    throttle: float | None = Field(default=None, ge=0, le=1, description="refused with a throttling error")
    transient: float | None = Field(default=None, ge=0, le=1, description="refused with a transient error")

    def over(self, base: OutcomeRates) -> OutcomeRates:
        return base.model_copy(update=self.model_dump(exclude_none=True))

    def get(self, name: str) -> float:
        value = getattr(self, name)
        return float(value) if value is not None else 0.0


class Fault(BaseModel):
    """A time window in which some recipients (by domain) or senders (by address or domain) fare
    worse: a bounce storm, a complaint spike, a deferral storm at one provider, SES throttling, a
    regional outage (transient = 1). No domains and no senders: every message."""

    model_config = ConfigDict(frozen=True)

    name: str
    start: datetime
    end: datetime
    rates: OutcomeRates
    domains: list[str] = Field(default_factory=list)
    senders: list[str] = Field(default_factory=list)
    delay_diagnostic: str = ""

    def applies(self, at: datetime, email: OutboundEmail) -> bool:
        if not self.start <= at < self.end:
            return False
        domain = email.recipient.email.rsplit("@", 1)[-1].lower()
        sender = email.sender.email.lower()
        if self.domains and domain not in self.domains:
            return False
        return not self.senders or sender in self.senders or sender.rsplit("@", 1)[-1] in self.senders


class SimulatorProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    seed: str = "outreach"
    default: OutcomeRates = OutcomeRates(bounce=0.005, complaint=0.0, delay=0.02, reply=0.03, auto_reply=0.02)
    domains: dict[str, OutcomeRates] = Field(default_factory=dict)
    senders: dict[str, OutcomeRates] = Field(default_factory=dict, description="by sender address or domain")
    configuration_set: str = "outreach"
    region: str = "us-east-1"
    faults: list[Fault] = Field(default_factory=list)


@dataclass(frozen=True)
class LedgerEntry:
    at: datetime
    provider_message_id: str
    sender: str
    recipient: str
    subject: str
    tags: dict[str, str]


class SimulatedSesMailer:
    name = "ses-simulator"

    def __init__(self, events: JobQueue, clock: Clock, profile: SimulatorProfile | None = None) -> None:
        self.events = events
        self.clock = clock
        self.profile = profile or SimulatorProfile()
        self.ledger: list[LedgerEntry] = []
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        self._batch = threading.local()  # the events of the message being sent: one queue write
        self._base_rates: dict[tuple[str, str], OutcomeRates] = {}

    def rates_for(self, email: OutboundEmail) -> OutcomeRates:
        domain = email.recipient.email.rsplit("@", 1)[-1].lower()
        sender = email.sender.email.lower()
        rates = self._base_rates.get((domain, sender))
        if rates is None:  # the profile's rates for this recipient domain and sender: fixed, kept
            rates = self.profile.domains.get(domain, OutcomeRates()).over(self.profile.default)
            override = self.profile.senders.get(sender) or self.profile.senders.get(sender.rsplit("@", 1)[-1])
            rates = self._base_rates[(domain, sender)] = override.over(rates) if override else rates
        now = self.clock.now()
        for fault in self.profile.faults:
            if fault.applies(now, email):
                rates = fault.rates.over(rates)
        return rates

    def _delay_diagnostic(self, email: OutboundEmail) -> str:
        now = self.clock.now()
        for fault in self.profile.faults:
            if fault.delay_diagnostic and fault.applies(now, email):
                return fault.delay_diagnostic
        return "smtp; 421 4.4.1 Unable to connect to remote host"

    def _draw(self, email: OutboundEmail, what: str) -> float:
        return stable_fraction(
            self.profile.seed, what, email.recipient.email, email.tags.get("job", email.message_id)
        )

    def send(self, email: OutboundEmail) -> SendReceipt:
        rates = self.rates_for(email)
        key = email.tags.get("job", email.message_id)
        with self._lock:
            attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        if stable_fraction(self.profile.seed, "throttle", key, str(attempt)) < rates.get("throttle"):
            raise MailThrottled("Maximum sending rate exceeded.", text="Maximum sending rate exceeded.")
        if stable_fraction(self.profile.seed, "transient", key, str(attempt)) < rates.get("transient"):
            raise MailTransientError("Service unavailable (simulated)", text="503 Service Unavailable")
        now = self.clock.now()
        with self._lock:
            digest = f"{stable_seed(self.profile.seed, key, str(attempt)):016x}"
            message_id = f"0100{len(self.ledger):012x}-{digest[:8]}-{digest[8:12]}-{digest[12:]}-000000"
            self.ledger.append(
                LedgerEntry(
                    now,
                    message_id,
                    email.sender.email,
                    email.recipient.email,
                    email.subject,
                    dict(email.tags),
                )
            )
        self._batch.events = []
        try:
            self._publish(email, message_id, now, rates)
        finally:
            events, self._batch.events = self._batch.events, None
            if events:
                self.events.send_many(events)
        host = (
            "email.amazonses.com"
            if self.profile.region == "us-east-1"
            else f"{self.profile.region}.amazonses.com"
        )
        return SendReceipt(
            provider_message_id=message_id,
            rfc_message_id=f"<{message_id}@{host}>",
            region=self.profile.region,
            transport="ses",
        )

    # --- events -------------------------------------------------------------------------------------

    def _fate(self, email: OutboundEmail, rates: OutcomeRates) -> str:
        local, _, domain = email.recipient.email.lower().partition("@")
        if domain == SIMULATOR_DOMAIN:
            base = local.split("+", 1)[0]
            return {
                "bounce": "bounce",
                "complaint": "complaint",
                "ooto": "ooto",
                "suppressionlist": "suppressed",
            }.get(base, "delivered")
        draw = self._draw(email, "fate")
        for fate in ("bounce", "soft_bounce", "complaint"):
            if draw < rates.get(fate):
                return fate
            draw -= rates.get(fate)
        return "delivered"

    def _publish(self, email: OutboundEmail, message_id: str, now: datetime, rates: OutcomeRates) -> None:
        mail = self._mail(email, message_id, now)
        recipient = email.recipient.email
        self._emit("Send", mail, {"send": {}}, now, 0)
        fate = self._fate(email, rates)
        if fate in ("bounce", "suppressed"):
            subtype, status, diag = (
                (
                    "OnAccountSuppressionList",
                    "5.1.1",
                    "Amazon SES did not send the message to this address because "
                    "it is on the suppression list for your account.",
                )
                if fate == "suppressed"
                else ("General", "5.1.1", "smtp; 550 5.1.1 user unknown")
            )
            self._emit(
                "Bounce",
                mail,
                {
                    "bounce": {
                        "bounceType": "Permanent",
                        "bounceSubType": subtype,
                        "timestamp": _iso(now + timedelta(seconds=20)),
                        "feedbackId": f"{message_id}-bounce",
                        "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
                        "bouncedRecipients": [
                            {
                                "emailAddress": recipient,
                                "action": "failed",
                                "status": status,
                                "diagnosticCode": diag,
                            }
                        ],
                    }
                },
                now,
                20,
            )
            return
        if fate == "soft_bounce":
            self._emit(
                "Bounce",
                mail,
                {
                    "bounce": {
                        "bounceType": "Transient",
                        "bounceSubType": "MailboxFull",
                        "timestamp": _iso(now + timedelta(hours=6)),
                        "feedbackId": f"{message_id}-soft",
                        "bouncedRecipients": [
                            {
                                "emailAddress": recipient,
                                "action": "failed",
                                "status": "4.2.2",
                                "diagnosticCode": OVER_QUOTA,
                            }
                        ],
                    }
                },
                now,
                6 * 3600,
            )
            return
        delivered_after = 2
        if self._draw(email, "delay") < rates.get("delay"):
            self._emit(
                "DeliveryDelay",
                mail,
                {
                    "deliveryDelay": {
                        "delayType": "TransientCommunicationFailure",
                        "timestamp": _iso(now + timedelta(seconds=30)),
                        "expirationTime": _iso(now + timedelta(hours=12)),
                        "delayedRecipients": [
                            {
                                "emailAddress": recipient,
                                "status": "4.4.1",
                                "diagnosticCode": self._delay_diagnostic(email),
                            }
                        ],
                    }
                },
                now,
                30,
            )
            delivered_after = 900
        self._emit(
            "Delivery",
            mail,
            {
                "delivery": {
                    "timestamp": _iso(now + timedelta(seconds=delivered_after)),
                    "processingTimeMillis": delivered_after * 1000,
                    "recipients": [recipient],
                    "smtpResponse": "250 2.6.0 Message received",
                    "reportingMTA": "a8-70.smtp-out.amazonses.com",
                }
            },
            now,
            delivered_after,
        )
        if fate == "complaint":
            later = 3600 + int(self._draw(email, "complaint-at") * 5 * 3600)
            self._emit(
                "Complaint",
                mail,
                {
                    "complaint": {
                        "complainedRecipients": [{"emailAddress": recipient}],
                        "timestamp": _iso(now + timedelta(seconds=later)),
                        "feedbackId": f"{message_id}-complaint",
                        "complaintFeedbackType": "abuse",
                        "userAgent": "Yahoo!-Mail-Feedback/2.0",
                    }
                },
                now,
                later,
            )
        self._maybe_reply(email, message_id, now, rates, ooto=fate == "ooto")

    def _maybe_reply(
        self, email: OutboundEmail, message_id: str, now: datetime, rates: OutcomeRates, *, ooto: bool
    ) -> None:
        host = (
            "email.amazonses.com"
            if self.profile.region == "us-east-1"
            else f"{self.profile.region}.amazonses.com"
        )
        auto = ooto or self._draw(email, "auto") < rates.get("auto_reply")
        real = not auto and self._draw(email, "reply") < rates.get("reply")
        if not (auto or real):
            return
        after = 600 if auto else 3600 * (2 + int(self._draw(email, "reply-at") * 40))
        body = {
            "inboundReply": {
                "eventId": f"reply-{message_id}",
                "inReplyTo": f"<{message_id}@{host}>",
                "from": email.recipient.email,
                "timestamp": _iso(now + timedelta(seconds=after)),
                "autoSubmitted": auto,
                "tenant": email.tags.get("tenant"),
            }
        }
        self._queue(QueueMessage(body=json.dumps(body), group=email.tags.get("tenant", "-")), after)

    def _mail(self, email: OutboundEmail, message_id: str, now: datetime) -> dict[str, Any]:
        domain = email.sender.email.rsplit("@", 1)[-1]
        tags = {name: [value] for name, value in email.tags.items()}
        tags.update(
            {
                "ses:configuration-set": [self.profile.configuration_set],
                "ses:from-domain": [email.sender.email.rsplit("@", 1)[-1]],
            }
        )
        return {
            "timestamp": _iso(now),
            "source": email.sender.email,
            "sourceArn": f"arn:aws:ses:{self.profile.region}:123456789012:identity/{domain}",
            "sendingAccountId": "123456789012",
            "messageId": message_id,
            "destination": [email.recipient.email],
            "headersTruncated": False,
            "commonHeaders": {
                "from": [email.sender.email],
                "to": [email.recipient.email],
                "subject": email.subject,
            },
            "tags": tags,
        }

    def _emit(
        self, event_type: str, mail: dict[str, Any], detail: dict[str, Any], now: datetime, after_s: int
    ) -> None:
        body = json.dumps({"eventType": event_type, "mail": mail, **detail}, ensure_ascii=False)
        self._queue(QueueMessage(body=body, group=mail["tags"].get("tenant", ["-"])[0]), after_s)

    def _queue(self, message: QueueMessage, after_s: int) -> None:
        delay = min(after_s, self.events.max_delay_seconds)
        batch: list[tuple[QueueMessage, int]] | None = getattr(self._batch, "events", None)
        if batch is not None:
            batch.append((message, delay))
        else:
            self.events.send(message, delay_seconds=delay)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
