"""Metrics: the catalogue, the EMF log lines, the in-memory adapter, and where the core emits."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from adapters.emf_metrics import EmfMetrics
from adapters.memory_metrics import InMemoryMetrics
from outreach_core.domain.mail import (
    MailRejected,
    MailSendingPaused,
    MailThrottled,
    MailTransientError,
    OutboundEmail,
)
from outreach_core.ports import Alert, QueueMessage
from outreach_core.records import Records
from outreach_core.services.guard import ReputationGuard
from outreach_core.services.monitoring import QueueMonitor
from outreach_core.services.sender import SenderService
from outreach_core.services.suppression import SuppressionService
from outreach_core.telemetry import (
    DEAD_LETTERS,
    METRICS,
    PROVIDER_ERROR,
    QUEUE_OLDEST_AGE,
    QUEUE_VISIBLE,
    SEND_OUTCOME,
    MeteredMailProvider,
    MetricError,
    check,
)
from tests.fakes import FakeQueue, InMemoryStateStore, ManualClock, ScriptedMailer


def test_the_catalogue_refuses_high_cardinality_dimensions() -> None:
    check(SEND_OUTCOME, "Count", {"Outcome": "sent"})
    with pytest.raises(MetricError):
        check(SEND_OUTCOME, "Count", {"Outcome": "sent", "TenantId": "t1"})
    with pytest.raises(MetricError):
        check(SEND_OUTCOME, "Count", {"Outcome": "some-new-outcome"})
    with pytest.raises(MetricError):
        check("Sends", "Count", {})
    with pytest.raises(MetricError):
        check(QUEUE_OLDEST_AGE, "Count", {"Queue": "jobs"})


def test_no_catalogued_metric_has_a_tenant_campaign_or_identity_dimension() -> None:
    for spec in METRICS.values():
        assert not {d.lower() for d in spec.dimensions} & {"tenant", "tenantid", "campaign", "identity"}


def test_emf_lines_follow_the_embedded_metric_format(clock: ManualClock) -> None:
    lines: list[str] = []
    metrics = EmfMetrics("Outreach/test", clock, lines.append, strict=True)
    for _ in range(3):
        metrics.emit(SEND_OUTCOME, 1, "Count", Outcome="sent")
    metrics.emit(SEND_OUTCOME, 1, "Count", Outcome="deferred")
    metrics.emit(QUEUE_OLDEST_AGE, 12.5, "Seconds", Queue="jobs")
    metrics.emit(QUEUE_OLDEST_AGE, 30.0, "Seconds", Queue="jobs")
    metrics.emit(DEAD_LETTERS, 2, "Count", Queue="jobs")
    assert lines == []  # nothing is written before flush
    metrics.flush()
    docs = [json.loads(line) for line in lines]
    assert len(docs) == 3  # one line per dimension set
    by_dims = {
        tuple(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]): d for d in docs if "Outcome" not in d
    }
    sent = next(d for d in docs if d.get("Outcome") == "sent")
    assert sent[SEND_OUTCOME] == 3  # counts are summed
    assert sent["_aws"]["Timestamp"] == int(clock.now().timestamp() * 1000)
    directive = sent["_aws"]["CloudWatchMetrics"][0]
    assert directive == {
        "Namespace": "Outreach/test",
        "Dimensions": [["Outcome"]],
        "Metrics": [{"Name": SEND_OUTCOME, "Unit": "Count"}],
    }
    queue = by_dims[("Queue",)]
    assert queue["Queue"] == "jobs"
    assert queue[QUEUE_OLDEST_AGE] == [12.5, 30.0]  # other units keep every value
    assert queue[DEAD_LETTERS] == 2
    assert {m["Name"] for m in queue["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {
        QUEUE_OLDEST_AGE,
        DEAD_LETTERS,
    }
    metrics.flush()
    assert len(lines) == 3  # the buffer was emptied


def test_emf_splits_more_than_100_values_over_several_lines(clock: ManualClock) -> None:
    lines: list[str] = []
    metrics = EmfMetrics("Outreach", clock, lines.append)
    for n in range(250):
        metrics.emit(QUEUE_OLDEST_AGE, float(n), "Seconds", Queue="jobs")
    metrics.flush()
    values = [json.loads(line)[QUEUE_OLDEST_AGE] for line in lines]
    assert [len(v) for v in values] == [100, 100, 50]
    assert sum(sum(v) for v in values) == sum(range(250))


def test_emf_drops_what_is_not_in_the_catalogue_unless_strict(clock: ManualClock) -> None:
    lines: list[str] = []
    lenient = EmfMetrics("Outreach", clock, lines.append)
    lenient.emit(SEND_OUTCOME, 1, "Count", Outcome="sent", TenantId="t1")
    lenient.flush()
    assert lines == []
    with pytest.raises(MetricError):
        EmfMetrics("Outreach", clock, lines.append, strict=True).emit("Nope", 1, "Count")


def test_emf_never_fails_the_caller_when_the_log_write_fails(clock: ManualClock) -> None:
    def broken(_: str) -> None:
        raise OSError("stdout closed")

    metrics = EmfMetrics("Outreach", clock, broken)
    metrics.emit(SEND_OUTCOME, 1, "Count", Outcome="sent")
    metrics.flush()  # does not raise


def test_in_memory_metrics_sum_counts_and_keep_the_last_gauge() -> None:
    metrics = InMemoryMetrics()
    metrics.emit(SEND_OUTCOME, 1, "Count", Outcome="sent")
    metrics.emit(SEND_OUTCOME, 1, "Count", Outcome="sent")
    metrics.emit(SEND_OUTCOME, 1, "Count", Outcome="failed")
    metrics.emit(QUEUE_VISIBLE, 4, "Count", Queue="jobs")
    assert metrics.total(SEND_OUTCOME) == 3
    assert metrics.total(SEND_OUTCOME, Outcome="sent") == 2
    assert metrics.latest(QUEUE_VISIBLE, Queue="jobs") == 4
    assert metrics.snapshot()["SendOutcome{Outcome=failed}"] == 1
    with pytest.raises(MetricError):
        metrics.emit(SEND_OUTCOME, 1, "Count", Outcome="sent", Campaign="c1")


def _email() -> OutboundEmail:
    return OutboundEmail.model_validate(
        {
            "tenant_id": "t1",
            "sender": {"email": "a@example.com"},
            "recipient": {"email": "b@example.net"},
            "subject": "s",
            "text": "t",
            "message_id": "<m1@example.com>",
            "tags": {},
            "headers": {},
        }
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (MailThrottled("Maximum sending rate exceeded."), "throttled"),
        (MailRejected("Email address is not verified."), "rejected"),
        (MailSendingPaused("Sending paused for this account."), "sending_paused"),
        (MailTransientError("421 try later"), "transient"),
    ],
)
def test_the_metered_mailer_counts_refusals_by_kind_and_re_raises(error: Exception, kind: str) -> None:
    metrics = InMemoryMetrics()
    mailer = ScriptedMailer()
    metered = MeteredMailProvider(mailer, metrics)
    email = _email()
    mailer.fail_next(email.recipient.email, error)  # type: ignore[arg-type]
    with pytest.raises(type(error)):
        metered.send(email)
    assert metrics.total(PROVIDER_ERROR, Kind=kind) == 1
    metered.send(email)  # accepted: not a provider error
    assert metrics.total(PROVIDER_ERROR) == 1
    assert metered.name == mailer.name


def test_the_sender_emits_one_outcome_per_message(
    clock: ManualClock, memory_store: InMemoryStateStore
) -> None:
    metrics = InMemoryMetrics()
    records = Records(memory_store)
    queue = FakeQueue(clock)
    sender = SenderService(
        records,
        queue,
        ScriptedMailer(),
        clock,
        ReputationGuard(records, clock),
        SuppressionService(records),
        metrics=metrics,
    )
    queue.send(QueueMessage(body="not a job", group="t1"))
    queue.send(QueueMessage(body='{"tenant_id": "t1", "job_id": "c1_l-1_1"}', group="t1"))
    for message in queue.receive(10):
        sender.handle(message)
    assert metrics.total(SEND_OUTCOME, Outcome="dead_lettered") == 1
    assert metrics.total(SEND_OUTCOME, Outcome="skipped") == 1
    assert metrics.total(SEND_OUTCOME) == 2


class _Alerts:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def notify(self, alert: Alert) -> None:
        self.sent.append(alert)


def test_the_queue_monitor_reports_depth_age_and_dead_letters_and_alerts_on_a_dlq(clock: ManualClock) -> None:
    metrics, alerts = InMemoryMetrics(), _Alerts()
    queue = FakeQueue(clock)
    monitor = QueueMonitor(queue, clock, metrics, alerts)
    queue.send(QueueMessage(body="a", group="t1"))
    queue.send(QueueMessage(body="b", group="t1"), delay_seconds=600)
    clock.advance(timedelta(seconds=90))
    stats = monitor.check()
    assert (stats.visible, stats.delayed, stats.dead) == (1, 1, 0)
    assert metrics.latest(QUEUE_OLDEST_AGE, Queue="jobs") == 90.0
    assert metrics.latest(DEAD_LETTERS, Queue="jobs") == 0
    assert alerts.sent == []
    (received,) = queue.receive(1)
    queue.dead_letter(received.receipt, "boom")
    monitor.check()
    assert metrics.latest(DEAD_LETTERS, Queue="jobs") == 1
    assert [a.kind for a in alerts.sent] == ["dlq.not_empty"]
    assert "outreach dlq list" in alerts.sent[0].message


def test_flushing_writes_the_metrics_even_when_the_invocation_fails(clock: ManualClock) -> None:
    from entrypoints.observability import aws_metrics, flushing
    from entrypoints.settings import Settings

    lines: list[str] = []
    metrics = aws_metrics(Settings(metrics_namespace="Outreach/prod"), clock)
    assert isinstance(metrics, EmfMetrics)
    metrics.write = lines.append
    with pytest.raises(RuntimeError), flushing(metrics):
        metrics.emit(SEND_OUTCOME, 1, "Count", Outcome="sent")
        raise RuntimeError("handler failed")
    (line,) = lines
    assert json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Outreach/prod"


def test_the_queue_monitor_can_alert_without_emitting_metrics(clock: ManualClock) -> None:
    """AWS mode: depth and age come free from AWS/SQS, so the monitor only alerts."""
    metrics, alerts = InMemoryMetrics(), _Alerts()
    queue = FakeQueue(clock)
    queue.send(QueueMessage(body="a", group="t1"))
    (received,) = queue.receive(1)
    queue.dead_letter(received.receipt, "boom")
    QueueMonitor(queue, clock, metrics, alerts, emit_metrics=False).check()
    assert metrics.emitted == 0
    assert [a.kind for a in alerts.sent] == ["dlq.not_empty"]
