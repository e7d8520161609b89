"""The IMAP poller: for each identity with a mailbox, read what is new, and hand each message to the
same core paths as SES's events and SES receiving.

A bounce report (adapters.dsn) becomes DeliveryEvents for the feedback service (hard bounce ->
suppress and count toward auto-stop; soft -> the soft-bounce rule; delayed -> a rate signal) and an
inbox entry; anything else is read as a reply (adapters.inbound_mail) for the reply service (a
person's reply stops the sequence, an out-of-office postpones it, both are filed in the inbox).

Seen-state: per identity, the folder's UIDVALIDITY and the last UID handled (`MBOX#<identity>` in
the tenant's partition), advanced after each message. A restart re-reads at most the message in hand,
and that one is recognised by its event id (claimed when first applied): nothing is applied twice.
Each raw message is archived first, so the inbox can show it and nothing read is lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog

from adapters.dsn import bounce_events, local_part, read_report
from adapters.imap_mailbox import FetchResult, MailboxError
from adapters.inbound_mail import InboundMailError, parse_inbound
from outreach_core.domain.accounts import ImapAccount
from outreach_core.domain.addresses import redact_addresses
from outreach_core.domain.events import EventType
from outreach_core.domain.models import SenderIdentity
from outreach_core.ports import Archive, Clock, ConditionFailed
from outreach_core.records import Records
from outreach_core.services.feedback import FeedbackService
from outreach_core.services.inbox import InboxService
from outreach_core.services.replies import ReplyService

log = structlog.get_logger(__name__)


class Mailbox(Protocol):
    def fetch_new(self, uidvalidity: int | None, after_uid: int, limit: int = 50) -> FetchResult: ...


@dataclass
class PollReport:
    mailboxes: int = 0
    fetched: int = 0
    replies: int = 0  # replies that stopped or postponed a sequence
    bounces: int = 0  # bounce-report events applied
    ignored: int = 0  # own copies, unmatched mail, machine mail, repeats
    errors: list[str] = field(default_factory=list)  # "<tenant>/<identity>: why" (no secret in it)

    def add(self, other: PollReport) -> None:
        self.mailboxes += other.mailboxes
        self.fetched += other.fetched
        self.replies += other.replies
        self.bounces += other.bounces
        self.ignored += other.ignored
        self.errors.extend(other.errors)


def cursor_sort(identity_id: str) -> str:
    return f"MBOX#{identity_id}"


class ImapPoller:
    def __init__(
        self,
        records: Records,
        clock: Clock,
        archive: Archive,
        replies: ReplyService,
        feedback: FeedbackService,
        inbox: InboxService,
        mailbox_for: Callable[[ImapAccount], Mailbox],
        batch: int = 50,
        max_batches: int = 10,
    ) -> None:
        self.records = records
        self.clock = clock
        self.archive = archive
        self.replies = replies
        self.feedback = feedback
        self.inbox = inbox
        self.mailbox_for = mailbox_for
        self.batch = batch
        self.max_batches = max_batches

    def poll_all(self, tenant_id: str | None = None) -> PollReport:
        report = PollReport()
        for tenant in self.records.tenants():
            if tenant_id and tenant.id != tenant_id:
                continue
            for identity in self.records.all(SenderIdentity, tenant.id):
                if identity.imap is not None:
                    report.add(self.poll(identity))
        return report

    def poll(self, identity: SenderIdentity) -> PollReport:
        """Read what is new in one identity's mailbox (at most max_batches x batch messages a call)."""
        assert identity.imap is not None
        report = PollReport(mailboxes=1)
        structlog.contextvars.bind_contextvars(tenant_id=identity.tenant_id)
        try:
            mailbox = self.mailbox_for(identity.imap)
            for _ in range(self.max_batches):
                cursor, version = self.records.state(identity.tenant_id, cursor_sort(identity.id))
                uidvalidity = cursor.get("uidvalidity")
                result = mailbox.fetch_new(
                    int(uidvalidity) if uidvalidity is not None else None,
                    int(cursor.get("last_uid", 0)),
                    self.batch,
                )
                if uidvalidity is not None and int(uidvalidity) != result.uidvalidity:
                    log.warning("imap.uidvalidity_changed", identity_id=identity.id)
                for message in result.messages:
                    report.fetched += 1
                    # Kept first: if the archive fails, the cursor stays and the next poll reads it again.
                    ref = self._keep(identity, message.uid, message.raw)
                    try:
                        self._handle(identity, message.uid, message.raw, ref, report)
                    except Exception as exc:  # no single message stops the mailbox; it stays archived
                        log.exception(
                            "imap.message_failed", identity_id=identity.id, uid=message.uid, payload=ref
                        )
                        report.errors.append(
                            f"{identity.tenant_id}/{identity.id}: message {message.uid} ({ref}): "
                            f"{type(exc).__name__}"
                        )
                    version = self._advance(identity, result.uidvalidity, message.uid, version)
                if not result.messages and uidvalidity != result.uidvalidity:
                    self._advance(identity, result.uidvalidity, 0, version)  # a new (or first seen) folder
                if not result.more:
                    break
        except MailboxError as exc:
            report.errors.append(f"{identity.tenant_id}/{identity.id}: {exc}")
            log.error("imap.poll_failed", identity_id=identity.id, reason=str(exc))
        except Exception as exc:  # e.g. the archive or the store: this mailbox waits, the others go on
            report.errors.append(f"{identity.tenant_id}/{identity.id}: {type(exc).__name__}")
            log.exception("imap.poll_failed", identity_id=identity.id)
        finally:
            structlog.contextvars.unbind_contextvars("tenant_id")
        return report

    def _advance(self, identity: SenderIdentity, uidvalidity: int, uid: int, version: int) -> int:
        doc = {"uidvalidity": uidvalidity, "last_uid": uid, "polled_at": self.clock.now().isoformat()}
        put = self.records.state_put(identity.tenant_id, cursor_sort(identity.id), doc, version)
        try:
            self.records.store.write(put)
            return version + 1
        except ConditionFailed:  # another poller moved it: take its version (event ids keep it safe)
            return self.records.state(identity.tenant_id, cursor_sort(identity.id))[1]

    # --- one message ---------------------------------------------------------------------------------

    def _keep(self, identity: SenderIdentity, uid: int, raw: bytes) -> str:
        digest = hashlib.sha256(raw).hexdigest()[:16]
        return self.archive.put(
            f"inbound/{identity.tenant_id}/{self.clock.now():%Y/%m/%d}/{identity.id}-{uid}-{digest}.eml",
            raw,
            "message/rfc822",
        )

    def _handle(self, identity: SenderIdentity, uid: int, raw: bytes, ref: str, report: PollReport) -> None:
        """What a message holds never raises here: one that cannot be read stays archived, counted."""
        now = self.clock.now()
        try:
            bounce = read_report(raw)
            if bounce is not None:
                self._bounce(identity, bounce, now, ref, report)
                return
            self._reply(identity, raw, now, ref, report)
        except (InboundMailError, ValueError, LookupError) as exc:
            report.ignored += 1
            log.warning(
                "imap.unreadable", identity_id=identity.id, uid=uid, reason=str(exc)[:200], payload=ref
            )

    def _reply(
        self, identity: SenderIdentity, raw: bytes, now: datetime, ref: str, report: PollReport
    ) -> None:
        try:
            reply = parse_inbound(raw, tenant_id=identity.tenant_id, payload_ref=ref)
        except InboundMailError:
            reply = parse_inbound(raw, received_at=now, tenant_id=identity.tenant_id, payload_ref=ref)
        result = self.replies.handle(reply.model_copy(update={"mailbox": identity.id}))
        if result.stopped or result.resume_at is not None:
            report.replies += 1
        else:
            report.ignored += 1

    def _bounce(
        self, identity: SenderIdentity, bounce: object, now: datetime, ref: str, report: PollReport
    ) -> None:
        from adapters.dsn import BounceReport

        assert isinstance(bounce, BounceReport)
        events = bounce_events(bounce, now, ref)
        ids = [bounce.original_message_id, *bounce.extra_ids]
        job = next(
            (j for j in (self.records.job_by_message_id(local_part(i)) for i in ids if local_part(i)) if j),
            None,
        )
        if job is None or job.tenant_id != identity.tenant_id or not events:
            report.ignored += 1
            log.info("imap.bounce_unmatched", identity_id=identity.id, form=bounce.form)
            return
        events = [e.model_copy(update={"tenant_id": job.tenant_id, "job_id": job.job_id}) for e in events]
        results = self.feedback.handle(events)
        applied = [e for e, r in zip(events, results, strict=True) if r.applied]
        report.bounces += len(applied)
        report.ignored += len(events) - len(applied)
        for event in applied:
            if event.event_type is EventType.BOUNCE:
                kind = event.bounce_kind.value if event.bounce_kind else ""
                self.inbox.file_bounce(
                    tenant_id=job.tenant_id,
                    event_id=event.event_id,
                    received_at=now,
                    job=job,
                    mailbox=identity.id,
                    sender=bounce.sender,
                    subject=bounce.subject,
                    reason=redact_addresses(f"{kind} bounce: {event.status_code} {event.diagnostic}".strip()),
                    payload_ref=ref,
                )
