"""What AWS does around the deployed functions, driven from what Terraform deployed and read back from
the endpoint: EventBridge Scheduler's invocation, the SQS event source mapping, SES event publishing
(the mailbox simulator's outcomes, through the configuration set's event destination), SES receiving
(a reply stored in the inbound bucket and notified through the receipt rule's topic), and API Gateway's
route to the unsubscribe function. Deliveries from SNS to Lambda subscriptions go through the moto
shim's hook into tests/stack/lambda_service.py.
"""

from __future__ import annotations

import base64
import email
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from typing import Any
from urllib.parse import urlsplit

from tests.stack.lambda_service import LambdaService
from tests.stack.moto_shim import STATE, SentEmail

SIMULATOR_DOMAIN = "simulator.amazonses.com"


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


# --- EventBridge Scheduler ------------------------------------------------------------------------


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    """A rate expression's period (EventBridge Scheduler's `rate(5 minutes)`); None for cron / at."""
    found = _RATE.match(expression)
    return int(found.group(1)) * _UNIT_S[found.group(2).rstrip("s")] if found else None


@dataclass
class Scheduler:
    """EventBridge Scheduler on a compressed clock: each `fire()` is one period of the most frequent
    enabled schedule, and each schedule fires on the ticks its own rate falls on (a planner at
    rate(5 minutes) every tick, a poller at rate(10 minutes) every second); a cron or one-time
    expression fires on every tick."""

    lambdas: LambdaService
    clients: Any
    refused: list[str] = field(default_factory=list)
    ticks: int = 0

    def schedules(self) -> list[dict[str, Any]]:
        client = self.clients("scheduler")
        found = []
        for page in client.get_paginator("list_schedules").paginate():
            for entry in page["Schedules"]:
                found.append(client.get_schedule(Name=entry["Name"], GroupName=entry["GroupName"]))
        return found

    def fire(self) -> int:
        """Each enabled schedule due on this tick invokes its target once, with its input, as its role."""
        enabled = [s for s in self.schedules() if s["State"] == "ENABLED"]
        periods = {s["Arn"]: rate_seconds(s["ScheduleExpression"]) for s in enabled}
        tick_s = min((p for p in periods.values() if p), default=0)
        elapsed, self.ticks = self.ticks * tick_s, self.ticks + 1
        fired = 0
        for schedule in enabled:
            period = periods[schedule["Arn"]]
            if period and elapsed % period:
                continue
            target = schedule["Target"]
            if not self.lambdas.role_policy_allows(target["RoleArn"], "lambda:InvokeFunction", target["Arn"]):
                self.refused.append(f"{schedule['Name']}: {target['RoleArn']} may not invoke {target['Arn']}")
                continue
            payload = json.loads(target["Input"]) if target.get("Input") else {}
            self.lambdas.invoke_async(target["Arn"], payload, source=schedule["Arn"])
            fired += 1
        return fired


# --- SQS event source mapping ---------------------------------------------------------------------


@dataclass
class EventSourceMapping:
    """Lambda's poller for one SQS mapping: receives with the function's role, invokes synchronously,
    deletes what succeeded (only the records not in batchItemFailures, with ReportBatchItemFailures)."""

    lambdas: LambdaService
    clients: Any
    mapping: dict[str, Any]
    invocations: int = 0
    failures_reported: int = 0
    errors: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, lambdas: LambdaService, clients: Any, function_name: str) -> EventSourceMapping:
        function = lambdas.functions[function_name]
        every = clients("lambda").list_event_source_mappings()["EventSourceMappings"]
        mappings = [m for m in every if m["FunctionArn"] == function.arn]
        assert len(mappings) == 1, (
            f"{function_name}: expected one event source mapping, found {len(mappings)}"
        )
        return cls(lambdas, clients, mappings[0])

    @property
    def batch_size(self) -> int:
        return int(self.mapping["BatchSize"])

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.mapping.get("FunctionResponseTypes", [])

    def _sqs(self) -> tuple[Any, str]:
        function = self.lambdas.by_arn(self.mapping["FunctionArn"])
        region = self.mapping["EventSourceArn"].split(":")[3]
        sqs = self.clients("sqs", region=region, credentials=self.lambdas.credentials_for(function))
        return sqs, self.lambdas.queue_url(self.mapping["EventSourceArn"])

    def poll(self) -> int:
        """One receive + one invocation; how many records were handed to the function."""
        if self.mapping.get("State") not in ("Enabled", "Creating", "Updating"):
            return 0
        sqs, url = self._sqs()
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        region = self.mapping["EventSourceArn"].split(":")[3]
        records = [self._record(message, region) for message in messages]
        self.invocations += 1
        try:
            result = self.lambdas.invoke(self.mapping["FunctionArn"], {"Records": records})
        except Exception as exc:  # the whole batch returns to the queue after its visibility timeout
            self.errors.append(str(exc))
            return len(messages)
        failed = set()
        if self.reports_item_failures and isinstance(result, dict):
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        self.failures_reported += len(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(done[start : start + 10])
                ],
            )
        return len(messages)

    def _record(self, message: dict[str, Any], region: str) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping["EventSourceArn"],
            "awsRegion": region,
        }


