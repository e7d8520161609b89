"""What each Lambda function is: its handler, trigger, the adapter modules it uses and the settings it
reads. Terraform's roles and environments are checked against this (IAM = the union of the modules'
IAM_ACTIONS; environment = OUTREACH_<SETTING> for each setting), and tests check it against the code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

_COMMON = ("backend", "aws_region", "table_name", "log_level")
# Read by every function, left unset in a deployment: tests point the clients at a moto server with it.
TEST_ONLY_SETTINGS = ("aws_endpoint_url",)
_QUEUE = ("job_queue_url", "job_dlq_url")
# The sending policy's account quotas (SES MaxSendRate / Max24HourSend) and how providers are found.
_POLICY = ("ses_max_send_rate", "ses_max_24h_send", "mx_resolver")


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
        adapter_modules=("adapters.aws.dynamodb_store", "adapters.aws.sqs_queue"),
        settings=(*_COMMON, *_QUEUE, *_POLICY, "planner_horizon_s"),
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
        ),
        settings=(
            *_COMMON,
            *_QUEUE,
            *_POLICY,
            "aws_failover_region",
            "ses_configuration_set",
            "ses_use_tenants",
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
        trigger="SNS topic of the SES configuration set's event destination (both regions)",
        adapter_modules=(
            "adapters.aws.dynamodb_store",
            "adapters.aws.s3_archive",
            "adapters.aws.lambda_events",
        ),
        settings=(
            *_COMMON,
            *_POLICY,
            "archive_bucket",
            "archive_kms_key_id",
            "metrics_namespace",
            "unsubscribe_secret",
            "unsubscribe_old_secrets",
        ),
    ),
    LambdaFunction(
        name="unsubscribe",
        handler="entrypoints.aws.unsubscribe.handler",
        trigger="Lambda function URL (RFC 8058 one-click POST and the confirmation page GET)",
        adapter_modules=("adapters.aws.dynamodb_store",),
        settings=(*_COMMON, "unsubscribe_secret", "unsubscribe_old_secrets"),
    ),
)


def function(name: str) -> LambdaFunction:
    return next(f for f in FUNCTIONS if f.name == name)
