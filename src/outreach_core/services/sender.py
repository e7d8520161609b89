"""The sender: one queue message in, at most one email out.

Order of checks for each job: state (a job that may have gone out is never sent again), campaign
running, lead active, suppression (tenant + global, at send time), sending window, identity (sticky
for follow-ups, else smooth weighted round-robin over active identities under their daily caps),
rendering. Then `queued -> sending` by compare-and-set, together with the daily-cap reservation and a
lease timer; the provider call; `sending -> sent` with the provider's message id.

Waiting never burns the queue's receive count: a deferred job goes back as a new delayed message
(or, beyond the queue's maximum delay, is parked in the store for the planner to wake).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from outreach_core.domain.ids import job_id_for, stable_fraction
from outreach_core.domain.jobs import TERMINAL, JobStatus, MessageJob
from outreach_core.domain.mail import (
    MailError,
    MailOutcomeUnknown,
    MailRejected,
    MailSendingPaused,
    MailThrottled,
    MailTransientError,
    OutboundEmail,
)
from outreach_core.domain.models import (
    Campaign,
    CampaignStatus,
    IdentityStatus,
    Lead,
    LeadStatus,
    SenderIdentity,
    Template,
    Tenant,
)
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.policies.autostop import BOUNCED
from outreach_core.policies.backoff import retry_delay
from outreach_core.policies.responses import ResponseClass, classify
from outreach_core.policies.rotation import pick_weighted
from outreach_core.ports import (
    Clock,
    ConditionFailed,
    Delete,
    JobQueue,
    MailProvider,
    Metrics,
    Put,
    QueueMessage,
    ReceivedMessage,
)
from outreach_core.records import Records, Timer, TimerKind
from outreach_core.rendering.compose import Thread, compose
from outreach_core.rendering.reply_token import sign_reply
from outreach_core.rendering.templating import TemplateError
from outreach_core.rendering.unsubscribe import sign
from outreach_core.services.admin import PAUSED_BY_CAMPAIGN
from outreach_core.services.guard import ReputationGuard
from outreach_core.services.jobs import JobMessage, day_key
from outreach_core.services.sequence import next_step_timer
from outreach_core.services.suppression import SuppressionService
from outreach_core.telemetry import SEND_OUTCOME, NullMetrics

log = structlog.get_logger(__name__)

_CAS_ATTEMPTS = 3


class SenderConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    unsubscribe_base_url: str = "http://127.0.0.1:8025/unsubscribe"
    unsubscribe_secret: str = "change-me"
    lease: timedelta = timedelta(minutes=5)  # > the provider call's timeout; then the job is `uncertain`
    max_attempts: int = 5
    retry_base: timedelta = timedelta(minutes=2)
    sending_paused_backoff: timedelta = timedelta(hours=1)


class Outcome(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    RETRYING = "retrying"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    BOUNCED = "bounced"
    DEAD_LETTERED = "dead_lettered"
    UNCERTAIN = "uncertain"
    SKIPPED = "skipped"  # stale or duplicate message: nothing to do
    CONTENDED = "contended"  # lost compare-and-set races: leave the message for redelivery


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    job_id: str = ""
    detail: str = ""

    @property
    def redeliver(self) -> bool:
        """True: do not ack; let the queue bring the message back (SQS: a batch item failure)."""
        return self.outcome is Outcome.CONTENDED


@dataclass(frozen=True)
class _Context:
    tenant: Tenant
    campaign: Campaign
    lead: Lead


@dataclass(frozen=True)
class _Choice:
    identity: SenderIdentity
    thread: Thread | None
    reservation: list[Put] = field(default_factory=list)
    cap_sort: str = ""


@dataclass(frozen=True)
class _Wait:
    until: datetime
    reason: str


class SenderService:
    def __init__(
        self,
        records: Records,
        queue: JobQueue,
        mailer: MailProvider,
        clock: Clock,
        guard: ReputationGuard,
        suppression: SuppressionService,
        config: SenderConfig | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.records = records
        self.queue = queue
        self.mailer = mailer
        self.clock = clock
        self.guard = guard
        self.suppression = suppression
        self.config = config or SenderConfig()
        self.metrics = metrics or NullMetrics()

    def handle(self, message: ReceivedMessage) -> SendResult:
        result = self._handle(message)
        self.metrics.emit(SEND_OUTCOME, 1, "Count", Outcome=result.outcome.value)
        return result

    def _handle(self, message: ReceivedMessage) -> SendResult:
        try:
            ref = JobMessage.load(message.body)
        except ValidationError as exc:
            self.queue.dead_letter(message.receipt, f"malformed job message: {exc.errors()[0]['msg']}")
            log.error("sender.malformed_message", message_id=message.message_id)
            return SendResult(Outcome.DEAD_LETTERED, detail="malformed message")
        structlog.contextvars.bind_contextvars(tenant_id=ref.tenant_id, job_id=ref.job_id)
        try:
            for _ in range(_CAS_ATTEMPTS):
                job = self.records.job(ref.tenant_id, ref.job_id)
                if job is None:
                    log.warning("sender.unknown_job")
                    return SendResult(Outcome.SKIPPED, ref.job_id, "no such job")
                structlog.contextvars.bind_contextvars(campaign_id=job.campaign_id)
                try:
                    return self._process(job, message)
                except ConditionFailed:
                    continue  # the job or a policy document moved under us: read again
            return SendResult(Outcome.CONTENDED, ref.job_id, "lost compare-and-set repeatedly")
        finally:
            structlog.contextvars.unbind_contextvars("tenant_id", "job_id", "campaign_id")

    # --- the checks ---------------------------------------------------------------------------------

    def _process(self, job: MessageJob, message: ReceivedMessage) -> SendResult:
        now = self.clock.now()
        if job.status in TERMINAL:
            return SendResult(Outcome.SKIPPED, job.job_id, f"already {job.status.value}")
        if job.status is JobStatus.SENDING:
            return self._held(job, now)
        ctx = self._context(job)
        stop = self._stop_reason(job, ctx)
        if stop is not None:
            return stop
        step = ctx.campaign.step(job.step)
        window = (step.window or ctx.tenant.window).in_zone(ctx.lead.timezone)
        if not window.contains(now):
            opens = window.next_open(now)
            return self._defer(
                job,
                opens + timedelta(minutes=10) * stable_fraction(job.job_id, "window", str(opens)),
                "outside the sending window",
                now,
            )
        choice = self._choose_identity(job, ctx, now)
        if choice is None:
            self.guard.pause_campaign(
                job.tenant_id, job.campaign_id, "no active sender identity for its direction"
            )
            return self._finish(job, JobStatus.CANCELLED, PAUSED_BY_CAMPAIGN, now, Outcome.CANCELLED)
        if isinstance(choice, _Wait):
            return self._defer(job, choice.until, choice.reason, now)
        template = self.records.get(Template, job.tenant_id, job.template_id)
        try:
            email = compose(
                tenant=ctx.tenant,
                identity=choice.identity,
                lead=ctx.lead,
                template=template,
                job=job,
                unsubscribe_url=self.unsubscribe_url(job.tenant_id, job.lead_id),
                thread=choice.thread,
                reply_token=sign_reply(self.config.unsubscribe_secret, job.tenant_id, job.lead_id),
            )
        except TemplateError as exc:
            return self._finish(job, JobStatus.FAILED, f"template: {exc}", now, Outcome.FAILED)
        return self._send(job, choice, email, message, now)

    def unsubscribe_url(self, tenant_id: str, lead_id: str) -> str:
        token = sign(self.config.unsubscribe_secret, tenant_id, lead_id)
        return f"{self.config.unsubscribe_base_url.rstrip('/')}/{token}"

    def _held(self, job: MessageJob, now: datetime) -> SendResult:
        """Another delivery of a message whose job is `sending`: a live lease is left alone; an expired
        one means that sender died after maybe handing the email over, so the job becomes uncertain."""
        if job.lease_until and job.lease_until > now:
            return SendResult(Outcome.SKIPPED, job.job_id, "being sent by another worker")
        reason = "redelivered after its sender stopped mid-send; outcome unknown"
        self.records.save_job(
            job.moved(JobStatus.UNCERTAIN, now, reason), self.records.timer_delete(self._lease(job))
        )
        log.warning("job.uncertain", reason=reason)
        return SendResult(Outcome.UNCERTAIN, job.job_id, reason)

    def _context(self, job: MessageJob) -> _Context:
        return _Context(
            tenant=self.records.tenant(job.tenant_id),
            campaign=self.records.get(Campaign, job.tenant_id, job.campaign_id),
            lead=self.records.get(Lead, job.tenant_id, job.lead_id),
        )

    def _stop_reason(self, job: MessageJob, ctx: _Context) -> SendResult | None:
        now = self.clock.now()
        if ctx.campaign.status is not CampaignStatus.RUNNING:
            reason = (
                PAUSED_BY_CAMPAIGN
                if ctx.campaign.status is CampaignStatus.PAUSED
                else f"campaign {ctx.campaign.status.value}"
            )
            return self._finish(job, JobStatus.CANCELLED, reason, now, Outcome.CANCELLED)
        entry = self.records.suppression_for(job.tenant_id, ctx.lead.email)
        if entry is not None:
            return self._finish(
                job,
                JobStatus.SUPPRESSED,
                f"{entry.scope.value} suppression: {entry.reason.value}",
                now,
                Outcome.SUPPRESSED,
            )
        if ctx.lead.status is not LeadStatus.ACTIVE:
            return self._finish(
                job, JobStatus.CANCELLED, f"lead {ctx.lead.status.value}", now, Outcome.CANCELLED
            )
        return None

    def _choose_identity(self, job: MessageJob, ctx: _Context, now: datetime) -> _Choice | _Wait | None:
        identities = [
            i for i in self.records.all(SenderIdentity, job.tenant_id) if i.serves(ctx.campaign.direction_id)
        ]
        active = {i.id: i for i in identities if i.status is IdentityStatus.ACTIVE}
        if not active:
            return None
        day = day_key(now)
        usage = {i: self.records.state(job.tenant_id, f"CAP#{i}#{day}") for i in active}
        room = {i: ident for i, ident in active.items() if usage[i][0].get("count", 0) < ident.daily_cap}
        tomorrow = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
        wait = _Wait(
            tomorrow + timedelta(minutes=30) * stable_fraction(job.job_id, day),
            "identities at their daily cap",
        )
        first = self._thread(job, ctx.campaign)
        fresh: Thread | None = None
        if first is not None:
            first_sender, thread = first
            if first_sender in room:
                return self._reserve(room[first_sender], thread, usage[first_sender], job, day, [])
            if first_sender in active:
                return wait  # keep the thread with its sender: wait for its cap to free up
            fresh = Thread(
                message_id=None, subject=thread.subject
            )  # its sender is gone: same subject, new thread
        if not room:
            return wait
        rotation_sort = f"ROT#{ctx.campaign.direction_id}"
        rotation, rotation_version = self.records.state(job.tenant_id, rotation_sort)
        chosen, scores = pick_weighted(rotation.get("scores", {}), {i: room[i].weight for i in sorted(room)})
        assert chosen is not None  # room is non-empty
        rotate = self.records.state_put(job.tenant_id, rotation_sort, {"scores": scores}, rotation_version)
        return self._reserve(room[chosen], fresh, usage[chosen], job, day, [rotate])

    def _thread(self, job: MessageJob, campaign: Campaign) -> tuple[str, Thread] | None:
        if job.step == 1 or not campaign.step(job.step).thread:
            return None
        first = self.records.job(job.tenant_id, job_id_for(job.campaign_id, job.lead_id, 1))
        if first is None or not first.sender_id or not (first.rfc_message_id or first.subject):
            return None
        # Without the Message-ID (a send recorded by a person) the follow-up keeps the subject, fresh.
        return first.sender_id, Thread(message_id=first.rfc_message_id, subject=first.subject)

    def _reserve(
        self,
        identity: SenderIdentity,
        thread: Thread | None,
        usage: tuple[dict[str, int], int],
        job: MessageJob,
        day: str,
        extra: list[Put],
    ) -> _Choice:
        doc, version = usage
        sort = f"CAP#{identity.id}#{day}"
        expires = int((datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=3)).timestamp())
        cap = self.records.state_put(
            job.tenant_id, sort, {"count": doc.get("count", 0) + 1}, version, ttl=expires
        )
        return _Choice(identity=identity, thread=thread, reservation=[cap, *extra], cap_sort=sort)

    # --- sending ------------------------------------------------------------------------------------

    def _lease(self, job: MessageJob) -> Timer:
        return Timer(
            tenant_id=job.tenant_id,
            at=job.lease_until or job.updated_at,
            kind=TimerKind.LEASE,
            job_id=job.job_id,
            campaign_id=job.campaign_id,
            lead_id=job.lead_id,
            step=job.step,
        )

    def _send(
        self, job: MessageJob, choice: _Choice, email: OutboundEmail, message: ReceivedMessage, now: datetime
    ) -> SendResult:
        sending = job.moved(
            JobStatus.SENDING,
            now,
            attempts=job.attempts + 1,
            sender_id=choice.identity.id,
            lease_until=now + self.config.lease,
            thread_message_id=choice.thread.message_id if choice.thread else None,
        )
        lease = self._lease(sending)
        sending = self.records.save_job(sending, self.records.timer_put(lease), *choice.reservation)
        try:
            receipt = self.mailer.send(email)
        except MailError as exc:
            return self._refused(sending, choice, exc, message)
        except Exception as exc:
            return self._uncertain(sending, f"provider call failed unexpectedly: {type(exc).__name__}: {exc}")
        sent_at = self.clock.now()
        sent = sending.moved(
            JobStatus.SENT,
            sent_at,
            provider_message_id=receipt.provider_message_id,
            rfc_message_id=receipt.rfc_message_id,
            sent_at=sent_at,
            subject=email.subject,
            lease_until=None,
        )
        following = next_step_timer(self.records.get(Campaign, job.tenant_id, job.campaign_id), sent, sent_at)
        sequence = [self.records.timer_put(following)] if following else []
        try:
            self.records.save_job(sent, self.records.timer_delete(lease), *sequence)
        except ConditionFailed:
            self._reconcile_late(sent, sequence)
        self.guard.on_sent(sent)
        log.info("job.sent", step=job.step, sender_id=choice.identity.id, provider=self.mailer.name)
        return SendResult(Outcome.SENT, job.job_id)

    def _reconcile_late(self, sent: MessageJob, sequence: Sequence[Put]) -> None:
        """The lease ran out while the provider call was in flight and the job was marked uncertain:
        the provider did accept it, so record the send."""
        current = self.records.job(sent.tenant_id, sent.job_id)
        if current is None or current.status is not JobStatus.UNCERTAIN:
            log.error("sender.lost_sent_record", status=current.status.value if current else None)
            return
        fields = sent.model_dump(
            include={"provider_message_id", "rfc_message_id", "sent_at", "subject", "sender_id"}
        )
        self.records.save_job(
            current.moved(JobStatus.SENT, self.clock.now(), "reconciled: provider accepted", **fields)
        )

    def _refused(
        self, job: MessageJob, choice: _Choice, exc: MailError, message: ReceivedMessage
    ) -> SendResult:
        now = self.clock.now()
        detail = f"{type(exc).__name__}: {exc.text}"[:500]
        if isinstance(exc, MailOutcomeUnknown):
            return self._uncertain(job, detail)
        self._release(job.tenant_id, choice.cap_sort)
        if isinstance(exc, MailThrottled):
            delay = exc.retry_after or retry_delay(
                job.attempts, job.job_id, base_s=self.config.retry_base.total_seconds()
            )
            return self._requeue(job, now + delay, detail, now, count_attempt=False)
        if isinstance(exc, MailSendingPaused):
            log.error("sender.provider_paused", detail=detail)
            return self._requeue(
                job, now + self.config.sending_paused_backoff, detail, now, count_attempt=False
            )
        if isinstance(exc, MailTransientError):
            if job.attempts >= self.config.max_attempts:
                self.queue.dead_letter(message.receipt, detail)
                return self._finish(job, JobStatus.DEAD_LETTERED, detail, now, Outcome.DEAD_LETTERED)
            delay = retry_delay(job.attempts, job.job_id, base_s=self.config.retry_base.total_seconds())
            return self._requeue(job, now + delay, detail, now)
        assert isinstance(exc, MailRejected)
        return self._rejected(job, choice, exc, detail, now)

    def _rejected(
        self, job: MessageJob, choice: _Choice, exc: MailRejected, detail: str, now: datetime
    ) -> SendResult:
        verdict = classify(exc.smtp_code, exc.text, exc.status)
        if verdict is ResponseClass.HARD_BOUNCE:
            lead = self.records.get(Lead, job.tenant_id, job.lead_id)
            result = self._finish(job, JobStatus.BOUNCED, detail, now, Outcome.BOUNCED)
            self.suppression.suppress(
                job.tenant_id, lead.email, SuppressionReason.HARD_BOUNCE, source=job.job_id, at=now
            )
            self.guard.on_sent(job)
            self.guard.on_outcome(job, BOUNCED)
            return result
        if verdict is ResponseClass.SENDER_BLOCK:
            self.guard.set_identity(
                job.tenant_id, choice.identity.id, IdentityStatus.PAUSED, f"provider block: {detail}"
            )
            return self._requeue(job, now, detail, now, count_attempt=False)
        if verdict is ResponseClass.SOFT_PERSISTENT and job.attempts < self.config.max_attempts:
            return self._requeue(job, now + timedelta(hours=6), detail, now)
        return self._finish(job, JobStatus.FAILED, detail, now, Outcome.FAILED)

    def _uncertain(self, job: MessageJob, detail: str) -> SendResult:
        self.records.save_job(
            job.moved(JobStatus.UNCERTAIN, self.clock.now(), detail),
            self.records.timer_delete(self._lease(job)),
        )
        log.warning("job.uncertain", reason=detail)
        return SendResult(Outcome.UNCERTAIN, job.job_id, detail)

    def _release(self, tenant_id: str, cap_sort: str) -> None:
        """Give back a daily-cap reservation for a message the provider did not accept."""
        for _ in range(_CAS_ATTEMPTS * 3):
            doc, version = self.records.state(tenant_id, cap_sort)
            if not doc or doc.get("count", 0) <= 0:
                return
            try:
                self.records.store.write(
                    self.records.state_put(tenant_id, cap_sort, {"count": doc["count"] - 1}, version)
                )
                return
            except ConditionFailed:
                continue

    # --- moving jobs on -----------------------------------------------------------------------------

    def _finish(
        self, job: MessageJob, status: JobStatus, reason: str, now: datetime, outcome: Outcome
    ) -> SendResult:
        extra = [self.records.timer_delete(self._lease(job))] if job.status is JobStatus.SENDING else []
        self.records.save_job(job.moved(status, now, reason, lease_until=None), *extra)
        log.info("job.finished", status=status.value, reason=reason)
        return SendResult(outcome, job.job_id, reason)

    def _requeue(
        self, job: MessageJob, until: datetime, reason: str, now: datetime, *, count_attempt: bool = True
    ) -> SendResult:
        """Back to the queue as a new delayed message, the job `queued` again (a retry of a refusal)."""
        attempts = job.attempts if count_attempt else max(0, job.attempts - 1)
        extra = [self.records.timer_delete(self._lease(job))] if job.status is JobStatus.SENDING else []
        queued = job.moved(
            JobStatus.QUEUED, now, reason, attempts=attempts, lease_until=None, scheduled_at=until
        )
        return self._delay(queued, job.version, until, now, Outcome.RETRYING, extra)

    def _defer(self, job: MessageJob, until: datetime, reason: str, now: datetime) -> SendResult:
        """Not yet: same job, later. Nothing was sent."""
        if job.status is JobStatus.PLANNED:
            job = job.moved(JobStatus.QUEUED, now, reason)
        deferred = job.model_copy(update={"scheduled_at": until, "status_reason": reason, "updated_at": now})
        return self._delay(deferred, job.version, until, now, Outcome.DEFERRED, [])

    def _delay(
        self,
        job: MessageJob,
        version: int,
        until: datetime,
        now: datetime,
        outcome: Outcome,
        extra: Sequence[Put | Delete],
    ) -> SendResult:
        seconds = max(0, int((until - now).total_seconds()))
        if seconds > self.queue.max_delay_seconds:
            parked = job.moved(JobStatus.PLANNED, now, job.status_reason, scheduled_at=until)
            wake = Timer(
                tenant_id=job.tenant_id,
                at=until,
                kind=TimerKind.WAKE,
                job_id=job.job_id,
                campaign_id=job.campaign_id,
                lead_id=job.lead_id,
                step=job.step,
            )
            self.records.store.write(
                self.records.job_op(parked, expected_version=version), self.records.timer_put(wake), *extra
            )
        else:
            self.records.store.write(self.records.job_op(job, expected_version=version), *extra)
            self.queue.send(
                QueueMessage(
                    body=JobMessage(tenant_id=job.tenant_id, job_id=job.job_id).dump(), group=job.tenant_id
                ),
                delay_seconds=seconds,
            )
        log.info("job.deferred", outcome=outcome.value, until=until.isoformat(), reason=job.status_reason)
        return SendResult(outcome, job.job_id, job.status_reason)