# --- SES event publishing (the mailbox simulator) -------------------------------------------------


OUTCOMES = {  # the mailbox simulator's local parts (before any +label) and what SES reports
    "success": ("Send", "Delivery"),
    "bounce": ("Send", "Bounce"),
    "complaint": ("Send", "Delivery", "Complaint"),
    "suppressionlist": ("Send", "Bounce"),
    "ooto": ("Send", "Delivery"),
}


@dataclass
class SesEventPublisher:
    """Turns the messages SES accepted into the events SES publishes for them: by the simulator address
    of each recipient, to the SNS topic of the send's configuration set's event destination, for the
    event types that destination matches. SNS then delivers them to the subscribed functions."""

    clients: Any
    account: str
    published: dict[str, list[str]] = field(default_factory=dict)  # SES message id -> event types
    skipped: list[str] = field(default_factory=list)

    def destination(self, region: str, configuration_set: str) -> dict[str, Any] | None:
        with STATE.lock:
            destinations = STATE.event_destinations.get((self.account, region, configuration_set), {})
        enabled = [d for d in destinations.values() if d.get("Enabled") and d.get("SnsDestination")]
        return enabled[0] if enabled else None

    def publish_new(self, extra: dict[str, tuple[str, ...]] | None = None) -> int:
        count = 0
        for sent in STATE.sends():
            if sent.message_id in self.published:
                continue
            self.published[sent.message_id] = []
            if not sent.configuration_set:
                self.skipped.append(f"{sent.message_id}: sent without a configuration set")
                continue
            destination = self.destination(sent.region, sent.configuration_set)
            if destination is None:
                self.skipped.append(
                    f"{sent.message_id}: {sent.configuration_set} has no SNS event destination"
                )
                continue
            matching = {t.upper() for t in destination.get("MatchingEventTypes", [])}
            recipient = sent.destinations[0]
            local = recipient.split("@")[0].split("+")[0]
            kinds = (
                OUTCOMES.get(local, ("Send", "Delivery"))
                if recipient.endswith(SIMULATOR_DOMAIN)
                else ("Send",)
            )
            for kind in kinds:
                if kind.upper() not in matching:
                    continue
                self._publish(sent, kind, destination["SnsDestination"]["TopicArn"])
                self.published[sent.message_id].append(kind)
                count += 1
        return count

    def republish(self, message_id: str, kind: str) -> None:
        """SNS delivers at least once: the same event again."""
        sent = next(s for s in STATE.sends() if s.message_id == message_id)
        destination = self.destination(sent.region, sent.configuration_set or "")
        assert destination is not None
        self._publish(sent, kind, destination["SnsDestination"]["TopicArn"])

    def _publish(self, sent: SentEmail, kind: str, topic_arn: str) -> None:
        region = topic_arn.split(":")[3]
        self.clients("sns", region=region).publish(
            TopicArn=topic_arn, Message=json.dumps(self.event(sent, kind))
        )

    def event(self, sent: SentEmail, kind: str) -> dict[str, Any]:
        """The event SES publishes, after the SES developer guide's event examples."""
        parsed = email.message_from_string(sent.raw, policy=policy.default)
        recipient = sent.destinations[0]
        domain = sent.source.rsplit("@", 1)[-1].rstrip(">")
        at = sent.sent_at
        tags = {"ses:configuration-set": [sent.configuration_set], "ses:from-domain": [domain]}
        tags |= {name: [value] for name, value in sent.tags.items()}
        body: dict[str, Any] = {
            "eventType": kind,
            "mail": {
                "timestamp": iso(at),
                "source": sent.source,
                "sourceArn": f"arn:aws:ses:{sent.region}:{self.account}:identity/{domain}",
                "sendingAccountId": self.account,
                "messageId": sent.message_id,
                "destination": [recipient],
                "headersTruncated": False,
                "commonHeaders": {
                    "from": [str(parsed["From"])],
                    "to": [recipient],
                    "subject": str(parsed["Subject"]),
                },
                "tags": tags,
            },
        }
        local = recipient.split("@")[0].split("+")[0]
        later = iso(at + timedelta(seconds=2))
        if kind == "Send":
            body["send"] = {}
        elif kind == "Delivery":
            body["delivery"] = {
                "timestamp": later,
                "processingTimeMillis": 546,
                "recipients": [recipient],
                "smtpResponse": "250 2.6.0 Message received",
                "reportingMTA": "a8-70.smtp-out.amazonses.com",
                "remoteMtaIp": "127.0.2.0",
            }
        elif kind == "Bounce" and local == "suppressionlist":
            body["bounce"] = {
                "bounceType": "Permanent",
                "bounceSubType": "OnAccountSuppressionList",
                "bouncedRecipients": [
                    {
                        "emailAddress": recipient,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "Amazon SES did not send the message to this address because it "
                        "is on the suppression list for your account.",
                    }
                ],
                "timestamp": later,
                "feedbackId": f"{sent.message_id}-bounce",
                "reportingMTA": "dns; amazonses.com",
            }
        elif kind == "Bounce":
            body["bounce"] = {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": recipient,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": later,
                "feedbackId": f"{sent.message_id}-bounce",
                "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
            }
        elif kind == "Complaint":
            body["complaint"] = {
                "complainedRecipients": [{"emailAddress": recipient}],
                "timestamp": later,
                "feedbackId": f"{sent.message_id}-complaint",
                "userAgent": "Amazon SES Mailbox Simulator",
                "complaintFeedbackType": "abuse",
                "arrivalDate": later,
            }
        return body


