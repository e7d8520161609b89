"""The AWS deployment in miniature for end-to-end tests: moto in-process (`mock_aws`), the resources
Terraform creates, the Lambda environment, the real handler modules built at import, and the parts of
AWS that moto does not play: EventBridge Scheduler's invocation, the SQS event source mapping, and SES
event publishing through SNS (events shaped after the AWS documentation's examples, aws.md §2.2, §3.4).

In-process rather than a ThreadedMotoServer: nothing here depends on a real HTTP hop, and ~10k calls
through a server cost twice the time. The outage is still real network: the primary SES adapter is
pointed at a refused port on 127.0.0.1, which moto does not intercept."""

from __future__ import annotations

import email
import hashlib
import importlib
import json
import socket
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy
from types import ModuleType
from typing import Any

from botocore.config import Config
from dependency_injector import providers
from moto import mock_aws

from adapters.clock import VirtualClock
from tests.integration.aws import moto_env
from tests.integration.aws.moto_env import FAILOVER_REGION, REGION

ACCOUNT = "123456789012"
TABLE, BUCKET, CONFIG_SET = "outreach", "outreach-archive", "outreach"
INBOUND_BUCKET, INBOUND_PREFIX = "outreach-inbound", "inbound/"
SECRET = "e2e-secret"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:outreach-ses-events"


@dataclass(frozen=True)
class LambdaContext:
    function_name: str
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    memory_limit_in_mb: int = 256

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass
class SentMail:
    """One message as moto's SES accepted it, read back like a recipient would, with the EmailTags of
    its SendEmail request (what SES echoes in every event's `mail.tags`; moto does not keep them)."""

    region: str
    message_id: str
    sender: str
    recipient: str
    headers: dict[str, str]
    tags: dict[str, str]

    @property
    def job_id(self) -> str:
        return self.tags["job"]

    @property
    def tenant_id(self) -> str:
        return self.tags["tenant"]


