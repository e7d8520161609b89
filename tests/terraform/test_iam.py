"""IAM least privilege: each function's role grants exactly the actions its code calls.

The code side is the manifest (src/entrypoints/aws/manifest.py): the union of IAM_ACTIONS of the
adapter modules each function uses, which tests/integration/aws/test_iam_and_manifest.py derives from
the boto3 calls in each module. The Terraform side is the `policy_statements` of each lambda_function
call in the root; what the platform itself needs (logs, event source polling, the async DLQ) is a
separate, fixed policy inside the module, checked here too.
"""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from entrypoints.aws.manifest import FUNCTIONS
from entrypoints.settings import Settings
from tests.integration.aws.test_iam_and_manifest import _client_calls
from tests.terraform import tfconfig
from tests.terraform.tfconfig import REPO

FIXTURES = Path(__file__).parent / "fixtures"
RELAY_ADAPTERS = ("aws/ssm_parameter", "aws/sns_alert_relay", "telegram_notifier")
CODE_ACTIONS = {f.name: f.iam_actions for f in FUNCTIONS}
# Actions IAM cannot scope to a resource: the only ones allowed on "*".
UNSCOPED_ACTIONS = {"cloudwatch:GetMetricData"}
PLATFORM_ACTIONS = {
    "WriteOwnLogs": {"logs:CreateLogStream", "logs:PutLogEvents"},
    "PollEventSourceQueue": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
    "AsyncDeadLetters": {"sqs:SendMessage"},
    "UseDataKeys": {"kms:Decrypt", "kms:GenerateDataKey"},
}


def test_each_function_role_grants_exactly_what_its_code_calls(example: tfconfig.Config) -> None:
    assert tfconfig.iam_mismatches(example, CODE_ACTIONS) == []
    assert set(tfconfig.function_calls(example)) == set(CODE_ACTIONS)


def test_the_checker_reports_extra_missing_and_unknown_functions() -> None:
    broken = tfconfig.load(FIXTURES / "broken_iam")
    problems = tfconfig.iam_mismatches(broken, CODE_ACTIONS)
    assert "sender: grants dynamodb:Scan, which its code never calls" in problems
    assert "sender: lacks ses:SendEmail, which its code calls" in problems
    assert "planner: no Terraform function for it" in problems
    assert "reporter: a Terraform function that the manifest does not know" in problems
    assert len(problems) == 4, problems


def test_the_checker_refuses_actions_it_cannot_read() -> None:
    computed = tfconfig.load(FIXTURES / "computed_actions")
    with pytest.raises(tfconfig.UncheckableError, match="planner"):
        tfconfig.iam_mismatches(computed, CODE_ACTIONS)


def test_code_statements_name_their_resources(example: tfconfig.Config) -> None:
    for name, call in tfconfig.function_calls(example).items():
        for statement in call["policy_statements"]:
            resources = statement["resources"]
            if resources == ["*"]:
                assert set(statement["actions"]) <= UNSCOPED_ACTIONS, f"{name}: {statement['sid']} on *"
            else:
                assert "*" not in resources, f"{name}: {statement['sid']}"


def test_the_sender_may_send_only_from_our_identities_in_both_regions(example: tfconfig.Config) -> None:
    statement = next(
        s for s in example.modules()["sender"]["policy_statements"] if "ses:SendEmail" in s["actions"]
    )
    assert statement["resources"] == "${local.ses_resources}"
    ses_resources = example.blocks["locals"][0]["ses_resources"]
    for instance in ("ses_primary", "ses_failover"):
        assert f"module.{instance}.identity_arns" in ses_resources
        assert f"module.{instance}.configuration_set_arn" in ses_resources


def test_the_module_role_has_only_the_code_policy_and_the_platform_policy(
    modules: dict[str, tfconfig.Config],
) -> None:
    module = modules["lambda_function"]
    kinds = {kind for kind, _, _ in module.resources()}
    assert "aws_iam_role_policy_attachment" not in kinds  # no managed policies
    policies = {name: body for kind, name, body in module.resources() if kind == "aws_iam_role_policy"}
    assert set(policies) == {"code", "runtime"}
    code = module.data("aws_iam_policy_document", "code")
    assert tfconfig.document_statements(code) == [
        {
            "sid": "${statement.value.sid}",
            "actions": "${statement.value.actions}",
            "resources": "${statement.value.resources}",
        }
    ]
    assert code["dynamic"][0]["statement"]["for_each"] == "${local.policy_statements}"


def test_the_platform_policy_is_the_fixed_set_each_scoped_to_a_resource(
    modules: dict[str, tfconfig.Config],
) -> None:
    statements = tfconfig.document_statements(
        modules["lambda_function"].data("aws_iam_policy_document", "runtime")
    )
    assert {s["sid"]: set(s["actions"]) for s in statements} == PLATFORM_ACTIONS
    for statement in statements:
        assert "*" not in statement["resources"], statement["sid"]


