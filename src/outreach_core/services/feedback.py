"""Feedback: delivery events update jobs, leads, suppression and the auto-stop windows.

Each event is applied once: its id is claimed in the same atomic write that moves the job, so a
redelivered event (SNS retries, duplicate SES publishing) changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from outreach_core.domain.events import BounceKind, DeliveryEvent, EventType
from outreach_core.domain.ids import email_hash
from outreach_core.domain.jobs import JobStatus, MessageJob, can_transition
from outreach_core.domain.models import Campaign, Lead
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.policies.autostop import BOUNCED, COMPLAINED, DELIVERED, SlidingWindow
from outreach_core.policies.providers import Provider
from outreach_core.policies.responses import ResponseClass, classify_bounce, classify_delay
from outreach_core.ports import Clock, ConditionFailed, Key, Metrics, Put
from outreach_core.records import Records
from outreach_core.services.audit import AuditTrail
from outreach_core.services.guard import GuardAction, ReputationGuard
from outreach_core.services.replies import ReplyService
from outreach_core.services.sequence import next_step_timer
from outreach_core.services.suppression import SuppressionService
from outreach_core.telemetry import FEEDBACK_EVENT, FEEDBACK_IGNORED, NullMetrics

log = structlog.get_logger(__name__)

__all__ = ["FeedbackResult", "FeedbackService", "ReplyService"]  # ReplyService lives in services.replies

_BOUNCE_TYPE = {BounceKind.HARD: "Permanent", BounceKind.SOFT: "Transient"}
_MAYBE_UNRECORDED = frozenset({JobStatus.SENDING, JobStatus.UNCERTAIN})
_TARGET = {
    EventType.SENT: JobStatus.SENT,
    EventType.DELIVERED: JobStatus.DELIVERED,
    EventType.BOUNCE: JobStatus.BOUNCED,
    EventType.COMPLAINT: JobStatus.COMPLAINED,
    EventType.REJECT: JobStatus.FAILED,
    EventType.RENDERING_FAILURE: JobStatus.FAILED,
}


@dataclass
class FeedbackResult:
    event_id: str
    applied: bool
    detail: str = ""
    actions: list[GuardAction] = field(default_factory=list)


class FeedbackService:
    def __init__(
        self,
        records: Records,
        clock: Clock,
        guard: ReputationGuard,
        suppression: SuppressionService,
        metrics: Metrics | None = None,
    ) -> None:
        self.records = records
        self.clock = clock
        self.guard = guard
        self.suppression = suppression
        self.audit = AuditTrail(records)
        self.metrics = metrics or NullMetrics()

    def handle(self, events: Sequence[DeliveryEvent]) -> list[FeedbackResult]:
        # One read-ahead scope for the batch: its events' jobs, leads, policies and windows in two
        # round trips, not two per event. The writes keep their own conditions (read_ahead.py).
        with self.records.read_ahead():
            self._prefetch(events)
            results = [self._apply(event) for event in events]
        for event, result in zip(events, results, strict=True):
            if result.applied:
                self.metrics.emit(FEEDBACK_EVENT, 1, "Count", EventType=event.event_type.value)
            else:
                reason = {"duplicate event": "duplicate", "no job for this message": "unmatched"}
                self.metrics.emit(FEEDBACK_IGNORED, 1, "Count", Reason=reason.get(result.detail, "no_change"))
        return results

    def _prefetch(self, events: Sequence[DeliveryEvent]) -> None:
        """What the batch's events name, then the identity windows of the jobs found among them."""
        if len(events) < 2:
            return  # `_apply` reads the one event's items ahead itself
        self.records.prefetch([key for event in events for key in self._event_keys(event)])
        senders: dict[str, set[str]] = {}
        for event in events:
            if event.tenant_id and event.job_id and event.event_type is not EventType.SENT:
                job = self.records.job(event.tenant_id, event.job_id)
                if job is not None and job.sender_id:
                    senders.setdefault(job.tenant_id, set()).add(job.sender_id)
        self.records.prefetch(
            [
                key
                for tenant, ids in senders.items()
                for key in self.guard.identity_window_keys(tenant, sorted(ids))
            ]
        )

    def _find_job(self, event: DeliveryEvent) -> MessageJob | None:
        if event.tenant_id and event.job_id:
            job = self.records.job(event.tenant_id, event.job_id)
            if job is not None:
                return job
        return self.records.job_by_message_id(event.message_id)

    def _apply(self, event: DeliveryEvent) -> FeedbackResult:
        # Within the batch's read-ahead scope: what was not read ahead for the batch, read now.
        with self.records.read_ahead():
            self.records.prefetch(self._event_keys(event))
            job = self._find_job(event)
            if job is None:
                log.warning(
                    "feedback.unmatched", event_type=event.event_type.value, message_id=event.message_id
                )
                return FeedbackResult(event.event_id, False, "no job for this message")
            if job.sender_id:
                self.records.prefetch(self.guard.identity_window_keys(job.tenant_id, [job.sender_id]))
            structlog.contextvars.bind_contextvars(
                tenant_id=job.tenant_id, campaign_id=job.campaign_id, job_id=job.job_id
            )
            try:
                return self._apply_to(job, event)
            finally:
                structlog.contextvars.unbind_contextvars("tenant_id", "campaign_id", "job_id")

    def _event_keys(self, event: DeliveryEvent) -> list[Key]:
        """What an event's tags name: its job, and what the job id says about its lead and campaign
        (a Send event needs only its job: it has no consequences)."""
        if not (event.tenant_id and event.job_id):
            return []
        keys = [self.records.job_key(event.tenant_id, event.job_id)]
        parts = event.job_id.split("_")
        if len(parts) == 3 and event.event_type is not EventType.SENT:  # job_id_for(campaign, lead, step)
            keys.append(self.records.entity_key(Lead, event.tenant_id, parts[1]))
            keys += self.guard.window_keys(event.tenant_id, parts[0])
        return keys

    def _apply_to(self, job: MessageJob, event: DeliveryEvent) -> FeedbackResult:
        now = self.clock.now()
        if event.event_type is EventType.SENT and self._moved(job, event, now) is None:
            # The provider took a message we recorded as sent: nothing changes and nothing follows, so
            # there is nothing to apply only once (no dedupe claim, no write).
            return FeedbackResult(event.event_id, True, "already recorded as sent")
        claim = self.records.event_claim(job.tenant_id, event.event_id, now)
        # A delivery's windows go in the same write as the job (one transaction, not three more writes);
        # should a window move meanwhile, the job is written alone and the guard updates them itself.
        fold = event.event_type is EventType.DELIVERED
        recorded: dict[str, SlidingWindow] | None = None
        for _ in range(3):
            updated = self._moved(job, event, now)
            windows, puts = self.guard.outcome_puts(job, DELIVERED) if fold else ({}, [])
            try:
                if updated is None:
                    self.records.store.write(claim, *puts)
                else:
                    self.records.save_job(updated, claim, *self._sequence_goes_on(job, updated), *puts)
                recorded = windows if fold else None
                break
            except ConditionFailed as exc:
                if exc.sort == claim.sort:
                    return FeedbackResult(event.event_id, False, "duplicate event")
                if exc.sort.startswith("WIN#"):
                    fold = False
                    continue
                fresh = self.records.job(job.tenant_id, job.job_id)
                if fresh is None:
                    return FeedbackResult(event.event_id, False, "job vanished")
                job = fresh
        else:
            raise ConditionFailed(claim.partition, claim.sort)
        if updated is not None and job.status in _MAYBE_UNRECORDED:
            self.audit.record(
                job.tenant_id, now, "system:feedback", "job.reconciled", job.job_id,
                f"{job.status.value} -> {updated.status.value} from a {event.event_type.value} event",
                message_id=event.message_id,
            )  # fmt: skip
        actions = self._consequences(updated or job, event, now, recorded)
        log.info("feedback.applied", event_type=event.event_type.value, status=(updated or job).status.value)
        return FeedbackResult(event.event_id, True, actions=actions)

    def _moved(self, job: MessageJob, event: DeliveryEvent, now: datetime) -> MessageJob | None:
        """The job after this event, or None when the event does not change it."""
        if event.event_type is EventType.BOUNCE and event.bounce_kind is not BounceKind.HARD:
            target = JobStatus.BOUNCED if event.bounce_kind is BounceKind.SOFT else None
        else:
            target = _TARGET.get(event.event_type)
        if target is None:
            return None
        if job.status in _MAYBE_UNRECORDED:
            # Reconciliation: the provider had it, though our record of the send was lost.
            job = job.moved(
                JobStatus.SENT,
                now,
                "reconciled from the provider's events",
                provider_message_id=job.provider_message_id or event.message_id,
                rfc_message_id=job.rfc_message_id or event.rfc_message_id or None,
                subject=job.subject or event.subject,
                sent_at=job.sent_at or event.timestamp,
                lease_until=None,
            )
            if target is JobStatus.SENT:
                return job
        if job.status is target or not can_transition(job.status, target):
            return None
        reason = (
            event.bounce_subtype or event.complaint_type or event.diagnostic[:200] or event.event_type.value
        )
        return job.moved(target, now, reason)

    def _sequence_goes_on(self, before: MessageJob, after: MessageJob | None) -> list[Put]:
        """A reconciled send starts the next step's timer, as the sender would have."""
        if after is None or before.status not in _MAYBE_UNRECORDED or after.sent_at is None:
            return []
        campaign = self.records.find(Campaign, after.tenant_id, after.campaign_id)
        timer = next_step_timer(campaign, after, after.sent_at) if campaign else None
        return [self.records.timer_put(timer)] if timer else []

    def _consequences(
        self,
        job: MessageJob,
        event: DeliveryEvent,
        now: datetime,
        recorded: dict[str, SlidingWindow] | None = None,
    ) -> list[GuardAction]:
        if event.event_type is EventType.DELIVERED:  # no address needed: the lead is not read
            return self.guard.on_outcome(job, DELIVERED, recorded)
        lead = self.records.find(Lead, job.tenant_id, job.lead_id)
        recipient = event.recipient or (lead.email if lead else "")
        match event.event_type:
            case EventType.DEFERRED:
                self._deferral(job, event, recipient)
                return []
            case EventType.BOUNCE:
                return self._bounce(job, event, recipient, now)
            case EventType.COMPLAINT:
                if recipient:
                    self.suppression.suppress(
                        job.tenant_id, recipient, SuppressionReason.COMPLAINT, source=event.event_id, at=now
                    )
                return self.guard.on_outcome(job, COMPLAINED) if event.counts_as_complaint else []
            case EventType.SUBSCRIPTION:
                if recipient and event.opted_out:
                    self.suppression.suppress(
                        job.tenant_id, recipient, SuppressionReason.UNSUBSCRIBE, source=event.event_id, at=now
                    )
                return []
            case _:
                return []

    def _provider(self, recipient: str) -> Provider:
        if not recipient:
            return Provider.OTHER
        return self.guard.limiter.directory.provider(recipient.rsplit("@", 1)[-1])

    def _deferral(self, job: MessageJob, event: DeliveryEvent, recipient: str) -> None:
        """SES is still retrying: a rate signal at most (never a bounce, never a suppression)."""
        verdict = classify_delay(event.delay_type, event.status_code, event.diagnostic)
        if verdict.cls is ResponseClass.RATE_LIMIT:
            self.guard.on_deferral(job, self._provider(recipient), event.diagnostic or event.delay_type)

    def _bounce(
        self, job: MessageJob, event: DeliveryEvent, recipient: str, now: datetime
    ) -> list[GuardAction]:
        """One SES bounce, decided by the response policy (policies.responses.classify_bounce)."""
        bounce_type = (
            _BOUNCE_TYPE.get(event.bounce_kind, "Undetermined") if event.bounce_kind else "Undetermined"
        )
        verdict = classify_bounce(bounce_type, event.bounce_subtype, event.status_code, event.diagnostic)
        detail = f"{verdict.cls.value}: {event.diagnostic or event.bounce_subtype or bounce_type}"
        provider = self._provider(recipient)
        if verdict.suppress and recipient:
            self.suppression.suppress(
                job.tenant_id, recipient, SuppressionReason.HARD_BOUNCE, source=event.event_id, at=now
            )
        if verdict.soft_bounce:
            self._soft_bounce(job.tenant_id, recipient, event, now)
        if verdict.rate_cut:
            self.guard.on_deferral(job, provider, detail)
        if verdict.pause_at_provider and job.sender_id:
            # A policy block reported as a bounce: pause the identity at that provider; the
            # recipient did nothing wrong.
            self.guard.sender_block(job.tenant_id, job.sender_id, provider, detail)
        if verdict.alert:
            self.guard.reply_alert(job, verdict.alert, provider, detail)
        return self.guard.on_outcome(job, BOUNCED) if verdict.counts_as_bounce else []

    def _soft_bounce(self, tenant_id: str, recipient: str, event: DeliveryEvent, now: datetime) -> None:
        """Soft bounces SES gave up on: after the policy's count the address is suppressed."""
        if not recipient:
            return
        sort = f"SOFT#{email_hash(recipient)}"
        for _ in range(3):
            doc, version = self.records.state(tenant_id, sort)
            count = int(doc.get("count", 0)) + 1
            try:
                self.records.store.write(self.records.state_put(tenant_id, sort, {"count": count}, version))
                break
            except ConditionFailed:
                continue
        else:
            return
        if count >= self.suppression.policy.soft_bounces_before_suppress:
            self.suppression.suppress(
                tenant_id, recipient, SuppressionReason.SOFT_BOUNCE_REPEATED, source=event.event_id, at=now
            )
