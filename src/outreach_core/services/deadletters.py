"""Dead-letter triage: list what failed with its job, and send it back once the cause is fixed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.ports import Clock, ConditionFailed, DeadLetter, JobQueue
from outreach_core.records import Records
from outreach_core.services.audit import AuditTrail
from outreach_core.services.jobs import JobMessage


@dataclass(frozen=True)
class DeadLetterRow:
    letter: DeadLetter
    job: MessageJob | None


class DeadLetterService:
    def __init__(self, records: Records, queue: JobQueue, clock: Clock, actor: str = "operator") -> None:
        self.records = records
        self.queue = queue
        self.clock = clock
        self.actor = actor
        self.audit = AuditTrail(records)

    def _job(self, letter: DeadLetter) -> MessageJob | None:
        try:
            ref = JobMessage.load(letter.body)
        except ValidationError:
            return None
        return self.records.job(ref.tenant_id, ref.job_id)

    def list(self, limit: int = 100) -> list[DeadLetterRow]:
        return [DeadLetterRow(letter, self._job(letter)) for letter in self.queue.dead_letters(limit)]

    def reconcile(self, limit: int = 1000) -> int:
        """Jobs whose message the queue dead-lettered by itself (SQS's redrive policy, or a worker that
        died on the message's last delivery) still look alive (`queued`): mark them
        dead-lettered, with the letter's reason, so no open job hides behind a dead letter. A job that
        is `sending` keeps its lease timer, which makes it `uncertain` if it stays so. Returns how many."""
        if not self.queue.stats().dead:
            return 0
        now = self.clock.now()
        marked = 0
        for row in self.list(limit):
            job = row.job
            if job is None or job.status is not JobStatus.QUEUED:
                continue
            reason = row.letter.reason or "dead-lettered by the queue"
            try:
                self.records.save_job(job.moved(JobStatus.DEAD_LETTERED, now, reason))
            except ConditionFailed:
                continue
            marked += 1
        return marked

    def redrive(self, message_ids: Sequence[str] | None = None) -> int:
        """Reopen the dead-lettered jobs (attempts reset) and move their messages back to the queue."""
        now = self.clock.now()
        chosen = [
            r for r in self.list(limit=10_000) if message_ids is None or r.letter.message_id in message_ids
        ]
        for row in chosen:
            job = row.job
            if job is not None and job.status is JobStatus.DEAD_LETTERED:
                try:
                    self.records.save_job(job.moved(JobStatus.QUEUED, now, "redriven", attempts=0))
                except ConditionFailed:
                    continue
                self.audit.record(
                    job.tenant_id, now, self.actor, "job.redrive", job.job_id, row.letter.reason
                )
        return self.queue.redrive([r.letter.message_id for r in chosen])
