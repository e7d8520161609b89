"""MessageJob and its status machine: the one place that says which transitions are allowed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from outreach_core.domain.addresses import redact_addresses
from outreach_core.domain.ids import Slug
from outreach_core.domain.models import Entity


class JobStatus(StrEnum):
    PLANNED = "planned"  # claimed by the planner, not (yet) in the queue
    QUEUED = "queued"  # a queue message exists for it
    SENDING = "sending"  # a sender holds the lease and may have handed it to the provider
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    FAILED = "failed"  # permanent error: not sent and never will be
    SUPPRESSED = "suppressed"  # the recipient was suppressed before it went out
    CANCELLED = "cancelled"  # stopped before sending (reply, unsubscribe, campaign paused)
    DEAD_LETTERED = "dead_lettered"  # transient errors exhausted its attempts
    UNCERTAIN = "uncertain"  # may or may not have been sent: a person decides, never auto-resent


# Terminal: no worker will act on the job again by itself. A person can still act on some of them
# (redrive a dead letter, resume a paused campaign), which is why a few transitions leave them.
TERMINAL = frozenset(
    {
        JobStatus.SENT,
        JobStatus.DELIVERED,
        JobStatus.BOUNCED,
        JobStatus.COMPLAINED,
        JobStatus.FAILED,
        JobStatus.SUPPRESSED,
        JobStatus.CANCELLED,
        JobStatus.DEAD_LETTERED,
        JobStatus.UNCERTAIN,
    }
)

# Statuses in which the provider may have accepted the message: never send such a job again.
MAYBE_SENT = frozenset(
    {
        JobStatus.SENDING,
        JobStatus.SENT,
        JobStatus.DELIVERED,
        JobStatus.BOUNCED,
        JobStatus.COMPLAINED,
        JobStatus.UNCERTAIN,
    }
)

_S = JobStatus
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    _S.PLANNED: frozenset({_S.QUEUED, _S.SENDING, _S.CANCELLED, _S.SUPPRESSED, _S.FAILED}),
    _S.QUEUED: frozenset({_S.PLANNED, _S.SENDING, _S.CANCELLED, _S.SUPPRESSED, _S.FAILED, _S.DEAD_LETTERED}),
    # Back to QUEUED only when the provider refused before accepting (throttle, 4xx, connection refused).
    _S.SENDING: frozenset(
        {_S.SENT, _S.QUEUED, _S.FAILED, _S.DEAD_LETTERED, _S.UNCERTAIN, _S.BOUNCED, _S.SUPPRESSED}
    ),
    # FAILED after SENT: the provider accepted, then refused to deliver (SES Reject, rendering failure).
    _S.SENT: frozenset({_S.DELIVERED, _S.BOUNCED, _S.COMPLAINED, _S.FAILED}),
    _S.DELIVERED: frozenset({_S.BOUNCED, _S.COMPLAINED}),
    _S.BOUNCED: frozenset({_S.COMPLAINED}),
    _S.COMPLAINED: frozenset(),
    _S.FAILED: frozenset(),
    _S.SUPPRESSED: frozenset(),
    # Reopened by a person: only ever reached from states in which nothing was sent.
    _S.CANCELLED: frozenset({_S.PLANNED}),
    _S.DEAD_LETTERED: frozenset({_S.QUEUED}),
    # Reconciled from the provider's events, or resolved by a person.
    _S.UNCERTAIN: frozenset({_S.SENT, _S.DELIVERED, _S.BOUNCED, _S.COMPLAINED, _S.FAILED}),
}


class TransitionError(ValueError):
    def __init__(self, job_id: str, current: JobStatus, target: JobStatus) -> None:
        super().__init__(f"job {job_id}: {current.value} -> {target.value} is not allowed")
        self.current = current
        self.target = target


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return target in ALLOWED[current]


class MessageJob(Entity):
    job_id: str
    tenant_id: Slug
    campaign_id: Slug
    lead_id: str
    step: int = Field(ge=1)
    template_id: Slug  # the step's template (the lead's A/B variant); set again when it is sent
    template_revision: int | None = None  # the revision that rendered it, once it was handed over
    sender_id: str | None = None
    scheduled_at: datetime
    idempotency_key: str
    status: JobStatus = JobStatus.PLANNED
    status_reason: str = ""
    attempts: int = 0
    not_before: datetime | None = None
    lease_until: datetime | None = None
    provider_message_id: str | None = None
    rfc_message_id: str | None = None
    subject: str = ""
    thread_message_id: str | None = Field(default=None, description="Message-ID this follow-up replies to")
    sent_at: datetime | None = None
    transport: str = ""  # what accepted it: smtp (no delivery reports follow) | ses | ses-simulator
    updated_at: datetime

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def moved(self, target: JobStatus, at: datetime, reason: str = "", **changes: object) -> MessageJob:
        """A copy in `target` status; raises TransitionError if the machine does not allow it. The
        reason is stored and shown: addresses quoted in it (provider texts do) are redacted."""
        if not can_transition(self.status, target):
            raise TransitionError(self.job_id, self.status, target)
        return self.model_copy(
            update={"status": target, "status_reason": redact_addresses(reason), "updated_at": at, **changes}
        )
