"""Alert channels against stand-ins for the real services: SNS and SSM in moto (in process), and the
Telegram Bot API as a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adapters.aws.sns_notifier import SnsNotifier, sns_subject
from adapters.aws.ssm_parameter import SsmParameter
from adapters.log_notifier import LogNotifier
from adapters.telegram_notifier import TelegramError, TelegramNotifier, telegram_text
from entrypoints.observability import aws_notifier, local_notifier
from entrypoints.settings import Settings
from outreach_core.ports import Alert
from tests.fakes import InMemoryStateStore, ManualClock

REGION = "eu-west-1"
TOKEN = "123456:TEST-token-never-logged"


def _alert(clock: ManualClock, **changes: Any) -> Alert:
    base: dict[str, Any] = {
        "kind": "identity.blocked",
        "severity": "critical",
        "tenant_id": "globex",
        "subject": "offers",
        "message": "identity globex/offers blocked: complaint rate 0.4% > 0.1% over 250 sends",
        "at": clock.now(),
        "details": {"rate": 0.004, "sends": 250},
    }
    return Alert(**{**base, **changes})


# --- a stand-in for api.telegram.org -----------------------------------------------------------------


class BotApi:
    """Records sendMessage calls; answers like the Bot API (ok/result, or ok=false with a code)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.reply: tuple[int, dict[str, Any]] | None = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length).decode("utf-8"))
                api.calls.append((self.path, payload))
                status, body = api.reply or (200, {"ok": True, "result": {"message_id": len(api.calls)}})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> BotApi:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bot_api() -> Iterator[BotApi]:
    with BotApi() as api:
        yield api


def test_telegram_sends_an_html_message_to_the_chat(bot_api: BotApi, clock: ManualClock) -> None:
    notifier = TelegramNotifier(lambda: TOKEN, "-100200300", api_base=bot_api.url)
    notifier.notify(_alert(clock, message="rate <0.1%> & rising"))
    ((path, payload),) = bot_api.calls
    assert path == f"/bot{TOKEN}/sendMessage"
    assert payload["chat_id"] == "-100200300"
    assert payload["parse_mode"] == "HTML"
    assert payload["link_preview_options"] == {"is_disabled": True}
    assert "<b>identity.blocked</b>" in payload["text"]
    assert "rate &lt;0.1%&gt; &amp; rising" in payload["text"]  # escaped for parse_mode=HTML
    assert "<code>globex</code>" in payload["text"]


def test_telegram_errors_carry_the_api_description_but_never_the_token(
    bot_api: BotApi, clock: ManualClock
) -> None:
    bot_api.reply = (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )
    notifier = TelegramNotifier(lambda: TOKEN, "42", api_base=bot_api.url)
    with pytest.raises(TelegramError) as caught:
        notifier.notify(_alert(clock))
    assert caught.value.status == 429
    assert caught.value.retry_after == 7
    assert "Too Many Requests" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_telegram_unreachable_is_an_error_without_the_token(clock: ManualClock) -> None:
    with BotApi() as api:
        dead_url = api.url  # the port is closed once the server stops
    notifier = TelegramNotifier(lambda: TOKEN, "42", api_base=dead_url, timeout_s=2)
    with pytest.raises(TelegramError, match="cannot reach") as caught:
        notifier.notify(_alert(clock))
    assert TOKEN not in str(caught.value)


def test_telegram_text_stays_within_the_api_limit(clock: ManualClock) -> None:
    text = telegram_text(_alert(clock, message="x" * 10_000))
    assert len(text) <= 4096


def test_local_notifier_rate_limits_telegram_through_the_store(bot_api: BotApi, clock: ManualClock) -> None:
    settings = Settings(
        telegram_chat_id="42", telegram_bot_token=TOKEN, telegram_api_base=bot_api.url, alert_window_s=600
    )
    store = InMemoryStateStore()
    notifier = local_notifier(settings, store, clock)
    for _ in range(10):
        notifier.notify(_alert(clock))
    assert len(bot_api.calls) == 1
    clock.advance(timedelta(minutes=11))
    notifier.notify(_alert(clock))
    assert len(bot_api.calls) == 2
    assert "+9 repeat(s)" in bot_api.calls[1][1]["text"]