class SendRecorder:
    """The EmailTags of each accepted SendEmail, by SES message id (botocore events on the client)."""

    def __init__(self) -> None:
        self.tags: dict[str, dict[str, str]] = {}

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.sesv2.SendEmail", self._request)
        client.meta.events.register("after-call.sesv2.SendEmail", self._accepted)

    @staticmethod
    def _request(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["outreach_tags"] = {t["Name"]: t["Value"] for t in params.get("EmailTags", [])}

    def _accepted(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "MessageId" in parsed:
            self.tags[parsed["MessageId"]] = context.get("outreach_tags", {})


@dataclass
class Stack:
    clock: VirtualClock
    moto_time: moto_env.MotoTime
    queue_url: str
    dlq_url: str
    runtime: ModuleType
    planner: ModuleType
    sender: ModuleType
    feedback: ModuleType
    sqs: Any
    alert_queue_url: str
    recorder: SendRecorder
    _parsed: dict[str, SentMail] = field(default_factory=dict)

    # --- what AWS does around the functions ----------------------------------------------------

    def advance(self, seconds: int) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.moto_time.advance(seconds)

    def scheduled_tick(self) -> dict[str, Any]:
        """EventBridge Scheduler's invocation of the planner."""
        event = {
            "version": "0",
            "id": "7bf73129-1428-4cd3-a780-95db273d1602",
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": ACCOUNT,
            "time": _iso(self.clock.now()),
            "region": REGION,
            "resources": [f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/outreach-planner"],
            "detail": "{}",
        }
        result: dict[str, Any] = self.planner.handler(event, LambdaContext("outreach-planner"))
        return result

    def drain_jobs(self) -> int:
        """The SQS event source mapping: batches of 10 to the sender; deletes what did not fail."""
        handled = 0
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                return handled
            records = [self._sqs_record(m) for m in messages]
            result = self.sender.handler({"Records": records}, LambdaContext("outreach-sender"))
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            for message in messages:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            handled += len(messages)

    def _sqs_record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:outreach-jobs",
            "awsRegion": REGION,
        }

    def publish(self, ses_event: dict[str, Any]) -> dict[str, Any]:
        """SES -> SNS -> the feedback Lambda: one record per invocation, as SNS delivers."""
        message = json.dumps(ses_event)
        digest = hashlib.sha256(message.encode()).hexdigest()  # a redelivery keeps its MessageId
        record = {
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": f"{TOPIC_ARN}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
            "Sns": {
                "Type": "Notification",
                "MessageId": f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
                "TopicArn": TOPIC_ARN,
                "Subject": None,
                "Message": message,
                "Timestamp": _iso(self.clock.now()),
                "SignatureVersion": "1",
                "Signature": "EXAMPLE",
                "SigningCertUrl": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0000.pem",
                "UnsubscribeUrl": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe",
                "MessageAttributes": {},
            },
        }
        result: dict[str, Any] = self.feedback.handler(
            {"Records": [record]}, LambdaContext("outreach-feedback")
        )
        return result

    # --- what SES accepted -----------------------------------------------------------------------

    def sent(self) -> list[SentMail]:
        mails = []
        for region in (REGION, FAILOVER_REGION):
            for message in moto_env.ses_sent(region):
                if message.id not in self._parsed:
                    self._parsed[message.id] = self._read(region, message)
                mails.append(self._parsed[message.id])
        return mails

    def _read(self, region: str, message: Any) -> SentMail:
        parsed = email.message_from_string(message.raw_data, policy=policy.default)
        return SentMail(
            region=region,
            message_id=message.id,
            sender=str(parsed["From"].addresses[0].addr_spec),
            recipient=str(parsed["To"].addresses[0].addr_spec),
            headers={k: str(v) for k, v in parsed.items()},
            tags=self.recorder.tags[message.id],
        )

    def alerts(self) -> list[dict[str, Any]]:
        """What reached the SNS alert topic (through an SQS subscription): the SNS envelopes."""
        envelopes = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.alert_queue_url, MaxNumberOfMessages=10)
            if not messages.get("Messages"):
                return envelopes
            for message in messages["Messages"]:
                envelopes.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.alert_queue_url, ReceiptHandle=message["ReceiptHandle"])

    def store_reply(self, key: str, raw: bytes) -> dict[str, Any]:
        """What SES receiving does with a reply: the receipt rule's S3 action stores it and notifies."""
        moto_env.client("s3").put_object(Bucket=INBOUND_BUCKET, Key=key, Body=raw)
        message_id = key.rsplit("/", 1)[-1]
        now = _iso(self.clock.now())
        return {
            "notificationType": "Received",
            "receipt": {
                "timestamp": now,
                "recipients": ["alex@northwind-mail.com"],
                "spamVerdict": {"status": "PASS"},
                "virusVerdict": {"status": "PASS"},
                "action": {
                    "type": "S3",
                    "topicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:outreach-inbound",
                    "bucketName": INBOUND_BUCKET,
                    "objectKey": key,
                },
            },
            "mail": {"timestamp": now, "source": "reply@customer.test", "messageId": message_id},
        }

    def ses_event(self, mail: SentMail, event_type: str, *, legacy: bool = False) -> dict[str, Any]:
        """An SES event for `mail`, after the documentation's examples. Configuration-set events carry
        our EmailTags in `mail.tags`; legacy identity notifications (`notificationType`) carry none, so
        the feedback path must find the job by its SES message id (the GSI)."""
        now = self.clock.now()
        domain = mail.sender.rsplit("@", 1)[1]
        tags: dict[str, list[str]] = {"ses:configuration-set": [CONFIG_SET], "ses:from-domain": [domain]}
        if not legacy:
            tags |= {name: [value] for name, value in mail.tags.items()}
        body: dict[str, Any] = {
            "notificationType" if legacy else "eventType": event_type,
            "mail": {
                "timestamp": _iso(now - timedelta(seconds=30)),
                "source": mail.sender,
                "sourceArn": f"arn:aws:ses:{mail.region}:{ACCOUNT}:identity/{domain}",
                "sendingAccountId": ACCOUNT,
                "messageId": mail.message_id,
                "destination": [mail.recipient],
                "headersTruncated": False,
                "commonHeaders": {
                    "from": [mail.sender],
                    "to": [mail.recipient],
                    "subject": mail.headers["Subject"],
                },
                **({} if legacy else {"tags": tags}),
            },
        }
        if event_type == "Delivery":
            body["delivery"] = {
                "timestamp": _iso(now),
                "processingTimeMillis": 546,
                "recipients": [mail.recipient],
                "smtpResponse": "250 ok:  Message 64111812 accepted",
                "reportingMTA": "a8-70.smtp-out.amazonses.com",
                "remoteMtaIp": "127.0.2.0",
            }
        elif event_type == "Send":
            body["send"] = {}
        elif event_type == "Bounce":
            body["bounce"] = {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": mail.recipient,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": _iso(now),
                "feedbackId": f"{mail.message_id}-bounce",
                "reportingMTA": "dsn; mta.example.com",
            }
        elif event_type == "Complaint":
            body["complaint"] = {
                "complainedRecipients": [{"emailAddress": mail.recipient}],
                "timestamp": _iso(now),
                "feedbackId": f"{mail.message_id}-complaint",
                "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                "complaintFeedbackType": "abuse",
                "arrivalDate": _iso(now),
            }
        return body

    # --- fault injection ---------------------------------------------------------------------------

    def primary_region_down(self) -> Any:
        """Point the primary SES adapter at a port nothing listens on: every call is refused, as when
        the regional endpoint is unreachable. Returns the healthy client, for `primary_region_up`."""
        mailer = self.runtime.application.adapters.ses_primary()
        healthy = mailer.client
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead_port = probe.getsockname()[1]
        mailer.client = moto_env.client(
            "sesv2",
            endpoint_url=f"http://127.0.0.1:{dead_port}",
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
        )
        return healthy

    def primary_region_up(self, healthy: Any) -> None:
        self.runtime.application.adapters.ses_primary().client = healthy


