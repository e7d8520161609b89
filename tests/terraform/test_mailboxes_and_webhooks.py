"""The IMAP poller and the webhook functions in Terraform (issue 14): off by default, each with its own
trigger and role; mailbox and signing secrets are SSM parameters under their own paths, readable only
by the functions that use them; every function that can set off an event may only send to the
webhook queue."""

from __future__ import annotations

from entrypoints.aws.manifest import FUNCTIONS, OPTIONAL
from tests.terraform import tfconfig

PUBLISHERS = ("planner", "sender", "feedback", "unsubscribe")


def test_both_are_off_by_default_and_switched_by_their_variables(example: tfconfig.Config) -> None:
    variables, modules = example.variables(), example.modules()
    assert variables["enable_imap_poller"]["default"] is False
    assert variables["enable_webhooks"]["default"] is False
    assert modules["imap_poller"]["count"] == "${var.enable_imap_poller ? 1 : 0}"
    assert modules["webhooks"]["count"] == "${var.enable_webhooks ? 1 : 0}"
    assert modules["webhook_queue"]["count"] == "${var.enable_webhooks ? 1 : 0}"
    assert set(OPTIONAL) == {"imap_poller", "webhooks"} <= {f.name for f in FUNCTIONS}


def test_publishers_send_to_the_webhook_queue_only_when_it_exists(example: tfconfig.Config) -> None:
    calls = tfconfig.function_calls(example)
    locals_ = example.blocks["locals"][0]
    assert locals_["webhook_queue_url"] == '${var.enable_webhooks ? module.webhook_queue[0].queue_url : ""}'
    assert (
        locals_["webhook_queue_resources"]
        == "${var.enable_webhooks ? [module.webhook_queue[0].queue_arn] : []}"
    )
    # the poller too, as a list: `arn == null ? [] : [arn]` has no known length at plan time (the ARN
    # is unknown until apply), and lambda_function counts its statements (found by `terraform plan`)
    assert example.modules()["imap_poller"]["webhook_queue_arns"] == "${local.webhook_queue_resources}"
    for name in PUBLISHERS:
        assert calls[name]["environment"]["OUTREACH_WEBHOOK_QUEUE_URL"] == "${local.webhook_queue_url}", name
        [statement] = [s for s in calls[name]["policy_statements"] if s["sid"] == "WebhookQueue"]
        assert statement == {
            "sid": "WebhookQueue",
            "actions": ["sqs:SendMessage"],
            "resources": "${local.webhook_queue_resources}",
        }, name


def test_the_webhook_function_reads_its_own_queue_with_a_dlq_and_only_the_signing_secrets(
    example: tfconfig.Config, modules: dict[str, tfconfig.Config]
) -> None:
    call = tfconfig.function_calls(example)["webhooks"]
    assert call["sqs_event_source"]["queue_arn"] == "${module.webhook_queue[0].queue_arn}"
    assert example.modules()["webhook_queue"]["source"] == "../../modules/queue"
    assert int(example.modules()["webhook_queue"]["max_receive_count"]) >= 3
    assert "redrive_policy" in modules["queue"].resource("aws_sqs_queue", "this")
    [secrets] = [s for s in call["policy_statements"] if s["sid"] == "SigningSecrets"]
    assert secrets["resources"] == "${local.webhook_secrets_arns}"
    assert call["environment"]["OUTREACH_WEBHOOK_MAX_ATTEMPTS"] == "${tostring(var.webhook_max_attempts)}"


def test_mailbox_secrets_are_readable_by_the_sender_and_the_poller_only(
    example: tfconfig.Config, modules: dict[str, tfconfig.Config]
) -> None:
    calls = tfconfig.function_calls(example)
    readers = {
        name for name, call in calls.items()
        if any("ssm:GetParameter" in s["actions"] for s in call["policy_statements"])
    }  # fmt: skip
    assert readers == {"sender", "imap_poller", "webhooks"}
    [sender] = [s for s in calls["sender"]["policy_statements"] if s["sid"] == "MailboxSecrets"]
    assert sender["resources"] == "${local.mailbox_secrets_arns}"
    [poller] = [s for s in calls["imap_poller"]["policy_statements"] if s["sid"] == "MailboxSecrets"]
    assert poller["resources"] == ["${local.secrets_arn}"]
    assert example.modules()["imap_poller"]["secrets_path"] == "${local.mailbox_secrets_path}"
    assert (
        "parameter${trimsuffix(var.secrets_path" in modules["imap_poller"].blocks["locals"][0]["secrets_arn"]
    )


def test_the_poller_runs_on_its_schedule_and_only_the_scheduler_may_invoke_it(
    modules: dict[str, tfconfig.Config],
) -> None:
    poller = modules["imap_poller"].modules()
    assert poller["this"]["source"] == "../lambda_function"
    assert "allowed_triggers" not in poller["this"]
    schedule = poller["schedule"]
    assert schedule["source"] == "../scheduler"
    [entry] = schedule["schedules"].values()
    assert entry["function_arn"] == "${module.this.function_arn}"
    assert entry["schedule_expression"] == "${var.schedule_expression}"
    assert modules["imap_poller"].variables()["schedule_expression"]["default"] == "rate(5 minutes)"