# --- SNS and SSM in moto ---------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def _topic_with_queue() -> tuple[Any, str, Any, str]:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="outreach-alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint="ops@example.com")
    queue_url = sqs.create_queue(QueueName="alert-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return sns, topic_arn, sqs, queue_url


def test_sns_publishes_subject_body_and_filterable_attributes(aws: None, clock: ManualClock) -> None:
    sns, topic_arn, sqs, queue_url = _topic_with_queue()
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert {s["Protocol"] for s in subscriptions} == {"email", "sqs"}
    SnsNotifier(sns, topic_arn).notify(_alert(clock, subject="Ольга / offers"))
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"].startswith("[critical] identity.blocked:")
    assert envelope["Subject"].isascii() and len(envelope["Subject"]) < 100
    assert "complaint rate 0.4%" in envelope["Message"]
    assert "tenant:   globex" in envelope["Message"]
    attributes = envelope["MessageAttributes"]
    assert attributes["origin"]["Value"] == "outreach"
    assert attributes["kind"]["Value"] == "identity.blocked"
    assert attributes["severity"]["Value"] == "critical"
    assert attributes["tenant"]["Value"] == "globex"


def test_sns_subject_is_ascii_single_line_and_short(clock: ManualClock) -> None:
    subject = sns_subject(_alert(clock, subject="Кампания\nс переносом " + "x" * 200))
    assert subject.isascii()
    assert "\n" not in subject
    assert len(subject) < 100


def test_ssm_secure_string_is_read_decrypted_and_cached(aws: None, clock: ManualClock) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/outreach/telegram-token", Value=TOKEN, Type="SecureString")
    token = SsmParameter(ssm, "/outreach/telegram-token", clock, ttl=timedelta(minutes=15))
    assert token() == TOKEN
    ssm.put_parameter(Name="/outreach/telegram-token", Value="rotated", Type="SecureString", Overwrite=True)
    assert token() == TOKEN  # cached within the TTL
    clock.advance(timedelta(minutes=16))
    assert token() == "rotated"


def test_aws_notifier_publishes_to_the_topic_once_per_window_and_never_to_telegram(
    aws: None, bot_api: BotApi, clock: ManualClock
) -> None:
    """On AWS the engine needs SNS only: Telegram is the relay's job (subscribed to the topic), even when
    the Telegram settings happen to be in the function's environment."""
    sns, topic_arn, sqs, queue_url = _topic_with_queue()
    settings = Settings(
        alert_topic_arn=topic_arn,
        telegram_chat_id="42",
        telegram_token_parameter="/outreach/telegram-token",
        telegram_api_base=bot_api.url,
    )
    log = LogNotifier()
    notifier = aws_notifier(settings, InMemoryStateStore(), clock, sns=sns, log=log)
    notifier.notify(_alert(clock))
    notifier.notify(_alert(clock))  # a repeat: held back on every channel
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    assert len(messages) == 1
    assert [a.kind for a in log.sent] == ["identity.blocked"]
    assert bot_api.calls == []


def test_without_a_topic_the_aws_notifier_keeps_to_the_log(clock: ManualClock) -> None:
    log = LogNotifier()
    aws_notifier(Settings(alert_topic_arn=""), InMemoryStateStore(), clock, log=log).notify(_alert(clock))
    assert [a.kind for a in log.sent] == ["identity.blocked"]
    with pytest.raises(ValueError, match="no SNS client"):
        aws_notifier(Settings(alert_topic_arn="arn:aws:sns:eu-west-1:1:t"), InMemoryStateStore(), clock)


# --- the SNS -> Telegram relay: the engine's alerts, CloudWatch alarms and AWS Budgets -----------------


def _sns_event(message: str, subject: str | None = None, origin: str | None = None) -> dict[str, Any]:
    attributes = {"origin": {"Type": "String", "Value": origin}} if origin else {}
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": "Notification",
                    "TopicArn": "arn:aws:sns:eu-west-1:123456789012:outreach-alerts",
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": "2026-01-05T09:00:00.000Z",
                    "MessageAttributes": attributes,
                },
            }
        ]
    }


