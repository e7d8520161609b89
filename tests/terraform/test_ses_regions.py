"""SES lives in both regions: identities with Easy DKIM, custom MAIL FROM, the configuration set and its
event destination to an SNS topic that only SES (for this configuration set) may publish to."""

from __future__ import annotations

from tests.terraform import tfconfig

SES_RESOURCES = {
    ("aws_sesv2_email_identity", "this"),
    ("aws_sesv2_email_identity_mail_from_attributes", "this"),
    ("aws_sesv2_configuration_set", "this"),
    ("aws_sesv2_configuration_set_event_destination", "sns"),
    ("aws_sns_topic", "events"),
    ("aws_sns_topic_policy", "events"),
}


def test_the_root_instantiates_ses_in_the_primary_and_the_failover_region(example: tfconfig.Config) -> None:
    calls = {
        label: body
        for label, body in example.modules().items()
        if body["source"].endswith("modules/ses_region")
    }
    # The primary instance runs on the default provider, the failover one on the failover alias.
    assert {label: body.get("providers") for label, body in calls.items()} == {
        "ses_primary": None,
        "ses_failover": {"aws": "${aws.failover}"},
    }
    providers = {body.get("alias", "default"): body["region"] for _, body in example.providers()}
    assert providers == {"default": "${var.primary_region}", "failover": "${var.failover_region}"}
    assert calls["ses_primary"]["domains"] == calls["ses_failover"]["domains"] == "${var.sending_domains}"
    assert calls["ses_primary"]["configuration_set_name"] == calls["ses_failover"]["configuration_set_name"]
    assert (calls["ses_primary"]["publish_dmarc"], calls["ses_failover"]["publish_dmarc"]) == (True, False)


def test_the_ses_module_takes_its_region_from_its_provider(modules: dict[str, tfconfig.Config]) -> None:
    ses = modules["ses_region"]
    found = {(kind, name) for kind, name, _ in ses.resources()}
    assert found >= SES_RESOURCES
    assert "region" not in ses.variables()
    # Region-specific names (MAIL FROM, the configuration set ARN) come from the provider's region.
    assert ses.blocks["locals"][0]["region"] == "${data.aws_region.current.id}"
    assert "${local.region}" in ses.blocks["locals"][0]["configuration_set_arn"]


def test_identities_use_easy_dkim_a_mail_from_domain_and_the_configuration_set(
    modules: dict[str, tfconfig.Config],
) -> None:
    ses = modules["ses_region"]
    identity = ses.resource("aws_sesv2_email_identity", "this")
    assert identity["dkim_signing_attributes"] == [{"next_signing_key_length": "${var.dkim_key_length}"}]
    assert identity["configuration_set_name"] == "${aws_sesv2_configuration_set.this.configuration_set_name}"
    mail_from = ses.resource("aws_sesv2_email_identity_mail_from_attributes", "this")
    assert mail_from["mail_from_domain"] == "${local.mail_from_domains[each.value]}"
    config_set = ses.resource("aws_sesv2_configuration_set", "this")
    assert config_set["reputation_options"] == [{"reputation_metrics_enabled": True}]


def test_events_go_to_sns_and_only_ses_may_publish(modules: dict[str, tfconfig.Config]) -> None:
    ses = modules["ses_region"]
    destination = ses.resource("aws_sesv2_configuration_set_event_destination", "sns")["event_destination"][0]
    assert destination["enabled"] is True
    assert destination["sns_destination"] == [{"topic_arn": "${aws_sns_topic.events.arn}"}]
    event_types = ses.variables()["event_types"]["default"]
    assert {"SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "REJECT", "DELIVERY_DELAY"} <= set(event_types)
    assert not {"OPEN", "CLICK"} & set(event_types)  # no tracking pixel or rewritten links by default
    [statement] = tfconfig.document_statements(ses.data("aws_iam_policy_document", "events"))
    assert statement["actions"] == ["sns:Publish"]
    assert statement["principals"][0] == {"type": "Service", "identifiers": ["ses.amazonaws.com"]}
    conditions = {c["variable"]: c["values"] for c in statement["condition"]}
    assert conditions == {
        "aws:SourceAccount": ["${local.account_id}"],
        "aws:SourceArn": ["${local.configuration_set_arn}"],
    }


def test_the_feedback_function_hears_both_regions(example: tfconfig.Config) -> None:
    """Each topic's subscription lives in the topic's region: the failover one through its provider."""
    primary = example.resource("aws_sns_topic_subscription", "ses_events_primary")
    failover = example.resource("aws_sns_topic_subscription", "ses_events_failover")
    assert (primary.get("provider"), primary["topic_arn"]) == (None, "${module.ses_primary.event_topic_arn}")
    assert (failover["provider"], failover["topic_arn"]) == (
        "${aws.failover}",
        "${module.ses_failover.event_topic_arn}",
    )
    for subscription in (primary, failover):
        assert (subscription["protocol"], subscription["endpoint"]) == (
            "lambda",
            "${module.feedback.function_arn}",
        )
    triggers = example.modules()["feedback"]["allowed_triggers"]
    assert {t["source_arn"] for t in triggers.values()} == {
        "${module.ses_primary.event_topic_arn}",
        "${module.ses_failover.event_topic_arn}",
    }


def test_dns_records_are_outputs_and_route53_is_optional(
    example: tfconfig.Config, modules: dict[str, tfconfig.Config]
) -> None:
    ses = modules["ses_region"]
    assert ses.outputs()["dns_records"]["value"] == "${local.dns_records}"
    dns_locals = ses.blocks["locals"][0]
    assert {"dkim_records", "mail_from_records", "dmarc_records"} <= set(dns_locals)
    for name in ("dkim", "mail_from_mx", "mail_from_spf", "dmarc"):
        assert "local.zoned_domains" in str(ses.resource("aws_route53_record", name)["for_each"])
    assert "module.ses_failover.dns_records" in example.outputs()["dns_records"]["value"]
