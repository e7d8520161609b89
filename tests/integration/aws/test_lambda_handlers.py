"""The Lambda handlers on moto (in process), as deployed: the container built at import from the
environment, the failover breaker and the guard alerting through the one SNS notifier, replies read
from the inbound bucket, and every invocation (returned or raised) writing its metrics to stdout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import structlog

from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.models import CampaignStep, Lead, LeadStatus, Quotas
from outreach_core.domain.window import SendWindow
from outreach_core.policies.config import TenantPolicy
from outreach_core.telemetry import FEEDBACK_EVENT
from tests.e2e import aws_stack
from tests.fakes import T0
from tests.harness import UNPACED
from tests.integration.aws import moto_env

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "replies"
TENANT, ANN, BOB = "northwind", "ann@customer-corp.com", "bob@customer-corp.com"


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[aws_stack.Stack]:
    stack, mock = aws_stack.start(monkeypatch, T0)
    try:
        yield stack
    finally:
        stack.moto_time.close()
        mock.stop()
        structlog.reset_defaults()
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))


def _sent_step_one(stack: aws_stack.Stack) -> None:
    services = stack.runtime.application.services
    admin = services.admin()
    admin.add_tenant(TENANT, "Northwind", "1 Canal Street, Manchester", window=SendWindow(timezone="UTC"))
    admin.add_direction(TENANT, "outreach", "Outreach")
    services.limiter().set_tenant_policy(
        TENANT,
        TenantPolicy(identity=UNPACED.identity, providers=dict(UNPACED.providers), warmup=UNPACED.warmup),
    )
    admin.add_identity(TENANT, "alex", "alex@northwind-mail.com", daily_cap=100)
    admin.add_template(TENANT, "t1", "A question", "Hi {{first_name}}, one question.")
    admin.add_template(TENANT, "t2", "", "Following up.")
    steps = [
        CampaignStep(number=1, template_id="t1"),
        CampaignStep(number=2, template_id="t2", delay=timedelta(days=2)),
    ]
    admin.add_campaign(TENANT, "q1", "outreach", steps, lead_list="l1")
    csv = f"email,first_name\n{ANN},Ann\n{BOB},Bob\n".encode()
    assert services.leads().import_csv(TENANT, csv, list_name="l1").imported == 2
    admin.start_campaign(TENANT, "q1")
    stack.scheduled_tick()
    for _ in range(12):
        stack.advance(10)
        stack.drain_jobs()
    assert len(stack.sent()) == 2


def _reply(stack: aws_stack.Stack, name: str, lead_email: str) -> bytes:
    records = stack.runtime.application.services.records()
    lead = next(lead for lead in records.all(Lead, TENANT) if lead.email == lead_email)
    job = next(j for j in records.jobs(TENANT) if j.lead_id == lead.id and j.step == 1)
    assert isinstance(job, MessageJob) and job.rfc_message_id
    raw = (CORPUS / name).read_bytes().replace(b"ann@client.example", lead_email.encode())
    return raw.replace(b"{{MESSAGE_ID}}", job.rfc_message_id.encode()).replace(
        b"{{REFERENCES}}", job.rfc_message_id.encode()
    )


def _lead(stack: aws_stack.Stack, email: str) -> Lead:
    records = stack.runtime.application.services.records()
    return next(lead for lead in records.all(Lead, TENANT) if lead.email == email)


def test_replies_stored_in_s3_stop_the_sequence_and_auto_replies_do_not(stack: aws_stack.Stack) -> None:
    _sent_step_one(stack)
    human = stack.store_reply("inbound/0001", _reply(stack, "en_human_interested.eml", ANN))
    assert stack.publish(human)["replies"] == 1
    vacation = stack.store_reply("inbound/0002", _reply(stack, "en_ooo_gmail_vacation.eml", BOB))
    assert stack.publish(vacation)["replies"] == 0  # an auto-reply: the sequence goes on
    assert _lead(stack, ANN).status is LeadStatus.REPLIED
    assert _lead(stack, BOB).status is LeadStatus.ACTIVE
    for days in (3, 15):  # past step 2's delay: nobody yet (Bob is away until the 19th); then Bob only
        stack.advance(days * 24 * 3600)
        stack.scheduled_tick()
        for _ in range(12):
            stack.advance(10)
            stack.drain_jobs()
        if days == 3:
            assert sorted(m.recipient for m in stack.sent()) == [ANN, BOB]
    assert sorted(m.recipient for m in stack.sent()) == [ANN, BOB, BOB]


def test_a_receipt_pointing_outside_the_inbound_prefix_is_rejected_not_read(stack: aws_stack.Stack) -> None:
    _sent_step_one(stack)
    notice = stack.store_reply("inbound/0003", _reply(stack, "en_human_interested.eml", ANN))
    moto_env.client("s3").put_object(Bucket=aws_stack.BUCKET, Key="events/x", Body=b"From: a@b.test\n\nhi")
    notice["receipt"]["action"] |= {"bucketName": aws_stack.BUCKET, "objectKey": "events/x"}
    assert stack.publish(notice)["rejected"] == 1
    assert _lead(stack, ANN).status is LeadStatus.ACTIVE


def test_the_guard_and_the_failover_breaker_alert_through_the_one_sns_notifier(
    stack: aws_stack.Stack,
) -> None:
    adapters = stack.runtime.application.adapters
    services = stack.runtime.application.services
    notifier = adapters.notifier()
    assert adapters.mailer().default is adapters.ses_route()
    assert adapters.ses_route().notifier is notifier
    assert services.guard().notifier is notifier
    assert services.queue_monitor().notifier is notifier
    services.admin().add_tenant(TENANT, "Northwind", "1 Canal Street", quotas=Quotas(daily=10, hourly=10))
    services.admin().add_direction(TENANT, "outreach", "Outreach")
    services.admin().add_identity(TENANT, "alex", "alex@northwind-mail.com")
    services.admin().add_template(TENANT, "t1", "A question", "Hi")
    services.admin().add_campaign(TENANT, "q1", "outreach", [CampaignStep(number=1, template_id="t1")])
    services.admin().start_campaign(TENANT, "q1")
    assert services.guard().pause_campaign(TENANT, "q1", "a test of the alert path")
    (envelope,) = stack.alerts()
    attributes = envelope["MessageAttributes"]
    assert (attributes["origin"]["Value"], attributes["kind"]["Value"]) == ("outreach", "campaign.paused")
    assert attributes["tenant"]["Value"] == TENANT
    assert json.loads(attributes["alert"]["Value"])["details"] is not None


def _emf(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]


def test_each_invocation_writes_its_metrics_to_stdout_even_when_it_fails(
    stack: aws_stack.Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _sent_step_one(stack)
    lines = _emf(capsys.readouterr().out)
    sends = [line for line in lines if line.get("Outcome") == "sent"]
    assert sum(int(line["SendOutcome"]) for line in sends) == 2
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Outreach" for line in lines)

    metrics = stack.runtime.application.adapters.metrics()

    def counted_then_failed(bodies: list[str]) -> None:
        metrics.emit(FEEDBACK_EVENT, 1, "Count", EventType="delivered")  # what was buffered before the error
        raise RuntimeError("the table is unreachable")

    monkeypatch.setattr(stack.feedback.ingestor, "ingest", counted_then_failed)
    mail = stack.sent()[0]
    with pytest.raises(RuntimeError, match="unreachable"):
        stack.publish(stack.ses_event(mail, "Delivery"))
    (line,) = _emf(capsys.readouterr().out)
    assert (line["FeedbackEvent"], line["EventType"]) == (1, "delivered")
