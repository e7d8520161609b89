"""The sender: one queue message in, at most one email out.

Order of checks for each job: state (a job that may have gone out is never sent again), campaign
running, suppression (tenant + global, at send time), the tenant's do-not-contact domains, lead
active, sending window, the limiter (tenant,
account with fair share, identity with warm-up, identity x receiving provider) which also picks the
identity (sticky for follow-ups, else smooth weighted round-robin by reputation and warm-up headroom),
rendering. Then `queued -> sending` by compare-and-set, together with every limiter document and a
lease timer; the provider call; `sending -> sent` with the provider's message id.

Waiting never burns the queue's receive count: a deferred job goes back as a new delayed message
(or, beyond the queue's maximum delay, is parked in the store for the planner to wake).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from outreach_core.domain.addresses import redact_addresses
from outreach_core.domain.ids import job_id_for, stable_fraction
from outreach_core.domain.jobs import TERMINAL, JobStatus, MessageJob
from outreach_core.domain.mail import (
    MailError,
    MailOutcomeUnknown,
    MailRefused,
    MailRejected,
    MailSendingPaused,
    MailThrottled,
    MailUnencodable,
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
from outreach_core.domain.window import zone
from outreach_core.policies.autostop import BOUNCED
from outreach_core.policies.backoff import retry_delay
from outreach_core.policies.responses import (
    Effect,
    ProviderReply,
    ReplyOrigin,
    Retry,
    Verdict,
    classify,
    effect_of,
)
from outreach_core.ports import (
    Clock,
    ConditionFailed,
    Delete,
    JobQueue,
    Key,
    MailProvider,
    Metrics,
    Put,
    QueueMessage,
    ReceivedMessage,
)
from outreach_core.records import Records, Timer, TimerKind
from outreach_core.rendering.compose import Thread, compose
from outreach_core.rendering.message_ref import seal_ref
from outreach_core.rendering.reply_token import sign_reply
from outreach_core.rendering.templating import TemplateError
from outreach_core.rendering.unsubscribe import sign
from outreach_core.services.admin import PAUSED_BY_CAMPAIGN, REMOVED_FROM_CAMPAIGN
from outreach_core.services.guard import ReputationGuard
from outreach_core.services.jobs import JobMessage
from outreach_core.services.limiter import Grant, NotYet, SendLimiter
from outreach_core.services.sequence import next_step_timer
from outreach_core.services.suppression import SuppressionService
from outreach_core.telemetry import SEND_OUTCOME, NullMetrics

log = structlog.get_logger(__name__)

# Lost compare-and-set races a message is handled again after, before it is left for redelivery (which
# waits out the queue's visibility timeout, the lease: minutes). A retry reads again only what the lost
# write touched; with several workers on one tenant a send loses about one race in three.
_CAS_ATTEMPTS = 12
_SENT_ATTEMPTS = 3  # one write of the `sent` record with the windows, before it is split
# After a lost race on the documents every send writes (the limiter's, the auto-stop windows), the next
# this many sends read them once more just before they use them: see `_Races`.
_RACE_MEMORY = 64


class SenderConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    unsubscribe_base_url: str = "http://127.0.0.1:8025/unsubscribe"
    unsubscribe_secret: str = "change-me"
    lease: timedelta = timedelta(minutes=5)  # > the provider call's timeout; then the job is `uncertain`
    max_attempts: int = 5
    # The queue's receive limit (SQS maxReceiveCount): the delivery that reaches it is not handled
    # again but dead-lettered together with its job, so no job looks alive behind a dead letter.
    max_receives: int = 3
    retry_base: timedelta = timedelta(minutes=2)
    sending_paused_backoff: timedelta = timedelta(hours=1)
    soft_retry: timedelta = timedelta(hours=6)  # the soft-bounce rule's spacing (mailbox full)


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
    grant: Grant | None = None


@dataclass
class _Races:
    """Recent lost compare-and-set races, by what was lost: the limiter's documents or the windows.

    The documents every send writes are read at the start of its message (in the one or two batched
    reads). When other workers move them meanwhile (several processes on one workspace, or several
    Lambdas of a tenant), the write loses and is tried again: a failed transaction, a read, a second
    write. So for the next `_RACE_MEMORY` sends after a lost race, they are read once more right before
    they are used (the limiter's just before its decision, the windows just after the provider call):
    one read instead of a likely lost write. A sender that loses no race never reads them twice."""

    limits: int = 0
    windows: int = 0

    def lost(self, sort: str) -> None:
        if sort.startswith("WIN#"):
            self.windows = _RACE_MEMORY
        elif sort.startswith(("LIM#", "ROT#")):
            self.limits = _RACE_MEMORY

    def sent(self) -> None:
        self.limits = max(0, self.limits - 1)
        self.windows = max(0, self.windows - 1)


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
        limiter: SendLimiter | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.records = records
        self.queue = queue
        self.mailer = mailer
        self.clock = clock
        self.guard = guard
        self.suppression = suppression
        self.config = config or SenderConfig()
        self.limiter = limiter or guard.limiter
        self.metrics = metrics or NullMetrics()
        self._identity_ids: dict[str, list[str]] | None = None  # within `invocation()`
        self._races = _Races()

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
            # One read-ahead scope per message: the documents it needs are read in two round trips
            # (what the message names, then what the job, its campaign and its lead point to).
            with self.records.read_ahead():
                for _ in range(_CAS_ATTEMPTS):
                    self.records.prefetch(self._message_keys(ref))
                    job = self.records.job(ref.tenant_id, ref.job_id)
                    if job is None:
                        log.warning("sender.unknown_job")
                        return SendResult(Outcome.SKIPPED, ref.job_id, "no such job")
                    structlog.contextvars.bind_contextvars(campaign_id=job.campaign_id)
                    try:
                        return self._process(job, message)
                    except ConditionFailed as lost:
                        self._races.lost(lost.sort)
                        continue  # the job or a policy document moved under us: read again
            return SendResult(Outcome.CONTENDED, ref.job_id, "lost compare-and-set repeatedly")
        finally:
            structlog.contextvars.unbind_contextvars("tenant_id", "job_id", "campaign_id")

    @contextlib.contextmanager
    def invocation(self) -> Iterator[None]:
        """One batch of messages (a Lambda invocation): which identities a tenant has is read once for
        the batch. Their documents, and everything else, are still read for each message."""
        self._identity_ids = {}
        try:
            yield
        finally:
            self._identity_ids = None

    def _message_keys(self, ref: JobMessage) -> list[Key]:
        """What the message names, and what its job id says about its campaign, lead and step."""
        keys = [self.records.job_key(ref.tenant_id, ref.job_id), self.records.tenant_key(ref.tenant_id)]
        keys += self.limiter.tenant_keys(ref.tenant_id)
        parts = ref.job_id.split("_")
        if len(parts) == 3 and parts[2].isdigit():  # job_id_for(campaign, lead, step)
            campaign_id, lead_id, step = parts[0], parts[1], int(parts[2])
            keys += [
                self.records.entity_key(Campaign, ref.tenant_id, campaign_id),
                self.records.entity_key(Lead, ref.tenant_id, lead_id),
                *self.guard.window_keys(ref.tenant_id, campaign_id),
            ]
            if step > 1:
                keys.append(self.records.job_key(ref.tenant_id, job_id_for(campaign_id, lead_id, 1)))
        return keys

    def _identities(self, tenant_id: str) -> list[str]:
        cached = self._identity_ids
        if cached is not None and tenant_id in cached:
            return cached[tenant_id]
        ids = [i.id for i in self.records.all(SenderIdentity, tenant_id)]
        if cached is not None:
            cached[tenant_id] = ids
        return ids

    def _serving(self, tenant_id: str, direction_id: str) -> list[SenderIdentity]:
        found = (self.records.find(SenderIdentity, tenant_id, i) for i in self._identities(tenant_id))
        return [i for i in found if i is not None and i.serves(direction_id)]

    def _context_keys(self, job: MessageJob, ctx: _Context) -> list[Key]:
        """What the job's lead and campaign point to: suppression, do-not-contact domains, the template,
        and every document rotation and the limiter read for the identities of the direction."""
        tenant_id, ids = job.tenant_id, self._identities(job.tenant_id)
        provider = self.limiter.directory.provider(ctx.lead.domain)
        return [
            *self.records.suppression_keys(tenant_id, ctx.lead.email),
            *self.records.domain_block_keys(tenant_id, ctx.lead.domain),
            self.records.entity_key(Template, tenant_id, job.template_id),
            *(self.records.entity_key(SenderIdentity, tenant_id, i) for i in ids),
            *self.limiter.identity_keys(tenant_id, ids, f"ROT#{ctx.campaign.direction_id}", provider),
            *self.guard.identity_window_keys(tenant_id, ids),
        ]

    # --- the checks ---------------------------------------------------------------------------------

    def _process(self, job: MessageJob, message: ReceivedMessage) -> SendResult:
        now = self.clock.now()
        if job.status in TERMINAL:
            return SendResult(Outcome.SKIPPED, job.job_id, f"already {job.status.value}")
        if job.status is JobStatus.SENDING:
            return self._held(job, now)
        if message.receive_count >= self.config.max_receives and job.status is JobStatus.QUEUED:
            return self._last_receive(job, message, now)
        ctx = self._context(job)
        self.records.prefetch(self._context_keys(job, ctx))
        stop = self._stop_reason(job, ctx)
        if stop is not None:
            return stop
        step = ctx.campaign.step(job.step)
        window = (step.window or ctx.tenant.window).in_zone(ctx.lead.timezone)
        closed = ctx.tenant.holidays.closed_for(ctx.lead.country)
        if not window.contains(now, closed):
            opens = window.next_open(now, closed)
            holiday = ctx.tenant.holidays.holiday(
                now.astimezone(zone(window.timezone)).date(), ctx.lead.country
            )
            return self._defer(
                job,
                opens + timedelta(minutes=10) * stable_fraction(job.job_id, "window", str(opens)),
                f"holiday: {holiday}" if holiday else f"outside the sending window ({window.describe()})",
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
        # The step's template now (an edit of a running campaign applies to what is not sent yet), the
        # lead's variant of it when the step is an A/B test.
        template_id = step.template_for(job.tenant_id, job.campaign_id, job.lead_id)
        template = self.records.get(Template, job.tenant_id, template_id)
        try:
            email = compose(
                tenant=ctx.tenant,
                identity=choice.identity,
                lead=ctx.lead,
                template=template,
                job=job,
                unsubscribe_url=self.unsubscribe_url(job.tenant_id, job.lead_id),
                thread=choice.thread,
                secret=self.config.unsubscribe_secret,
                reply_token=sign_reply(self.config.unsubscribe_secret, job.tenant_id, job.lead_id),
                message_ref=seal_ref(self.config.unsubscribe_secret, job.tenant_id, job.job_id),
            )
        except TemplateError as exc:
            return self._not_rendered(job, choice, f"template: {exc}", now)
        except ValueError as exc:  # the composed message is not sendable (e.g. a header value)
            return self._not_rendered(job, choice, f"render: {_first_error(exc)}", now)
        return self._send(job, choice, email, message, now, template)

    def _last_receive(self, job: MessageJob, message: ReceivedMessage, now: datetime) -> SendResult:
        """Every earlier delivery of this message went unacknowledged: its worker died or its handling
        failed each time. Rather than let the queue move it to the dead letters behind the job's back
        (the job would stay `queued`, looking alive), dead-letter both, visibly, now."""
        reason = (
            f"received {message.receive_count} times without being acknowledged "
            "(the worker stopped or failed while handling it)"
        )
        self.queue.dead_letter(message.receipt, reason)
        log.error("sender.dead_lettered", receives=message.receive_count)
        return self._finish(job, JobStatus.DEAD_LETTERED, reason, now, Outcome.DEAD_LETTERED)

    def unsubscribe_url(self, tenant_id: str, lead_id: str) -> str:
        token = sign(self.config.unsubscribe_secret, tenant_id, lead_id)
        return f"{self.config.unsubscribe_base_url.rstrip('/')}/{token}"

    def _not_rendered(self, job: MessageJob, choice: _Choice, reason: str, now: datetime) -> SendResult:
        """Nothing was handed over: give back what the limiter reserved; the job fails for good."""
        if choice.grant is not None:
            self.limiter.release(job.tenant_id, choice.grant)
        return self._finish(job, JobStatus.FAILED, reason, now, Outcome.FAILED)

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
        block = self.records.domain_block_for(job.tenant_id, ctx.lead.domain)
        if block is not None:
            return self._finish(
                job,
                JobStatus.SUPPRESSED,
                f"do-not-contact domain: {block.domain} ({block.reason})",
                now,
                Outcome.SUPPRESSED,
            )
        if ctx.lead.status is not LeadStatus.ACTIVE:
            return self._finish(
                job, JobStatus.CANCELLED, f"lead {ctx.lead.status.value}", now, Outcome.CANCELLED
            )
        if job.campaign_id in ctx.lead.removed_from:
            return self._finish(job, JobStatus.CANCELLED, REMOVED_FROM_CAMPAIGN, now, Outcome.CANCELLED)
        return None

    def _choose_identity(self, job: MessageJob, ctx: _Context, now: datetime) -> _Choice | _Wait | None:
        identities = self._serving(job.tenant_id, ctx.campaign.direction_id)
        if not any(i.status is IdentityStatus.ACTIVE for i in identities) and self._identity_ids:
            # None active as this batch knows them: ask the store (one may have been added) before
            # concluding there is none.
            self._identity_ids.pop(job.tenant_id, None)
            identities = self._serving(job.tenant_id, ctx.campaign.direction_id)
        first = self._thread(job, ctx.campaign)
        if self._races.limits:  # read at the message's start; other workers likely moved them since
            provider = self.limiter.directory.provider(ctx.lead.domain)
            rotation = f"ROT#{ctx.campaign.direction_id}"
            ids = [i.id for i in identities]
            self.records.refresh(
                [
                    *self.limiter.tenant_keys(job.tenant_id),
                    *self.limiter.identity_keys(job.tenant_id, ids, rotation, provider),
                ]
            )
        result = self.limiter.acquire(
            ctx.tenant,
            identities,
            f"ROT#{ctx.campaign.direction_id}",
            ctx.lead.domain,
            now,
            sticky=first[0] if first else None,
        )
        if result is None:
            return None
        if isinstance(result, NotYet):
            for mark in result.marks:  # best effort: say this tenant competes for the account's rate
                with contextlib.suppress(ConditionFailed):
                    self.records.store.write(mark)
            # Spread the retries of a backlog a little, so they do not all wake in the same instant.
            wait = (result.until - now).total_seconds()
            spread = min(30.0, 0.25 * wait) * stable_fraction(job.job_id, result.until.isoformat())
            return _Wait(result.until + timedelta(seconds=spread), result.reason)
        thread: Thread | None = None
        if first is not None:
            # The follow-up stays in its thread with its first sender; if that sender is gone, it
            # starts a new thread with the same subject.
            thread = first[1] if result.sticky else Thread(message_id=None, subject=first[1].subject)
        return _Choice(identity=result.identity, thread=thread, reservation=result.puts, grant=result)

    def _thread(self, job: MessageJob, campaign: Campaign) -> tuple[str, Thread] | None:
        if job.step == 1 or not campaign.step(job.step).thread:
            return None
        first = self.records.job(job.tenant_id, job_id_for(job.campaign_id, job.lead_id, 1))
        if first is None or not first.sender_id or not (first.rfc_message_id or first.subject):
            return None
        # Without the Message-ID (a send recorded by a person) the follow-up keeps the subject, fresh.
        return first.sender_id, Thread(message_id=first.rfc_message_id, subject=first.subject)

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
        self,
        job: MessageJob,
        choice: _Choice,
        email: OutboundEmail,
        message: ReceivedMessage,
        now: datetime,
        template: Template,
    ) -> SendResult:
        sending = job.moved(
            JobStatus.SENDING,
            now,
            template_id=template.id,
            template_revision=template.revision,
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
        except Exception as exc:  # raised after the hand-over may have begun: never resend blindly
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
            transport=receipt.transport or self.mailer.name,
        )
        following = next_step_timer(self.records.get(Campaign, job.tenant_id, job.campaign_id), sent, sent_at)
        sequence = [self.records.timer_put(following)] if following else []
        try:  # the `sent` record and the auto-stop windows' new send in one write
            self._save_sent(sent, lease, sequence)
        except ConditionFailed:  # the lease ran out, or the windows kept moving: the record first, then them
            try:
                self.records.save_job(sent, self.records.timer_delete(lease), *sequence)
            except ConditionFailed:
                self._reconcile_late(sent, sequence)
            self.guard.on_sent(sent)
        log.info("job.sent", step=job.step, sender_id=choice.identity.id, provider=sent.transport)
        return SendResult(Outcome.SENT, job.job_id)

    def _save_sent(self, sent: MessageJob, lease: Timer, sequence: Sequence[Put]) -> None:
        """The `sent` record with the windows' new send, as one compare-and-set write. A window another
        worker's send moved meanwhile (the campaign's and the tenant's are shared by all of them) is read
        again and the one write tried again: not the record and then a write per window."""
        window_keys = [
            *self.guard.window_keys(sent.tenant_id, sent.campaign_id),
            *self.guard.identity_window_keys(sent.tenant_id, [sent.sender_id] if sent.sender_id else []),
        ]
        if self._races.windows:  # read at the message's start, before the provider call: likely moved
            self.records.refresh(window_keys)
        self._races.sent()
        for attempt in range(_SENT_ATTEMPTS):
            try:
                self.records.save_job(
                    sent, self.records.timer_delete(lease), *sequence, *self.guard.sent_puts(sent)
                )
                return
            except ConditionFailed as lost:
                self._races.lost(lost.sort)
                if not lost.sort.startswith("WIN#") or attempt == _SENT_ATTEMPTS - 1:
                    raise
                self.records.prefetch(window_keys)  # the failed write let go of what it wrote

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
        if isinstance(exc, MailOutcomeUnknown):
            return self._uncertain(job, f"{type(exc).__name__}: {exc.text}")
        if choice.grant is not None:
            self.limiter.release(job.tenant_id, choice.grant)
        if isinstance(exc, MailUnencodable):  # a rendering failure in the adapter: nothing went out
            reason = f"render: {type(exc).__name__}: {exc.text}"[:500]
            return self._finish(job, JobStatus.FAILED, reason, now, Outcome.FAILED)
        if isinstance(exc, MailSendingPaused):
            detail = redact_addresses(f"{type(exc).__name__}: {exc.text}")[:500]
            log.error("sender.provider_paused", detail=detail)
            return self._requeue(
                job, now + self.config.sending_paused_backoff, detail, now, count_attempt=False
            )
        verdict = classify(reply_of(exc))
        # Provider texts quote the recipient: redacted before the reason, a log line or an alert has it.
        detail = redact_addresses(f"{verdict.cls.value}: {exc}")[:500]
        log.info("sender.refused", response_class=verdict.cls.value, rule=verdict.rule, stage=exc.stage)
        return self._apply(job, choice, exc, verdict, detail, message, now)

    def _apply(
        self,
        job: MessageJob,
        choice: _Choice,
        exc: MailError,
        verdict: Verdict,
        detail: str,
        message: ReceivedMessage,
        now: datetime,
    ) -> SendResult:
        """Carry out the one effect the response policy gives this verdict (policies.responses)."""
        effect = effect_of(verdict)
        provider = choice.grant.provider if choice.grant else None
        if effect.alert:
            self.guard.reply_alert(job, effect.alert, provider, detail)
        if effect.rate_cut:
            self.guard.on_deferral(job, provider, detail)  # the only rate cut this reply makes
        retry = effect.retry
        if effect.pause_at_provider:
            if provider is None:
                retry = Retry.LATER  # nowhere to pause it: wait and try again
            else:  # the job waits for another identity, or for the pause to run out
                self.guard.sender_block(job.tenant_id, choice.identity.id, provider, detail)
        if retry is Retry.SLOWER:
            after = exc.retry_after if isinstance(exc, MailThrottled) else None
            base = self.config.retry_base.total_seconds()
            delay = after or retry_delay(job.attempts, job.job_id, base_s=base)
            return self._requeue(job, now + delay, detail, now, count_attempt=False)
        if retry is Retry.ELSEWHERE:
            return self._requeue(job, now, detail, now, count_attempt=False)
        if retry is Retry.LATER:
            if job.attempts >= self.config.max_attempts:
                self.queue.dead_letter(message.receipt, detail)
                return self._finish(job, JobStatus.DEAD_LETTERED, detail, now, Outcome.DEAD_LETTERED)
            delay = retry_delay(job.attempts, job.job_id, base_s=self.config.retry_base.total_seconds())
            return self._requeue(job, now + delay, detail, now)
        return self._ends(job, effect, detail, now)

    def _ends(self, job: MessageJob, effect: Effect, detail: str, now: datetime) -> SendResult:
        """The soft-bounce rule's next step, or the end of the job (bounced, or failed)."""
        if effect.retry is Retry.SOFT:
            if job.attempts < self.suppression.policy.soft_bounces_before_suppress:
                return self._requeue(job, now + self.config.soft_retry, detail, now)
            result = self._finish(job, JobStatus.FAILED, detail, now, Outcome.FAILED)
            if effect.suppress_when_exhausted:  # never for a 4xx (design.md §4.7)
                self._suppress(job, SuppressionReason.SOFT_BOUNCE_REPEATED, now)
            return result
        if not effect.suppress:
            return self._finish(job, JobStatus.FAILED, detail, now, Outcome.FAILED)
        result = self._finish(job, JobStatus.BOUNCED, detail, now, Outcome.BOUNCED)
        self._suppress(job, SuppressionReason.HARD_BOUNCE, now)
        if effect.counts_as_bounce:
            self.guard.on_sent(job)
            self.guard.on_outcome(job, BOUNCED)
        return result

    def _suppress(self, job: MessageJob, reason: SuppressionReason, now: datetime) -> None:
        lead = self.records.get(Lead, job.tenant_id, job.lead_id)
        self.suppression.suppress(job.tenant_id, lead.email, reason, source=job.job_id, at=now)

    def _uncertain(self, job: MessageJob, detail: str) -> SendResult:
        detail = redact_addresses(detail)[:500]
        self.records.save_job(
            job.moved(JobStatus.UNCERTAIN, self.clock.now(), detail),
            self.records.timer_delete(self._lease(job)),
        )
        log.warning("job.uncertain", reason=detail)
        return SendResult(Outcome.UNCERTAIN, job.job_id, detail)

    # --- moving jobs on -----------------------------------------------------------------------------

    def _finish(
        self, job: MessageJob, status: JobStatus, reason: str, now: datetime, outcome: Outcome
    ) -> SendResult:
        reason = redact_addresses(reason)
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
        seconds = max(0, math.ceil((until - now).total_seconds()))  # never before `until`
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


def _first_error(exc: ValueError) -> str:
    """One line from a ValueError (a pydantic ValidationError lists every field; say the first)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "value"
        return redact_addresses(f"{where}: {first.get('msg', '')}")
    return redact_addresses(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def reply_of(exc: MailError) -> ProviderReply:
    """The raw facts of a refusal for the response policy: an MTA's reply when there is an SMTP code,
    otherwise the sending API's own answer (with what its error code said)."""
    if exc.smtp_code is not None:
        return ProviderReply(code=exc.smtp_code, status=exc.status, text=exc.text, stage=exc.stage)
    hint = "unavailable"  # no answer at all: not handed over, may work later
    if isinstance(exc, MailThrottled):
        hint = "throttled"
    elif isinstance(exc, MailRejected):
        hint = "rejected"
    elif isinstance(exc, MailRefused):
        hint = ""
    return ProviderReply(
        status=exc.status, text=exc.text, stage=exc.stage, origin=ReplyOrigin.API, api_hint=hint
    )
