"""The IMAP poller and webhook Lambda handlers on moto (in process), as deployed: an identity sending
through its own SMTP account (aiosmtpd) with its password in SSM, the poller reading its dovecot
mailbox with the IMAP password from SSM, and the webhook function delivering from its own queue to a
receiver that verifies the signature; a failing receiver gets its retry as a new delayed message."""

from __future__ import annotations

import email
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import structlog

from outreach_core.domain.accounts import ImapAccount, SmtpAccount, TlsMode
from outreach_core.domain.inbox import InboxCategory, InboxMessage
from outreach_core.domain.models import CampaignStep, Lead, LeadStatus
from outreach_core.domain.window import SendWindow
from outreach_core.policies.config import TenantPolicy
from tests.e2e import aws_stack
from tests.fakes import T0
from tests.harness import UNPACED
from tests.imap_server import Dovecot, dovecot
from tests.integration.aws import moto_env
from tests.smtp_sink import Authenticator, SinkHandler, start_sink
from tests.webhook_receiver import Receiver, webhook_receiver

TENANT, REP, LEADS = (
    "northwind",
    "alex@northwind-mail.com",
    ("ann@customer-corp.com", "bob@customer-corp.com"),
)
SMTP_PW, IMAP_PW, HOOK = "smtp-ssm-pw-41", "imap-ssm-pw-42", "hook-ssm-secret-43"
BOUNCES = Path(__file__).resolve().parents[2] / "corpus" / "bounces"
WEBHOOK_QUEUE = f"https://sqs.{moto_env.REGION}.amazonaws.com/{aws_stack.ACCOUNT}/outreach-webhooks"


@dataclass
class World:
    stack: aws_stack.Stack
    imap: Dovecot
    sink: SinkHandler
    sink_port: int
    receiver: Receiver


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    sink = SinkHandler()
    controller = start_sink(sink, authenticator=Authenticator(REP, SMTP_PW), auth_require_tls=False)
    stack, mock = aws_stack.start(monkeypatch, T0, {"OUTREACH_WEBHOOK_QUEUE_URL": WEBHOOK_QUEUE})
    try:
        assert moto_env.client("sqs").create_queue(QueueName="outreach-webhooks")["QueueUrl"] == WEBHOOK_QUEUE
        ssm = moto_env.client("ssm")
        for name, value in (("smtp", SMTP_PW), ("imap", IMAP_PW), ("hook", HOOK)):
            ssm.put_parameter(Name=f"/outreach/test/{name}", Value=value, Type="SecureString")
        with (
            dovecot({REP: IMAP_PW}) as imap,
            webhook_receiver(HOOK, now=lambda: int(stack.clock.now().timestamp())) as receiver,
        ):
            yield World(stack, imap, sink, controller.port, receiver)
    finally:
        controller.stop()
        stack.moto_time.close()
        mock.stop()
        structlog.reset_defaults()
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))


def handler(stack: aws_stack.Stack, name: str) -> Any:
    assert stack.runtime.__name__ == "entrypoints.aws.runtime"
    return importlib.import_module(f"entrypoints.aws.{name}")


