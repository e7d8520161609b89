"""What each Lambda function is: its handler, trigger, the adapter modules it uses and the settings it
reads. Terraform's roles and environments are checked against this (IAM = the union of the modules'
IAM_ACTIONS; environment = OUTREACH_<SETTING> for each setting), and tests check it against the code.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass

_COMMON = ("backend", "aws_region", "table_name", "log_level")
# Read by every function, left unset in a deployment: tests point the clients at a moto server with it.
TEST_ONLY_SETTINGS = ("aws_endpoint_url",)
_QUEUE = ("job_queue_url", "job_dlq_url")
# The sending policy's account quotas (SES MaxSendRate / Max24HourSend) and how providers are found.
_POLICY = ("ses_max_send_rate", "ses_max_24h_send", "mx_resolver")
# The functions that alert (guard, failover breaker): to the SNS alert topic, rate-limited per window.
_ALERTS = ("alert_topic_arn", "alert_window_s")
_ALERT_MODULES = ("adapters.aws.sns_notifier",)
# Every function that can set off a webhook event (a reply, a suppression, a pause, a block) puts its
# deliveries on the webhook queue: sqs:SendMessage on that queue only. Empty URL: webhooks off.
_WEBHOOKS = ("webhook_queue_url",)
_PUBLISH_MODULES = ("adapters.aws.sqs_outbox",)


@dataclass(frozen=True)
class LambdaFunction:
    name: str
    handler: str  # module.function, relative to the package root (the zip's top level)
    trigger: str
    adapter_modules: tuple[str, ...]
    settings: tuple[str, ...]  # Settings field names; each is the environment variable OUTREACH_<NAME>

    @property
    def environment(self) -> tuple[str, ...]:
        return tuple(f"OUTREACH_{name.upper()}" for name in self.settings)

    @property
    def iam_actions(self) -> frozenset[str]:
        actions: frozenset[str] = frozenset()
        for module in self.adapter_modules:
            actions |= importlib.import_module(module).IAM_ACTIONS
        return actions


FUNCTIONS = (
    LambdaFunction(
        name="planner",
        handler="entrypoints.aws.planner.handler",
        trigger="EventBridge Scheduler (rate 5 minutes)",
        adapter_modules=(
            "adapters.aws.dynamodb_store",
            "adapters.aws.sqs_queue",
            *_ALERT_MODULES,
            *_PUBLISH_MODULES,
        ),
        settings=(
            *_COMMON,
            *_QUEUE,
            *_POLICY,
            *_ALERTS,
            *_WEBHOOKS,
            "planner_horizon_s",
            "metrics_namespace",
        ),
    ),
    LambdaFunction(
        name="sender",
        handler="entrypoints.aws.sender.handler",
        trigger="SQS job queue (batch 10, ReportBatchItemFailures)",
        adapter_modules=(
            "adapters.aws.dynamodb_store",
            "adapters.aws.sqs_queue",
            "adapters.aws.ses_mailer",
            "adapters.aws.failover",
            "adapters.aws.ssm_parameter",  # identities' own SMTP accounts: ssm: password references
            *_ALERT_MODULES,
            *_PUBLISH_MODULES,
        ),
        settings=(
            *_COMMON,
            *_QUEUE,
            *_POLICY,
            *_ALERTS,
            *_WEBHOOKS,
            "aws_failover_region",
            "ses_configuration_set",
            "failover_threshold",
            "failover_cool_down_s",
            "unsubscribe_base_url",
            "unsubscribe_secret",
            "sender_lease_s",
            "max_attempts",
            "max_receives",
            "metrics_namespace",
        ),
    ),
    LambdaFunction(
        name="feedback",
        handler="entrypoints.aws.feedback.handler",
        trigger="SNS: the SES configuration sets' event topics (both regions) and the inbound mail topic",
        adapter_modules=(
            "adapters.aws.dynamodb_store",
            "adapters.aws.s3_archive",
            "adapters.aws.s3_objects",
            "adapters.aws.lambda_events",
            *_ALERT_MODULES,
            *_PUBLISH_MODULES,
        ),
        settings=(
            *_COMMON,
            *_POLICY,
            *_ALERTS,
            *_WEBHOOKS,
            "archive_bucket",
            "archive_kms_key_id",
            "inbound_bucket",
            "inbound_prefix",
            "metrics_namespace",
            "unsubscribe_secret",
            "unsubscribe_old_secrets",
        ),
    ),
    LambdaFunction(
        name="unsubscribe",
        handler="entrypoints.aws.unsubscribe.handler",
        trigger="the public HTTPS route (RFC 8058 one-click POST and the confirmation page GET)",
        adapter_modules=("adapters.aws.dynamodb_store", "adapters.aws.function_url", *_PUBLISH_MODULES),
        settings=(*_COMMON, *_WEBHOOKS, "unsubscribe_secret", "unsubscribe_old_secrets", "metrics_namespace"),
    ),
    # Optional (Terraform: enable_imap_poller): the SMTP identities' mailboxes, read on a schedule.
    # imapclient is imported by this function only (adapters.imap_mailbox, on its first read).
    LambdaFunction(
        name="imap_poller",
        handler="entrypoints.aws.imap_poller.handler",
        trigger="EventBridge Scheduler (rate 5 minutes; enable_imap_poller)",
        adapter_modules=(
            "adapters.aws.dynamodb_store",
            "adapters.aws.s3_archive",
            "adapters.aws.ssm_parameter",
            *_ALERT_MODULES,
            *_PUBLISH_MODULES,
        ),
        settings=(
            *_COMMON,
            *_POLICY,
            *_ALERTS,
            *_WEBHOOKS,
            "archive_bucket",
            "archive_kms_key_id",
            "imap_batch",
            "imap_timeout_s",
            "unsubscribe_secret",
            "unsubscribe_old_secrets",
            "metrics_namespace",
        ),
    ),
    # Optional (Terraform: enable_webhooks): deliveries from the webhook queue, signed, retried.
    LambdaFunction(
        name="webhooks",
        handler="entrypoints.aws.webhooks.handler",
        trigger="SQS webhook queue (batch 10, ReportBatchItemFailures; enable_webhooks)",
        adapter_modules=("adapters.aws.dynamodb_store", "adapters.aws.ssm_parameter", *_PUBLISH_MODULES),
        settings=(
            *_COMMON,
            *_WEBHOOKS,
            "webhook_max_attempts",
            "webhook_timeout_s",
            "metrics_namespace",
        ),
    ),
)
# Functions Terraform creates only when their variable turns them on.
OPTIONAL = ("imap_poller", "webhooks")

# The Telegram relay is created by the alerts module (terraform/modules/alerts), not by the root, and
# builds no container: it is listed apart so that the tests and the package smoke test know it too.
ALERT_RELAY = LambdaFunction(
    name="alert_relay",
    handler="entrypoints.alert_relay.handler",
    trigger="SNS alert topic (the engine's alerts, CloudWatch alarms, AWS Budgets)",
    adapter_modules=("adapters.aws.ssm_parameter", "adapters.aws.sns_alert_relay"),
    settings=("aws_region", "telegram_chat_id", "telegram_token_parameter", "telegram_api_base", "log_level"),
)


def function(name: str) -> LambdaFunction:
    return next(f for f in (*FUNCTIONS, ALERT_RELAY) if f.name == name)


class MissingSetting(RuntimeError):
    """The deployment left out an environment variable this function reads (a default would be wrong)."""


def check_environment(environ: Mapping[str, str]) -> None:
    """Every setting the manifest lists for this handler (Lambda's `_HANDLER`) must be in the
    environment, empty or not: a missing one means Terraform and the code disagree."""
    function = next((f for f in FUNCTIONS if f.handler == environ.get("_HANDLER")), None)
    if function is None:
        return
    missing = [name for name in function.environment if name not in environ]
    if missing:
        raise MissingSetting(
            f"{function.name}: {', '.join(missing)} not set in the function's environment "
            "(terraform sets every setting entrypoints/aws/manifest.py lists)"
        )
