"""Every taggable resource is tagged, and monitoring stays low-cardinality (no per-tenant dimensions)."""

from __future__ import annotations

import re

import pytest

from tests.terraform import tfconfig

# Resource types the AWS provider cannot tag (sub-resources, policies, attachments, records).
UNTAGGABLE = {
    "aws_apigatewayv2_api_mapping",
    "aws_apigatewayv2_integration",
    "aws_apigatewayv2_route",
    "aws_cloudwatch_dashboard",
    "aws_iam_role_policy",
    "aws_lambda_permission",
    "aws_route53_record",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_scheduler_schedule",
    "aws_ses_active_receipt_rule_set",
    "aws_ses_receipt_rule",
    "aws_ses_receipt_rule_set",
    "aws_sesv2_configuration_set_event_destination",
    "aws_sesv2_email_identity_mail_from_attributes",
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
    "aws_sqs_queue_policy",
    "aws_sqs_queue_redrive_allow_policy",
}
REQUIRED_TAGS = {"Project", "Environment", "ManagedBy"}


def untagged(config: tfconfig.Config, default_tags: bool) -> list[str]:
    """Taggable resources without `tags`; with provider default_tags every resource counts as tagged."""
    if default_tags:
        return []
    return [
        f"{kind}.{name}"
        for kind, name, body in config.resources()
        if kind not in UNTAGGABLE and not body.get("tags")
    ]


MODULE_DIRS = tfconfig.module_dirs()


@pytest.mark.parametrize("path", MODULE_DIRS, ids=[p.name for p in MODULE_DIRS])
def test_modules_tag_every_taggable_resource(path: object) -> None:
    """Modules take `tags` so that they tag their resources without provider default_tags too."""
    config = tfconfig.load(tfconfig.MODULES / str(getattr(path, "name", path)))
    assert untagged(config, default_tags=False) == []


def test_the_root_tags_everything_through_default_tags(example: tfconfig.Config) -> None:
    providers = example.providers()
    assert providers, "the root configures no provider"
    for name, body in providers:
        assert name == "aws"
        tags = body["default_tags"][0]["tags"]
        assert tags == "${local.tags}", "every provider block (aliases included) needs default_tags"
    local_tags = example.blocks["locals"][0]["tags"]
    assert all(f"{key} = " in local_tags for key in REQUIRED_TAGS), local_tags
    assert untagged(example, default_tags=True) == []


def test_the_tag_check_sees_an_untagged_resource(example: tfconfig.Config) -> None:
    """Without default_tags the root's own queue would count as untagged: the exemption is real."""
    assert untagged(example, default_tags=False) == ["aws_sqs_queue.failed_invocations"]


TENANT_WORDS = ("tenant", "Tenant", "TENANT")
OBSERVABILITY_MAIN = tfconfig.MODULES / "observability" / "main.tf"
_ALARM = re.compile(r'namespace\s*=\s*"?([^"\s]+)"?\s*\n\s*metric\s*=\s*"([^"]+)"')
_DIMENSIONS = re.compile(r"dimensions\s*=\s*\{([^}]*)\}")


def test_alarms_and_dashboard_have_no_per_tenant_dimensions() -> None:
    text = OBSERVABILITY_MAIN.read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not any(word in code for word in TENANT_WORDS)
    keys = {
        pair.split("=")[0].strip()
        for body in _DIMENSIONS.findall(text)
        for pair in body.split(",")
        if "=" in pair
    }
    assert keys == {"QueueName", "FunctionName", "Kind"}


def test_the_alarms_cover_reputation_queues_throttles_and_errors() -> None:
    metrics = set(_ALARM.findall(OBSERVABILITY_MAIN.read_text(encoding="utf-8")))
    assert {
        ("AWS/SES", "Reputation.BounceRate"),
        ("AWS/SES", "Reputation.ComplaintRate"),
        ("AWS/SES", "Reject"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/Lambda", "Errors"),
        ("var.metrics_namespace", "ProviderError"),
    } <= metrics


def test_ses_alarms_exist_in_every_sending_region(
    example: tfconfig.Config, modules: dict[str, tfconfig.Config]
) -> None:
    """An alarm notifies only a topic of its own region: the failover SES alarms live there, through
    the failover provider, and notify the failover region's alert topic."""
    call = example.modules()["observability"]
    assert call["providers"] == {"aws": "aws", "${aws.failover}": "${aws.failover}"}
    assert call["alarm_topic_arn"] == "${module.alerts.topic_arn}"
    assert call["failover_alarm_topic_arn"] == "${module.alerts_failover.topic_arn}"
    assert example.modules()["alerts_failover"]["providers"] == {"aws": "${aws.failover}"}
    observability = modules["observability"]
    failover = observability.resource("aws_cloudwatch_metric_alarm", "failover")
    assert (failover["provider"], failover["for_each"]) == ("${aws.failover}", "${local.ses_alarms.failover}")
    assert observability.blocks["locals"][0]["alarms"].startswith("${merge(local.ses_alarms.primary,")
    assert observability.data("aws_region", "failover")["provider"] == "${aws.failover}"
