"""What the engine measures and what it alerts on: the catalogue every adapter and dashboard follows.

Metrics are few and their dimensions low-cardinality, because every distinct (name, dimensions)
pair is a separately billed CloudWatch metric ($0.30 a month each beyond the free ten). Per-tenant,
per-campaign and per-identity figures are not metrics: `outreach status` and `outreach report` read
them from the store. Rates (bounce, complaint, delivery) are metric math over these counts, e.g.
`100 * FeedbackEvent{EventType=bounce} / SendOutcome{Outcome=sent}`; SES also publishes its own
`Reputation.BounceRate` / `Reputation.ComplaintRate` (namespace AWS/SES) at no charge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from outreach_core.domain.events import EventType
from outreach_core.domain.mail import (
    MailError,
    MailOutcomeUnknown,
    MailRefused,
    MailRejected,
    MailSendingPaused,
    MailThrottled,
    MailTransientError,
    OutboundEmail,
    SendReceipt,
)
from outreach_core.ports import MailProvider, Metrics

# --- metric names ----------------------------------------------------------------------------------

SEND_OUTCOME = "SendOutcome"  # one per queue message the sender handled; dimension Outcome
PROVIDER_ERROR = "ProviderError"  # the provider refused a send (SES throttles / rejects); dimension Kind
FEEDBACK_EVENT = "FeedbackEvent"  # a provider event applied to a job; dimension EventType
FEEDBACK_IGNORED = "FeedbackIgnored"  # an event that changed nothing, or could not be read; dimension Reason
QUEUE_VISIBLE = "QueueVisible"  # messages waiting to be received; dimension Queue
QUEUE_IN_FLIGHT = "QueueInFlight"
QUEUE_DELAYED = "QueueDelayed"
QUEUE_OLDEST_AGE = "QueueOldestAge"  # seconds the oldest waiting message has waited
DEAD_LETTERS = "DeadLetters"  # messages in the dead-letter queue


@dataclass(frozen=True)
class MetricSpec:
    unit: str
    dimensions: tuple[str, ...]
    seed_item: str  # which line of the seed's monitoring list it serves


METRICS: Mapping[str, MetricSpec] = {
    SEND_OUTCOME: MetricSpec("Count", ("Outcome",), "per-send success / fail; delivery rate denominator"),
    PROVIDER_ERROR: MetricSpec("Count", ("Kind",), "SES rejects / throttles"),
    FEEDBACK_EVENT: MetricSpec("Count", ("EventType",), "delivery / bounce / complaint rates"),
    FEEDBACK_IGNORED: MetricSpec("Count", ("Reason",), "feedback health (duplicates, unmatched)"),
    QUEUE_VISIBLE: MetricSpec("Count", ("Queue",), "queue depth"),
    QUEUE_IN_FLIGHT: MetricSpec("Count", ("Queue",), "queue depth"),
    QUEUE_DELAYED: MetricSpec("Count", ("Queue",), "queue depth"),
    QUEUE_OLDEST_AGE: MetricSpec("Seconds", ("Queue",), "age of the oldest message"),
    DEAD_LETTERS: MetricSpec("Count", ("Queue",), "DLQ size"),
}

# Every value a dimension may take. A value outside its set is a bug (and a CloudWatch bill): the
# strict in-memory adapter raises on it, the EMF adapter drops the value and logs.
SEND_OUTCOMES = frozenset(
    {
        "sent",
        "deferred",
        "retrying",
        "suppressed",
        "cancelled",
        "failed",
        "bounced",
        "dead_lettered",
        "uncertain",
        "skipped",
        "contended",
    }
)
PROVIDER_ERROR_KINDS = frozenset(
    {"throttled", "rejected", "refused", "sending_paused", "transient", "outcome_unknown"}
)
DIMENSION_VALUES: Mapping[str, frozenset[str]] = {
    "Outcome": SEND_OUTCOMES,
    "Kind": PROVIDER_ERROR_KINDS,
    "EventType": frozenset(e.value for e in EventType),
    "Reason": frozenset({"duplicate", "unmatched", "no_change", "malformed"}),
    "Queue": frozenset({"jobs", "events"}),
}


class MetricError(ValueError):
    """A metric or dimension outside the catalogue."""


def check(name: str, unit: str, dimensions: Mapping[str, str]) -> None:
    """Raise MetricError unless (name, unit, dimensions) is in the catalogue above."""
    spec = METRICS.get(name)
    if spec is None:
        raise MetricError(f"unknown metric {name!r}")
    if unit != spec.unit:
        raise MetricError(f"metric {name} is in {spec.unit}, not {unit}")
    if tuple(sorted(dimensions)) != tuple(sorted(spec.dimensions)):
        raise MetricError(f"metric {name} takes dimensions {spec.dimensions}, got {tuple(dimensions)}")
    for key, value in dimensions.items():
        if value not in DIMENSION_VALUES[key]:
            raise MetricError(f"dimension {key}={value!r} is not one of the known values")


class NullMetrics:
    """The default when no metrics adapter is wired: records nothing."""

    def emit(self, name: str, value: float = 1.0, unit: str = "Count", **dimensions: str) -> None:
        return None

    def flush(self) -> None:
        return None


# --- alert kinds -----------------------------------------------------------------------------------

ALERT_KINDS: Mapping[str, str] = {
    "campaign.paused": "auto-stop paused a campaign (bounce rate over its threshold); emitted by the guard",
    "identity.blocked": "auto-stop blocked a sender identity (complaint rate); emitted by the guard",
    "identity.paused": "the provider blocked an identity (5.7.x) or a person paused it; emitted by the guard",
    "rate.lowered": "deferrals / throttles lowered an identity's or provider's send rate; policy engine",
    "identity.auth_failed": "a provider refused an identity's mail for SPF / DKIM / DMARC / TLS; the sender",
    "content.rejected": "a provider refused a message for its content or size; emitted by the sender",
    "rate.restored": "a lowered send rate recovered to its target; policy engine",
    "dlq.not_empty": "the dead-letter queue holds messages; emitted by the queue monitor",
    "feedback.rejected": "provider payloads that could not be applied (kept in the archive); event ingestor",
    "failover.engaged": "sending moved to the secondary SES region; emitted by the failover mailer",
    "failover.returned": "sending is back on the primary SES region; emitted by the failover mailer",
    "budget.threshold": "AWS Budgets crossed a threshold (forwarded from the alert topic)",
    "alarm": "a CloudWatch alarm changed state (forwarded from the alert topic)",
    "test": "`outreach alerts test`: checks that the channels deliver",
}

# --- a mail provider that counts refusals ----------------------------------------------------------

_ERROR_KIND: tuple[tuple[type[MailError], str], ...] = (
    (MailThrottled, "throttled"),
    (MailSendingPaused, "sending_paused"),
    (MailOutcomeUnknown, "outcome_unknown"),
    (MailRejected, "rejected"),
    (MailRefused, "refused"),
    (MailTransientError, "transient"),
)


def error_kind(exc: MailError) -> str:
    for cls, kind in _ERROR_KIND:
        if isinstance(exc, cls):
            return kind
    return "transient"


class MeteredMailProvider:
    """Wraps a MailProvider: counts what the provider refused (SES throttles and rejects), by kind.
    Acceptances are counted by the sender's SendOutcome{Outcome=sent}, so they are not repeated here."""

    def __init__(self, inner: MailProvider, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.name = inner.name

    def send(self, email: OutboundEmail) -> SendReceipt:
        try:
            return self.inner.send(email)
        except MailError as exc:
            self.metrics.emit(PROVIDER_ERROR, 1, "Count", Kind=error_kind(exc))
            raise


class CatalogueGate:
    """Admits a series once it passes the catalogue (each series is checked only once: the catalogue
    is fixed). Strict gates raise; lenient ones log and drop what the catalogue does not know."""

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self._valid: set[tuple[object, ...]] = set()

    def admits(self, name: str, unit: str, dimensions: Mapping[str, str]) -> bool:
        signature = (name, unit, *sorted(dimensions.items()))
        if signature in self._valid:
            return True
        try:
            check(name, unit, dimensions)
        except MetricError:
            if self.strict:
                raise
            structlog.get_logger(__name__).warning(
                "metrics.rejected", metric=name, dimensions=dict(dimensions)
            )
            return False
        self._valid.add(signature)
        return True