def start(monkeypatch: Any, start_at: datetime, extra_env: dict[str, str] | None = None) -> tuple[Stack, Any]:
    """The stack, and the moto mock to stop when done. `extra_env`: more of the functions' environment
    (read at the cold start, like the rest)."""
    for name, value in moto_env.FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    mock = mock_aws()
    mock.start()
    dynamodb, sqs = moto_env.client("dynamodb"), moto_env.client("sqs")
    moto_env.create_table(dynamodb, TABLE)
    queue_url, dlq_url = moto_env.create_queues(sqs, visibility_timeout=60, max_receives=5)
    moto_env.create_bucket(moto_env.client("s3"), BUCKET)
    moto_env.create_bucket(moto_env.client("s3"), INBOUND_BUCKET)
    sns = moto_env.client("sns")
    alert_topic = sns.create_topic(Name="outreach-alerts")["TopicArn"]
    alert_queue_url = sqs.create_queue(QueueName="alert-probe")["QueueUrl"]
    alert_queue_arn = sqs.get_queue_attributes(QueueUrl=alert_queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=alert_topic, Protocol="sqs", Endpoint=alert_queue_arn["Attributes"]["QueueArn"])
    env = {
        "OUTREACH_BACKEND": "aws",
        "OUTREACH_AWS_REGION": REGION,
        "OUTREACH_AWS_FAILOVER_REGION": FAILOVER_REGION,
        "OUTREACH_TABLE_NAME": TABLE,
        "OUTREACH_JOB_QUEUE_URL": queue_url,
        "OUTREACH_JOB_DLQ_URL": dlq_url,
        "OUTREACH_ARCHIVE_BUCKET": BUCKET,
        "OUTREACH_SES_CONFIGURATION_SET": CONFIG_SET,
        "OUTREACH_UNSUBSCRIBE_BASE_URL": "https://u.outreach.test/unsubscribe",
        "OUTREACH_UNSUBSCRIBE_SECRET": SECRET,
        "OUTREACH_ALERT_TOPIC_ARN": alert_topic,
        "OUTREACH_INBOUND_BUCKET": INBOUND_BUCKET,
        "OUTREACH_INBOUND_PREFIX": INBOUND_PREFIX,
        "OUTREACH_FAILOVER_THRESHOLD": "3",
        "OUTREACH_FAILOVER_COOL_DOWN_S": "300",
        "OUTREACH_LOG_LEVEL": "CRITICAL",
        **(extra_env or {}),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    clock = VirtualClock(start_at)
    for name in [m for m in sys.modules if m.startswith("entrypoints.aws.") and not m.endswith(".manifest")]:
        monkeypatch.delitem(sys.modules, name)
    runtime = importlib.import_module("entrypoints.aws.runtime")  # the cold start: container built here
    runtime.application.adapters.clock.override(providers.Object(clock))  # Lambda time, made virtual
    monkeypatch.delenv("OUTREACH_AWS_ENDPOINT_URL", raising=False)
    stack = Stack(
        clock=clock,
        moto_time=moto_env.MotoTime(frozen=True),
        queue_url=queue_url,
        dlq_url=dlq_url,
        runtime=runtime,
        planner=importlib.import_module("entrypoints.aws.planner"),
        sender=importlib.import_module("entrypoints.aws.sender"),
        feedback=importlib.import_module("entrypoints.aws.feedback"),
        sqs=sqs,
        alert_queue_url=alert_queue_url,
        recorder=SendRecorder(),
    )
    for mailer in (runtime.application.adapters.ses_primary(), runtime.application.adapters.ses_secondary()):
        stack.recorder.attach(mailer.client)
    for region in (REGION, FAILOVER_REGION):  # identities are per region: verified in both
        ses = moto_env.client("sesv2", region=region)
        for domain in ("northwind-mail.com", "globex-mail.com"):
            ses.create_email_identity(EmailIdentity=domain)
    return stack, mock
