"""The root's switches: deletion_protection guards every store of data against `terraform destroy`,
and inbound wires SES receiving into the feedback function, reading only what SES stored."""

from __future__ import annotations

from tests.terraform import tfconfig


def test_deletion_protection_is_on_by_default_and_reaches_every_store(example: tfconfig.Config) -> None:
    variable = example.variables()["deletion_protection"]
    assert (variable["type"], variable["default"]) == ("bool", True)
    modules = example.modules()
    assert modules["state"]["deletion_protection"] == "${var.deletion_protection}"
    # Buckets with objects refuse deletion unless force_destroy: the same switch, inverted.
    assert modules["archive"]["force_destroy"] == "${!var.deletion_protection}"
    assert modules["inbound"]["force_destroy"] == "${!var.deletion_protection}"


def test_the_modules_default_to_keeping_data(modules: dict[str, tfconfig.Config]) -> None:
    assert modules["state"].variables()["deletion_protection"]["default"] is True
    for name, resource in (("archive", "this"), ("ses_inbound", "inbound")):
        assert modules[name].variables()["force_destroy"]["default"] is False
        bucket = modules[name].resource("aws_s3_bucket", resource)
        assert bucket["force_destroy"] == "${var.force_destroy}", name


def test_inbound_is_off_by_default_and_feeds_the_feedback_function(example: tfconfig.Config) -> None:
    assert example.variables()["inbound"]["default"] is None
    inbound = example.modules()["inbound"]
    assert inbound["source"] == "../../modules/ses_inbound"
    assert inbound["count"] == "${var.inbound == null ? 0 : 1}"
    assert inbound["subscriber_lambda_arns"] == {"feedback": "${module.feedback.function_arn}"}
    # The reader looks where SES writes: the same prefix for the rule, the setting and the grant.
    assert inbound["object_key_prefix"] == "${local.inbound_prefix}"
    environment = example.modules()["feedback"]["environment"]
    assert (
        environment["OUTREACH_INBOUND_BUCKET"]
        == '${var.inbound == null ? "" : module.inbound[0].bucket_name}'
    )
    assert environment["OUTREACH_INBOUND_PREFIX"] == "${local.inbound_prefix}"


def test_the_inbound_topic_may_invoke_only_its_subscribers(modules: dict[str, tfconfig.Config]) -> None:
    module = modules["ses_inbound"]
    subscription = module.resource("aws_sns_topic_subscription", "lambda")
    permission = module.resource("aws_lambda_permission", "sns")
    # Keyed by labels known at plan time (a function ARN is not), one grant per subscriber.
    assert subscription["for_each"] == permission["for_each"] == "${var.subscriber_lambda_arns}"
    assert (subscription["protocol"], subscription["endpoint"]) == ("lambda", "${each.value}")
    assert (permission["principal"], permission["source_arn"]) == (
        "sns.amazonaws.com",
        "${aws_sns_topic.inbound.arn}",
    )