# --- SES receiving --------------------------------------------------------------------------------


@dataclass
class Receiving:
    """SES receiving under the deployed receipt rule: store the message with the S3 action, then notify
    the action's topic (SNS delivers the notification to the feedback function)."""

    clients: Any
    region: str
    account: str

    def rule(self) -> dict[str, Any]:
        ses = self.clients("ses", region=self.region)
        active = ses.describe_active_receipt_rule_set()
        rules = [r for r in active.get("Rules", []) if r.get("Enabled")]
        assert rules, f"no enabled receipt rule in the active rule set of {self.region}"
        return dict(rules[0])

    def receive(self, raw: bytes, recipient: str) -> str:
        rule = self.rule()
        actions = [a["S3Action"] for a in rule["Actions"] if "S3Action" in a]
        assert actions, f"receipt rule {rule['Name']} has no S3 action"
        action = actions[0]
        message_id = uuid.uuid4().hex
        key = f"{action.get('ObjectKeyPrefix', '')}{message_id}"
        self.clients("s3", region=self.region).put_object(Bucket=action["BucketName"], Key=key, Body=raw)
        parsed = email.message_from_bytes(raw, policy=policy.default)
        now = datetime.now(UTC)
        notice = {
            "notificationType": "Received",
            "mail": {
                "timestamp": iso(now),
                "source": parsed["From"].addresses[0].addr_spec,
                "messageId": message_id,
                "destination": [recipient],
                "headersTruncated": False,
                "commonHeaders": {
                    "from": [str(parsed["From"])],
                    "to": [recipient],
                    "subject": str(parsed["Subject"]),
                },
            },
            "receipt": {
                "timestamp": iso(now),
                "processingTimeMillis": 420,
                "recipients": [recipient],
                "spamVerdict": {"status": "PASS"},
                "virusVerdict": {"status": "PASS"},
                "spfVerdict": {"status": "PASS"},
                "dkimVerdict": {"status": "PASS"},
                "dmarcVerdict": {"status": "PASS"},
                "action": {
                    "type": "S3",
                    "topicArn": action["TopicArn"],
                    "bucketName": action["BucketName"],
                    "objectKeyPrefix": action.get("ObjectKeyPrefix", ""),
                    "objectKey": key,
                },
            },
        }
        self.clients("sns", region=action["TopicArn"].split(":")[3]).publish(
            TopicArn=action["TopicArn"], Message=json.dumps(notice)
        )
        return key


# --- API Gateway (HTTP API, payload format 2.0) ---------------------------------------------------