def drain_webhooks(stack: aws_stack.Stack) -> dict[str, int]:
    """The webhook queue's event source mapping: batches to the webhook function."""
    sqs, outcomes = moto_env.client("sqs"), {}
    function = handler(stack, "webhooks")
    while messages := sqs.receive_message(
        QueueUrl=WEBHOOK_QUEUE, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", []):
        result = function.handler(
            {"Records": [stack._sqs_record(m) for m in messages]}, aws_stack.LambdaContext("wh")
        )
        assert result["batchItemFailures"] == []
        for key, value in result["outcomes"].items():
            outcomes[key] = outcomes.get(key, 0) + value
        for message in messages:
            sqs.delete_message(QueueUrl=WEBHOOK_QUEUE, ReceiptHandle=message["ReceiptHandle"])
    return outcomes


def test_an_smtp_identity_read_by_the_poller_function_and_webhooks_by_their_function(world: World) -> None:
    stack, imap, sink, receiver = world.stack, world.imap, world.sink, world.receiver
    services = stack.runtime.application.services
    admin = services.admin()
    admin.add_tenant(TENANT, "Northwind", "1 Canal Street, Manchester", window=SendWindow(timezone="UTC"))
    admin.add_direction(TENANT, "outreach", "Outreach")
    services.limiter().set_tenant_policy(
        TENANT,
        TenantPolicy(identity=UNPACED.identity, providers=dict(UNPACED.providers), warmup=UNPACED.warmup),
    )
    admin.add_identity(TENANT, "alex", REP, daily_cap=100)
    host = "127.0.0.1"
    login: dict[str, Any] = {"host": host, "tls": TlsMode.NONE, "username": REP}
    admin.connect_identity(
        TENANT,
        "alex",
        smtp=SmtpAccount(port=world.sink_port, secret_ref="ssm:/outreach/test/smtp", **login),
        imap=ImapAccount(port=imap.port, secret_ref="ssm:/outreach/test/imap", **login),
    )
    admin.add_template(TENANT, "t1", "A question", "Hi {{first_name}}, one question.")
    admin.add_template(TENANT, "t2", "", "Following up.")
    steps = [
        CampaignStep(number=1, template_id="t1"),
        CampaignStep(number=2, template_id="t2", delay=timedelta(days=2)),
    ]
    admin.add_campaign(TENANT, "q1", "outreach", steps)
    services.leads().import_csv(
        TENANT, "".join(["email,first_name\n", *(f"{e},X\n" for e in LEADS)]).encode()
    )
    admin.start_campaign(TENANT, "q1")
    services.webhooks().add_endpoint(TENANT, "crm", receiver.url, "ssm:/outreach/test/hook")
    stack.scheduled_tick()
    for _ in range(12):
        stack.advance(10)
        stack.drain_jobs()
    assert sorted(m.recipients[0] for m in sink.messages) == sorted(LEADS)  # through its own server
    assert stack.sent() == []  # not through SES
    # Ann replies and Bob's address bounces; the scheduled poller reads the mailbox
    by_lead = {m.recipients[0]: email.message_from_bytes(m.content) for m in sink.messages}
    reply = (
        f"From: <{LEADS[0]}>\r\nTo: {REP}\r\nSubject: Re: A question\r\n"
        f"Date: {format_datetime(stack.clock.now())}\r\nMessage-ID: <r1@customer-corp.com>\r\n"
        f"In-Reply-To: {by_lead[LEADS[0]]['Message-ID']}\r\n\r\nInterested, let's talk.\r\n"
    )
    imap.deliver(REP, reply.encode())
    bounce = (BOUNCES / "qmail_text.eml").read_text()
    bounce = (
        bounce.replace("{{FROM}}", REP)
        .replace("{{TO}}", LEADS[1])
        .replace("{{MESSAGE_ID}}", by_lead[LEADS[1]]["Message-ID"])
    )
    imap.deliver(REP, bounce.replace("\n", "\r\n").encode())
    result = handler(stack, "imap_poller").handler({"tenant": TENANT}, aws_stack.LambdaContext("imap"))
    assert (
        result["mailboxes"],
        result["fetched"],
        result["replies"],
        result["bounces"],
        result["failed"],
    ) == (1, 2, 1, 1, 0)
    records = services.records()
    status = {lead.email: lead.status for lead in records.all(Lead, TENANT)}
    assert status == {LEADS[0]: LeadStatus.REPLIED, LEADS[1]: LeadStatus.BOUNCED}
    assert {m.category for m in records.all(InboxMessage, TENANT)} == {
        InboxCategory.INTERESTED,
        InboxCategory.BOUNCE,
    }
    # the events reached the webhook queue; the webhook function delivers them, signed
    receiver.script = [500]  # the first POST fails: its retry is a new delayed message
    first = drain_webhooks(stack)
    assert first.get("retrying") == 1
    stack.advance(31)  # moto's delayed messages follow the stack's (frozen, advanced) moto clock
    drain_webhooks(stack)
    events = [json.loads(r.body)["type"] for r in receiver.requests if not r.repeat]
    assert set(events) == {"reply.received", "lead.interested", "lead.bounced"}
    assert all(r.verified for r in receiver.requests)
    log = services.webhooks().deliveries(TENANT)
    assert {d.status.value for d in log} == {"delivered"} and max(len(d.attempts) for d in log) == 2
