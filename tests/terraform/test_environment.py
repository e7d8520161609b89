"""Each function gets exactly the OUTREACH_* variables its code reads (manifest settings, minus the
test-only ones), and the values that tie functions together point at the right resources."""

from __future__ import annotations

from entrypoints.aws.manifest import FUNCTIONS, TEST_ONLY_SETTINGS
from entrypoints.settings import Settings
from tests.terraform import tfconfig

READS = {f.name: f.environment for f in FUNCTIONS}


def test_each_function_gets_every_variable_it_reads_and_no_other(example: tfconfig.Config) -> None:
    assert tfconfig.environment_mismatches(example, READS) == []


def test_the_check_sees_a_missing_and_an_unread_variable(example: tfconfig.Config) -> None:
    reads = dict(READS, planner=(*READS["planner"], "OUTREACH_SOMETHING_NEW"))
    reads["sender"] = tuple(v for v in READS["sender"] if v != "OUTREACH_MAX_ATTEMPTS")
    assert tfconfig.environment_mismatches(example, reads) == [
        "planner: reads OUTREACH_SOMETHING_NEW, which Terraform does not set",
        "sender: sets OUTREACH_MAX_ATTEMPTS, which it never reads",
    ]


def test_test_only_settings_are_never_deployed(example: tfconfig.Config) -> None:
    for name, call in tfconfig.function_calls(example).items():
        for setting in TEST_ONLY_SETTINGS:
            assert f"OUTREACH_{setting.upper()}" not in call["environment"], name


def test_every_variable_names_a_setting(example: tfconfig.Config) -> None:
    fields = {f"OUTREACH_{name.upper()}" for name in Settings.model_fields}
    for name, call in tfconfig.function_calls(example).items():
        assert set(call["environment"]) <= fields, name


def test_the_functions_run_the_aws_backend_against_the_same_resources(example: tfconfig.Config) -> None:
    calls = tfconfig.function_calls(example)
    for name, call in calls.items():
        env = call["environment"]
        assert env["OUTREACH_BACKEND"] == "aws", name
        assert env["OUTREACH_TABLE_NAME"] == "${module.state.table_name}", name
        assert env["OUTREACH_AWS_REGION"] == "${var.primary_region}", name
        assert call["handler"] == next(f.handler for f in FUNCTIONS if f.name == name)
    sender = calls["sender"]["environment"]
    assert sender["OUTREACH_AWS_FAILOVER_REGION"] == "${var.failover_region}"
    assert sender["OUTREACH_JOB_QUEUE_URL"] == "${module.queue.queue_url}"
    assert sender["OUTREACH_JOB_DLQ_URL"] == "${module.queue.dlq_url}"
    # The HTTP API's URL has no trailing slash: one "/" between it and the route's first segment.
    assert sender["OUTREACH_UNSUBSCRIBE_BASE_URL"] == "${module.unsubscribe_endpoint.url}/unsubscribe"
    assert example.outputs()["unsubscribe_base_url"]["value"] == sender["OUTREACH_UNSUBSCRIBE_BASE_URL"]
    assert calls["feedback"]["environment"]["OUTREACH_ARCHIVE_BUCKET"] == "${module.archive.bucket_name}"
    for name in ("planner", "sender", "feedback"):  # the engine's alerts go to the primary alert topic
        assert calls[name]["environment"]["OUTREACH_ALERT_TOPIC_ARN"] == "${module.alerts.topic_arn}", name
    for name in ("sender", "feedback", "unsubscribe"):
        assert calls[name]["environment"]["OUTREACH_UNSUBSCRIBE_SECRET"] == "${var.unsubscribe_secret}"
    assert example.variables()["unsubscribe_secret"]["sensitive"] is True