@dataclass
class HttpApi:
    lambdas: LambdaService
    clients: Any
    region: str
    account: str

    def _api(self, host: str) -> dict[str, Any]:
        client = self.clients("apigatewayv2", region=self.region)
        for api in client.get_apis()["Items"]:
            if urlsplit(api["ApiEndpoint"]).hostname == host:
                return dict(api)
        raise LookupError(f"no HTTP API serves {host}")

    def request(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        parts = urlsplit(url)
        api = self._api(parts.hostname or "")
        client = self.clients("apigatewayv2", region=self.region)
        route, params = self._route(client.get_routes(ApiId=api["ApiId"])["Items"], method, parts.path)
        integration = client.get_integration(ApiId=api["ApiId"], IntegrationId=route["Target"].split("/")[-1])
        function_arn = _function_of(integration["IntegrationUri"])
        stages = [s["StageName"] for s in client.get_stages(ApiId=api["ApiId"])["Items"]]
        stage = "$default" if "$default" in stages else stages[0]
        source = (
            f"arn:aws:execute-api:{self.region}:{self.account}:{api['ApiId']}/{stage}/{method}{parts.path}"
        )
        function = self.lambdas.by_arn(function_arn)
        if not self.lambdas.resource_policy_allows(function, "apigateway.amazonaws.com", source):
            return {"statusCode": 500, "body": '{"message":"Internal Server Error"}', "refused": True}
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        headers.setdefault("host", parts.hostname or "")
        event = {
            "version": "2.0",
            "routeKey": route["RouteKey"],
            "rawPath": parts.path,
            "rawQueryString": parts.query,
            "headers": headers,
            "pathParameters": params,
            "requestContext": {
                "accountId": self.account,
                "apiId": api["ApiId"],
                "domainName": parts.hostname,
                "domainPrefix": (parts.hostname or "").split(".")[0],
                "http": {
                    "method": method,
                    "path": parts.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "192.0.2.10",
                    "userAgent": "stack-test",
                },
                "requestId": uuid.uuid4().hex,
                "routeKey": route["RouteKey"],
                "stage": stage,
                "time": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(datetime.now(UTC).timestamp() * 1000),
            },
            "body": base64.b64encode(body).decode() if body else None,
            "isBase64Encoded": bool(body),
        }
        result = self.lambdas.invoke(function_arn, event)
        return dict(result) if isinstance(result, dict) else {"statusCode": 200, "body": json.dumps(result)}

    @staticmethod
    def _route(routes: list[dict[str, Any]], method: str, path: str) -> tuple[dict[str, Any], dict[str, str]]:
        for route in routes:
            route_method, _, template = route["RouteKey"].partition(" ")
            if route_method not in (method, "ANY"):
                continue
            params = _match(template, path)
            if params is not None:
                return route, params
        raise LookupError(f"no route for {method} {path}")


def _match(template: str, path: str) -> dict[str, str] | None:
    want, got = template.strip("/").split("/"), path.strip("/").split("/")
    if len(want) != len(got):
        return None
    params = {}
    for w, g in zip(want, got, strict=True):
        if w.startswith("{") and w.endswith("}"):
            params[w[1:-1].rstrip("+")] = g
        elif w != g:
            return None
    return params


def _function_of(integration_uri: str) -> str:
    if ":apigateway:" in integration_uri and "/functions/" in integration_uri:
        return integration_uri.split("/functions/")[1].split("/invocations", maxsplit=1)[0]
    return integration_uri


def sns_record(
    subscription_arn: str,
    topic_arn: str,
    message_id: str,
    message: str,
    subject: str | None,
    attributes: dict[str, Any] | None,
) -> dict[str, Any]:
    """The record SNS hands a Lambda subscriber (the Lambda developer guide's SNS event)."""
    region = topic_arn.split(":")[3]
    return {
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "EventSource": "aws:sns",
        "Sns": {
            "SignatureVersion": "1",
            "Timestamp": iso(datetime.now(UTC)),
            "Signature": base64.b64encode(hashlib.sha256(message.encode()).digest()).decode(),
            "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-stack.pem",
            "MessageId": message_id,
            "Message": message,
            "MessageAttributes": {
                name: {
                    "Type": value.get("DataType", value.get("Type", "String")),
                    "Value": value.get("StringValue", value.get("Value")),
                }
                for name, value in (attributes or {}).items()
            },
            "Type": "Notification",
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
            "TopicArn": topic_arn,
            "Subject": subject,
        },
    }
