"""Feedback ingestion: raw provider payloads in; archived in batches, normalised, applied by the core.

Used by the local worker (events from the simulated SES) and by the AWS feedback handler. Each raw
payload is archived first (one JSON-lines blob per tenant per batch, not one object per event), so
every DeliveryEvent can point at the exact payload it came from.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from adapters.inbound_mail import InboundMailError, is_receipt, parse_inbound, receipt_notice
from adapters.json_limits import loads as bounded_loads
from adapters.ses_events import MalformedEventError, parse_event
from outreach_core.domain.addresses import redact_addresses
from outreach_core.domain.events import DeliveryEvent, InboundReply
from outreach_core.ports import Alert, Archive, Clock, Metrics, Notifier
from outreach_core.services.feedback import FeedbackResult, FeedbackService, ReplyService
from outreach_core.telemetry import FEEDBACK_IGNORED, NullMetrics

log = structlog.get_logger(__name__)

REJECTED = "_rejected"  # the archive prefix of payloads that could not be read as JSON objects


@dataclass
class IngestReport:
    applied: int = 0
    duplicates: int = 0
    unmatched: int = 0
    replies: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (index in the batch, why)
    results: list[FeedbackResult] = field(default_factory=list)


def parse_reply(body: dict[str, Any]) -> InboundReply:
    data = body["inboundReply"]
    return InboundReply(
        event_id=str(data["eventId"]),
        tenant_id=data.get("tenant"),
        in_reply_to=str(data["inReplyTo"]),
        sender=str(data["from"]),
        received_at=datetime.fromisoformat(str(data["timestamp"]).replace("Z", "+00:00")),
        auto_reply=bool(data.get("autoSubmitted", False)),
    )


def _tenant_of(body: dict[str, Any]) -> str:
    tags = body.get("mail", {}).get("tags", {}) if isinstance(body.get("mail"), dict) else {}
    values = tags.get("tenant") if isinstance(tags, dict) else None
    return values[0] if isinstance(values, list) and values else "_unattributed"


class EventIngestor:
    """`inbound_reader(bucket, key)` fetches a received message an SES receipt rule stored in S3; without
    one, such notifications are rejected (SNS-action notifications carry the message and need none)."""

    def __init__(
        self,
        archive: Archive,
        feedback: FeedbackService,
        replies: ReplyService,
        clock: Clock,
        inbound_reader: Callable[[str, str], bytes] | None = None,
        metrics: Metrics | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.archive = archive
        self.feedback = feedback
        self.replies = replies
        self.clock = clock
        self.inbound_reader = inbound_reader
        self.metrics = metrics or NullMetrics()
        self.notifier = notifier

    def ingest(self, bodies: Sequence[str]) -> IngestReport:
        """Archive, normalise and apply a batch. Bad payloads are reported by index and kept (archived,
        counted, alerted on): nothing a provider sent is dropped silently. The rest go on."""
        report = IngestReport()
        decoded: list[tuple[int, dict[str, Any]]] = []
        unreadable: list[tuple[int, str, str]] = []
        for index, raw in enumerate(bodies):
            try:
                body = bounded_loads(raw)
                if not isinstance(body, dict):
                    raise ValueError("not a JSON object")
                decoded.append((index, body))
            except ValueError as exc:
                reason = f"not JSON: {exc}"[:300]
                report.rejected.append((index, reason))
                unreadable.append((index, raw if isinstance(raw, str) else repr(raw), reason))
        refs = self._archive(decoded)
        kept = self._archive_unreadable(unreadable)
        events: list[DeliveryEvent] = []
        for index, body in decoded:
            try:
                reply = self._reply_in(body, refs[index])
                if reply is not None:
                    report.replies += int(self.replies.record(reply))
                    continue
                events.extend(parse_event(body, refs[index]))
            except (MalformedEventError, InboundMailError, KeyError, ValueError) as exc:
                reason = redact_addresses(str(exc))
                report.rejected.append((index, reason))
                log.warning("feedback.rejected", index=index, reason=reason, payload=refs[index])
        self._kept(report, {**refs, **kept})
        for result in self.feedback.handle(events):
            report.results.append(result)
            if result.applied:
                report.applied += 1
            elif result.detail == "duplicate event":
                report.duplicates += 1
            else:
                report.unmatched += 1
        return report

    def _reply_in(self, body: dict[str, Any], ref: str) -> InboundReply | None:
        if "inboundReply" in body:
            return parse_reply(body)
        return self._received(body, ref) if is_receipt(body) else None

    def _received(self, body: dict[str, Any], ref: str) -> InboundReply:
        """An SES receipt notification -> the reply it announces (read from S3 when stored there)."""
        notice = receipt_notice(body)
        raw = notice.content
        if raw is None:
            if self.inbound_reader is None:
                raise InboundMailError("Received: the message is in S3 and no inbound reader is configured")
            raw = self.inbound_reader(notice.bucket, notice.key)
            ref = f"s3://{notice.bucket}/{notice.key}"
        return parse_inbound(
            raw,
            received_at=notice.received_at,
            envelope_recipients=notice.recipients,
            event_id=f"inbound-{notice.message_id}",
            payload_ref=ref,
        )

    def _archive_unreadable(self, unreadable: list[tuple[int, str, str]]) -> dict[int, str]:
        """Payloads that are not JSON objects, kept as they came (wrapped in one JSON line each)."""
        if not unreadable:
            return {}
        return self._archive(
            [(index, {"unreadable": raw, "reason": reason}) for index, raw, reason in unreadable],
            tenant=REJECTED,
        )

    def _kept(self, report: IngestReport, refs: dict[int, str]) -> None:
        """Count and alert on what could not be applied; it is in the archive, at `refs`."""
        if not report.rejected:
            return
        for _ in report.rejected:
            self.metrics.emit(FEEDBACK_IGNORED, 1, "Count", Reason="malformed")
        index, reason = report.rejected[0]
        reason = redact_addresses(reason)
        where = refs.get(index, "")
        log.error("feedback.kept_unapplied", count=len(report.rejected), first=where, reason=reason[:200])
        if self.notifier is None:
            return
        alert = Alert(
            kind="feedback.rejected",
            subject="feedback payloads",
            message=(
                f"{len(report.rejected)} feedback payload(s) could not be applied and were kept in the "
                f"archive (first: {where}): {reason[:200]}"
            ),
            at=self.clock.now(),
            details={"count": len(report.rejected), "first": where},
        )
        try:
            self.notifier.notify(alert)
        except Exception:
            log.exception("feedback.alert_failed")

    def _archive(
        self, decoded: list[tuple[int, dict[str, Any]]], tenant: str | None = None
    ) -> dict[int, str]:
        by_tenant: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, body in decoded:
            by_tenant.setdefault(tenant or _tenant_of(body), []).append((index, body))
        now = self.clock.now()
        refs: dict[int, str] = {}
        for owner, items in by_tenant.items():
            lines = [json.dumps(body, ensure_ascii=False, separators=(",", ":")) for _, body in items]
            blob = "\n".join(lines).encode()
            digest = hashlib.sha256(blob).hexdigest()[:16]
            key = f"events/{owner}/{now:%Y/%m/%d}/{now:%H%M%S}-{digest}.jsonl.gz"
            ref = self.archive.put(key, gzip.compress(blob, mtime=0), "application/x-ndjson")
            for line, (index, _) in enumerate(items):
                refs[index] = f"{ref}#{line}"
        return refs