def test_the_telegram_forwarder_may_only_do_what_its_code_calls(modules: dict[str, tfconfig.Config]) -> None:
    """The forwarder (entrypoints/alert_relay.py) is outside the manifest: derive its actions from the
    boto3 calls of the modules it runs, as the manifest's own test does for the adapters."""
    sources = [
        REPO / "src/entrypoints/alert_relay.py",
        *(REPO / f"src/adapters/{m}.py" for m in RELAY_ADAPTERS),
    ]
    ssm = botocore.session.get_session().get_service_model("ssm")
    by_method = {xform_name(op): f"ssm:{op}" for op in ssm.operation_names}
    calls = set().union(*(_client_calls(path.read_text(encoding="utf-8")) for path in sources))
    assert calls <= set(by_method), calls - set(by_method)
    call = modules["alerts"].modules()["telegram_forwarder"]
    assert tfconfig.granted_code_actions(call, "telegram_forwarder") == {by_method[c] for c in calls}
    assert call["policy_statements"][0]["resources"] == ["${local.token_parameter_arn}"]


def test_the_telegram_forwarder_gets_the_settings_it_reads(modules: dict[str, tfconfig.Config]) -> None:
    environment = modules["alerts"].modules()["telegram_forwarder"]["environment"]
    fields = {f"OUTREACH_{name.upper()}" for name in Settings.model_fields}
    assert set(environment) <= fields
    assert {"OUTREACH_TELEGRAM_CHAT_ID", "OUTREACH_TELEGRAM_TOKEN_PARAMETER", "OUTREACH_AWS_REGION"} <= set(
        environment
    )


def test_the_scheduler_role_may_only_invoke_its_targets(modules: dict[str, tfconfig.Config]) -> None:
    statements = tfconfig.document_statements(modules["scheduler"].data("aws_iam_policy_document", "invoke"))
    assert [(s["actions"], s["resources"]) for s in statements] == [
        (["lambda:InvokeFunction"], "${distinct([for s in values(var.schedules) : s.function_arn])}")
    ]


def test_nothing_may_invoke_a_function_anonymously() -> None:
    """No function URL and no `principal = "*"`: the public endpoint is the HTTP API's routes."""
    for path in tfconfig.module_dirs() + tfconfig.env_dirs():
        for kind, name, body in tfconfig.load(path).resources():
            assert kind != "aws_lambda_function_url", f"{path.name}: {kind}.{name}"
            if kind == "aws_lambda_permission":
                assert body["principal"] != "*", f"{path.name}: {kind}.{name}"


def test_the_http_api_may_invoke_only_through_its_own_routes(modules: dict[str, tfconfig.Config]) -> None:
    module = modules["http_endpoint"]
    permission = module.resource("aws_lambda_permission", "this")
    assert permission["for_each"] == "${local.routes}"
    assert (permission["action"], permission["principal"]) == (
        "lambda:InvokeFunction",
        "apigateway.amazonaws.com",
    )
    # <this API's execution ARN>/<any stage>/<the route's method>/<the route's path>
    assert permission["source_arn"].startswith(
        "${aws_apigatewayv2_api.this.execution_arn}/*/${each.value.method"
    )
    assert permission["source_arn"].endswith(r'${replace(each.value.path, "/\\{[^}]+\\}/", "*")}')
    route = module.resource("aws_apigatewayv2_route", "this")
    assert (route["for_each"], route["route_key"]) == ("${local.routes}", "${each.key}")


def test_the_feedback_function_reads_only_the_inbound_prefix(example: tfconfig.Config) -> None:
    statements = {s["sid"]: s for s in example.modules()["feedback"]["policy_statements"]}
    assert statements["InboundMail"] == {
        "sid": "InboundMail",
        "actions": ["s3:GetObject"],
        "resources": "${local.inbound_object_resources}",
    }
    inbound = "module.inbound[0]"
    assert example.blocks["locals"][0]["inbound_object_resources"] == (
        f'${{var.inbound == null ? [] : ["${{{inbound}.bucket_arn}}/${{{inbound}.object_key_prefix}}*"]}}'
    )
    assert example.modules()["feedback"]["kms_key_arns"] == "${local.inbound_kms_key_arns}"
    assert example.blocks["locals"][0]["inbound_kms_key_arns"] == (
        "${try(var.inbound.kms_key_arn, null) == null ? [] : [var.inbound.kms_key_arn]}"
    )


def test_a_statement_without_resources_is_left_out(modules: dict[str, tfconfig.Config]) -> None:
    """An optional resource that is off (no inbound) leaves its statement empty: no invalid policy."""
    module = modules["lambda_function"]
    assert module.blocks["locals"][0]["policy_statements"] == (
        "${[for s in var.policy_statements : s if length(s.resources) > 0]}"
    )
    assert (
        module.resource("aws_iam_role_policy", "code")["count"]
        == "${length(local.policy_statements) > 0 ? 1 : 0}"
    )