ALARM = json.dumps(
    {
        "AlarmName": "outreach-jobs-dlq-not-empty",
        "AlarmDescription": "Messages in the jobs dead-letter queue",
        "NewStateValue": "ALARM",
        "OldStateValue": "OK",
        "NewStateReason": "Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (0.0).",
        "StateChangeTime": "2026-01-05T09:01:02.345+0000",
        "Region": "EU (Ireland)",
    }
)


def test_relay_turns_alarms_and_budgets_into_alerts(clock: ManualClock) -> None:
    from adapters.aws.sns_alert_relay import alerts_from_sns

    (alarm,) = alerts_from_sns(_sns_event(ALARM, "ALARM: outreach-jobs-dlq-not-empty"), clock.now())
    assert (alarm.kind, alarm.severity, alarm.subject) == ("alarm", "critical", "outreach-jobs-dlq-not-empty")
    assert "Threshold Crossed" in alarm.message
    assert alarm.at.isoformat() == "2026-01-05T09:01:02.345000+00:00"
    (budget,) = alerts_from_sns(
        _sns_event(
            "AWS Budget Notification ... actual cost $4.10 > 80% of $5.00",
            "AWS Budgets: outreach has exceeded your alert threshold",
        ),
        clock.now(),
    )
    assert budget.kind == "budget.threshold"


def test_relay_rebuilds_the_engines_own_alert_from_the_topic(aws: None, clock: ManualClock) -> None:
    """notifier -> topic -> (the envelope SNS delivers) -> the relay's parser: the same Alert comes out."""
    from adapters.aws.sns_alert_relay import alerts_from_sns

    sns, topic_arn, sqs, queue_url = _topic_with_queue()
    sent = _alert(clock, subject="Ольга / offers")
    SnsNotifier(sns, topic_arn).notify(sent)
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(message["Body"])
    assert alerts_from_sns({"Records": [{"EventSource": "aws:sns", "Sns": envelope}]}, clock.now()) == [sent]


def test_relay_reads_an_engine_message_without_the_alert_attribute_from_the_others(
    clock: ManualClock,
) -> None:
    from adapters.aws.sns_alert_relay import alerts_from_sns

    event = _sns_event(
        "Campaign q1 paused: bounce rate 6%\n\nkind: campaign.paused", "[warning] x", "outreach"
    )
    event["Records"][0]["Sns"]["MessageAttributes"] |= {
        "kind": {"Type": "String", "Value": "campaign.paused"},
        "tenant": {"Type": "String", "Value": "northwind"},
    }
    (alert,) = alerts_from_sns(event, clock.now())
    assert (alert.kind, alert.severity, alert.tenant_id) == ("campaign.paused", "warning", "northwind")
    assert alert.message == "Campaign q1 paused: bounce rate 6%"


def test_relay_handler_posts_to_telegram_with_the_token_from_ssm(
    aws: None, bot_api: BotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from entrypoints import alert_relay

    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/outreach/telegram-token", Value=TOKEN, Type="SecureString")
    monkeypatch.setenv("OUTREACH_TELEGRAM_CHAT_ID", "42")
    monkeypatch.setenv("OUTREACH_TELEGRAM_TOKEN_PARAMETER", "/outreach/telegram-token")
    monkeypatch.setenv("OUTREACH_TELEGRAM_API_BASE", bot_api.url)
    monkeypatch.setenv("OUTREACH_AWS_REGION", REGION)
    monkeypatch.setattr(alert_relay, "_warm", {})
    assert alert_relay.handler(_sns_event(ALARM, "ALARM")) == {"relayed": 1, "received": 1}
    ((path, payload),) = bot_api.calls
    assert path == f"/bot{TOKEN}/sendMessage"
    assert "outreach-jobs-dlq-not-empty" in payload["text"]
    assert alert_relay.handler(_sns_event("x", origin="outreach")) == {"relayed": 1, "received": 1}
