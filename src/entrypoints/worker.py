"""The local worker: planner tick, then the job queue through the sender, then feedback events.

On AWS these are three Lambdas; here one loop runs them in turn. `run_once` returns when the queues
hold nothing visible, and says when work next comes due, so a virtual clock can jump straight there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from adapters.clock import VirtualClock
from adapters.feedback_ingest import EventIngestor
from adapters.imap_poller import ImapPoller
from adapters.sqlite_queue import SqliteJobQueue
from adapters.sqlite_store import SqliteStateStore
from entrypoints.container import Application, imap_poller
from outreach_core.ports import Clock
from outreach_core.services.planner import PlannerService
from outreach_core.services.sender import Outcome, SenderService
from outreach_core.services.webhooks import WebhookService

log = structlog.get_logger(__name__)


@dataclass
class WorkerStats:
    planned: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    events_applied: int = 0
    events_rejected: int = 0
    replies: int = 0
    webhooks: dict[str, int] = field(default_factory=dict)  # delivery outcomes
    polled: int = 0  # messages read from IMAP mailboxes

    def describe(self, at: datetime) -> str:
        """One line a person reads: "12:05:01 planned 3 · sent 2, deferred 1 · 4 events applied"."""
        outcomes = ", ".join(
            f"{name.replace('_', ' ')} {count}" for name, count in sorted(self.outcomes.items())
        )
        parts = [f"planned {self.planned}" if self.planned else "", outcomes]
        if self.events_applied or self.events_rejected:
            rejected = f" ({self.events_rejected} rejected)" if self.events_rejected else ""
            parts.append(f"{self.events_applied} events applied{rejected}")
        if self.polled:
            parts.append(f"{self.polled} read from mailboxes")
        if self.replies:
            parts.append(f"{self.replies} replies")
        if self.webhooks:
            parts.append("webhooks " + ", ".join(f"{k} {v}" for k, v in sorted(self.webhooks.items())))
        return f"{at:%H:%M:%S} " + " · ".join(p for p in parts if p)

    def add(self, other: WorkerStats) -> None:
        for key, value in other.webhooks.items():
            self.webhooks[key] = self.webhooks.get(key, 0) + value
        self.polled += other.polled
        self.planned += other.planned
        for key, value in other.outcomes.items():
            self.outcomes[key] = self.outcomes.get(key, 0) + value
        self.events_applied += other.events_applied
        self.events_rejected += other.events_rejected
        self.replies += other.replies


class LocalWorker:
    def __init__(
        self,
        planner: PlannerService,
        sender: SenderService,
        ingestor: EventIngestor,
        jobs: SqliteJobQueue,
        events: SqliteJobQueue,
        clock: Clock,
        batch: int = 10,
        store: SqliteStateStore | None = None,
        webhooks: WebhookService | None = None,
        webhook_queue: SqliteJobQueue | None = None,
        poller: ImapPoller | None = None,
        poll_every: timedelta = timedelta(seconds=60),
        feedback_window: timedelta = timedelta(0),
    ) -> None:
        self.planner, self.sender, self.ingestor = planner, sender, ingestor
        self.jobs, self.events, self.clock, self.batch = jobs, events, clock, batch
        self.store = store
        self.webhooks, self.webhook_queue = webhooks, webhook_queue
        self.poller, self.poll_every = poller, poll_every
        self.feedback_window = feedback_window
        self._polled_at: datetime | None = None
        self.next_due: datetime | None = None
        self._purged_at: datetime | None = None

    @classmethod
    def from_app(cls, app: Application, *, poll_imap: bool = False) -> LocalWorker:
        """`poll_imap`: also read the identities' IMAP mailboxes (`outreach run`; the demo has none)."""
        services, adapters = app.services, app.adapters
        return cls(
            services.planner(),
            services.sender(),
            services.ingestor(),
            adapters.job_queue(),
            adapters.event_queue(),
            adapters.clock(),
            store=adapters.store(),
            webhooks=services.webhooks(),
            webhook_queue=adapters.webhook_queue(),
            poller=imap_poller(app) if poll_imap else None,
            poll_every=timedelta(seconds=app.settings().imap_poll_s),
            feedback_window=timedelta(seconds=app.settings().feedback_batch_window_s),
        )

    def _purge_expired(self) -> None:
        """What DynamoDB's TTL does on AWS: drop expired items (event dedupe claims, counters) hourly."""
        now = self.clock.now()
        if self.store is not None and (self._purged_at is None or now - self._purged_at > timedelta(hours=1)):
            self.store.purge_expired(int(now.timestamp()))
            self._purged_at = now

    def run_once(self) -> WorkerStats:
        stats = WorkerStats()
        self._purge_expired()
        plan = self.planner.tick()
        stats.planned = plan.planned
        self.next_due = plan.next_due
        self.drain(stats)
        self.poll(stats)
        return stats

    def poll(self, stats: WorkerStats, *, force: bool = False) -> None:
        """Read the IMAP mailboxes (every poll_every), then apply what the replies set off."""
        now = self.clock.now()
        if self.poller is None or not (
            force or self._polled_at is None or now - self._polled_at >= self.poll_every
        ):
            return
        self._polled_at = now
        report = self.poller.poll_all()
        stats.polled += report.fetched
        stats.replies += report.replies
        stats.events_applied += report.bounces
        for error in report.errors:
            log.error("worker.mailbox_failed", reason=error)
        self.drain(stats)

    def drain(self, stats: WorkerStats) -> WorkerStats:
        """Send what is visible in the job queue, then apply the visible feedback events.

        Jobs are received one at a time: a worker killed mid-send costs a receive of the message in
        hand only, not of a batch it never looked at. A message whose handling raises is logged and left
        unacknowledged (the queue brings it back; its last delivery dead-letters it together with its
        job): no single message stops the worker, as none stops the Lambda handler."""
        with self.sender.invocation():  # like one Lambda batch: the tenants' identity lists read once
            while messages := self.jobs.receive(1):
                for message in messages:
                    try:
                        result = self.sender.handle(message)
                    except Exception:
                        log.exception("worker.message_failed", message_id=message.message_id)
                        stats.outcomes["error"] = stats.outcomes.get("error", 0) + 1
                        continue
                    stats.outcomes[result.outcome.value] = stats.outcomes.get(result.outcome.value, 0) + 1
                    if not result.redeliver and result.outcome is not Outcome.DEAD_LETTERED:
                        self.jobs.ack(message.receipt)
        while self._feedback_batch_ready() and (messages := self.events.receive(self.batch * 5)):
            report = self.ingestor.ingest([m.body for m in messages])
            rejected = {index for index, _ in report.rejected}
            for index, message in enumerate(messages):
                if index in rejected:
                    self.events.dead_letter(message.receipt, dict(report.rejected)[index])
                else:
                    self.events.ack(message.receipt)
            stats.events_applied += report.applied
            stats.events_rejected += len(report.rejected)
            stats.replies += report.replies
        self._deliver_webhooks(stats)
        return stats

    def _feedback_batch_ready(self) -> bool:
        """Whether to ingest now: with a batching window, once its oldest visible event has waited the
        window out or a full batch is there (as SQS's MaximumBatchingWindowInSeconds gathers a batch)."""
        if not self.feedback_window:
            return True
        count, oldest = self.events.visible()
        if oldest is None:
            return False
        window_closed = datetime.fromtimestamp(oldest, UTC) + self.feedback_window <= self.clock.now()
        return window_closed or count >= self.batch * 5

    def _deliver_webhooks(self, stats: WorkerStats) -> None:
        if self.webhooks is None or self.webhook_queue is None:
            return
        while messages := self.webhook_queue.receive(self.batch):
            for message in messages:
                try:
                    result = self.webhooks.handle(message)
                except Exception:
                    log.exception("worker.webhook_failed", message_id=message.message_id)
                    continue
                stats.webhooks[result.outcome] = stats.webhooks.get(result.outcome, 0) + 1
                self.webhook_queue.ack(message.receipt)

    def step_through(self, clock: VirtualClock, until: datetime) -> WorkerStats:
        """Virtual time only: visit each moment a queued message becomes visible, up to `until`, so
        every send happens at its own slot rather than all at the end of a coarse step."""
        stats = WorkerStats()
        while True:
            due = self.jobs.next_visible_at()
            if due is None or datetime.fromtimestamp(due, UTC) > until:
                return stats
            clock.advance_to(datetime.fromtimestamp(due, UTC))
            self.drain(stats)

    def virtual_step(
        self,
        clock: VirtualClock,
        total: WorkerStats,
        last_tick: datetime | None,
        *,
        tick: timedelta,
        step: timedelta,
    ) -> tuple[datetime, datetime | None, datetime]:
        """One pass in virtual time (the demo and the simulator): the planner when a tick is due, else
        the queues, then every message that becomes visible within `step`, each at its own moment.
        Returns (the last tick, the next moment work appears, the end of this step)."""
        if last_tick is None or clock.now() - last_tick >= tick:
            total.add(self.run_once())  # the planner, then the queues
            last_tick = clock.now()
        else:
            self.drain(total)
        step_end = clock.now() + step
        total.add(self.step_through(clock, step_end))
        return last_tick, self.next_wake(), step_end

    def next_wake(self) -> datetime | None:
        """The earliest moment new work can appear: a timer, or a delayed message becoming visible."""
        queues = [self.jobs] + ([self.webhook_queue] if self.webhook_queue is not None else [])
        candidates = [t for t in (q.next_visible_at() for q in queues) if t is not None]
        moments = [datetime.fromtimestamp(t, UTC) for t in candidates]
        if (event_at := self.events.next_visible_at()) is not None:  # its batching window closes then
            moments.append(datetime.fromtimestamp(event_at, UTC) + self.feedback_window)
        if self.next_due is not None:
            moments.append(self.next_due)
        return min(moments) if moments else None
