"""IAM_ACTIONS of every AWS adapter module equals what its boto3 calls need, derived from the source
(AST) and botocore's service models; the Lambda manifest matches what the container really builds."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

import adapters.aws
from adapters.aws.clients import DeferredClient
from entrypoints.aws.manifest import FUNCTIONS, TEST_ONLY_SETTINGS, MissingSetting, check_environment
from entrypoints.container import AwsApplication, imap_poller
from entrypoints.settings import Settings
from tests.integration.aws import moto_env

SERVICES = ("dynamodb", "sqs", "sesv2", "s3", "cloudwatch", "sns", "ssm")
IAM_PREFIX = {"monitoring": "cloudwatch"}  # botocore's signing name differs from the IAM prefix
# Operations IAM authorises through other actions (the batch and transaction APIs).
AUTHORISED_AS = {
    "dynamodb:TransactWriteItems": {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
    "sqs:ChangeMessageVisibilityBatch": {"sqs:ChangeMessageVisibility"},
    "sqs:SendMessageBatch": {"sqs:SendMessage"},
    "sqs:DeleteMessageBatch": {"sqs:DeleteMessage"},
}


def _operations() -> dict[str, set[str]]:
    """snake_case client method -> IAM actions, over the services the adapters use."""
    session = botocore.session.get_session()
    methods: dict[str, set[str]] = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        prefix = model.signing_name or model.endpoint_prefix
        prefix = IAM_PREFIX.get(prefix, prefix)
        for operation in model.operation_names:
            action = f"{prefix}:{operation}"
            methods.setdefault(xform_name(operation), set()).update(AUTHORISED_AS.get(action, {action}))
    return methods


def _client_calls(source: str) -> set[str]:
    """Method names called on anything named `...client` (self.client, self.metrics_client, client)."""
    calls = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
            if name.endswith("client"):
                calls.add(node.func.attr)
    return calls


AWS_MODULES = sorted(m.name for m in pkgutil.iter_modules(adapters.aws.__path__))


@pytest.mark.parametrize("name", AWS_MODULES)
def test_iam_actions_are_exactly_what_the_boto3_calls_need(name: str) -> None:
    module = importlib.import_module(f"adapters.aws.{name}")
    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    operations = _operations()
    needed: set[str] = set()
    for call in _client_calls(source):
        assert call in operations, f"{name}: {call}() is not an operation of {SERVICES}"
        needed |= operations[call]
    assert needed == module.IAM_ACTIONS


def test_the_scan_sees_the_calls_it_should() -> None:
    source = Path(importlib.import_module("adapters.aws.sqs_queue").__file__ or "").read_text()
    assert {"send_message", "receive_message", "change_message_visibility_batch", "get_metric_data"} <= (
        _client_calls(source)
    )


# --- the manifest ----------------------------------------------------------------------------------


class RecordingSettings(Settings):
    """Settings that note every field read while the container builds a function's services."""

    def __getattribute__(self, name: str) -> Any:
        if name in type(self).model_fields:
            READ.add(name)
        return super().__getattribute__(name)


READ: set[str] = set()
RUNTIME_READS = {"backend", "log_level"}  # read by entrypoints.aws.runtime at cold start


def _adapter_modules(obj: Any, depth: int = 0, seen: set[int] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 7 or isinstance(obj, DeferredClient):  # a client, as botocore's are
        return set()
    seen.add(id(obj))
    found = {type(obj).__module__} if type(obj).__module__.startswith("adapters.aws.") else set()
    values = list(obj) if isinstance(obj, (list, tuple)) else list(getattr(obj, "__dict__", {}).values())
    for value in values:  # lists too: the fan-out notifier keeps its channels in one
        found |= _adapter_modules(value, depth + 1, seen)
    return found


def _handler_imports(handler: str) -> set[str]:
    module = handler.rsplit(".", 1)[0]
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"no module {module}"
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    assert any(isinstance(n, ast.FunctionDef) and n.name == handler.rsplit(".", 1)[1] for n in tree.body)
    imports = (n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    return {name for name in imports if name and name.startswith("adapters.aws.")}


BUILDS = {  # what each handler module builds at import (its service, and the metrics it flushes)
    "planner": lambda app: [app.services.planner(), app.adapters.metrics()],
    "sender": lambda app: [app.services.sender(), app.adapters.job_queue(), app.adapters.metrics()],
    "feedback": lambda app: [app.services.ingestor(), app.adapters.metrics()],
    "unsubscribe": lambda app: [app.services.unsubscribe(), app.adapters.metrics()],
    "imap_poller": lambda app: [imap_poller(app), app.adapters.metrics()],
    "webhooks": lambda app: [app.services.webhooks(), app.adapters.secrets(), app.adapters.metrics()],
}


@pytest.mark.parametrize("function", FUNCTIONS, ids=[f.name for f in FUNCTIONS])
def test_the_manifest_names_the_modules_and_settings_each_function_uses(function: Any) -> None:
    assert set(function.settings) <= set(Settings.model_fields)
    with moto_env.fake_aws_env():
        settings = RecordingSettings(
            backend="aws",
            aws_failover_region="eu-central-1",
            job_queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
            archive_bucket="archive",
            alert_topic_arn="arn:aws:sns:eu-west-1:123456789012:alerts",
            inbound_bucket="inbound",
            unsubscribe_secret="manifest-test-secret",
            webhook_queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/webhooks",  # webhooks on
        )
        READ.clear()
        app = AwsApplication(settings=settings)
        built = BUILDS[function.name](app)
        read = set(READ)
    used = set().union(*(_adapter_modules(obj) for obj in built)) | _handler_imports(function.handler)
    assert used == set(function.adapter_modules)
    assert read | RUNTIME_READS == set(function.settings) | set(TEST_ONLY_SETTINGS)
    assert function.environment == tuple(f"OUTREACH_{s.upper()}" for s in function.settings)


def test_the_sender_may_send_mail_and_the_planner_may_not() -> None:
    by_name = {f.name: f for f in FUNCTIONS}
    assert "ses:SendEmail" in by_name["sender"].iam_actions
    assert "ses:SendEmail" not in by_name["planner"].iam_actions
    assert "s3:PutObject" in by_name["feedback"].iam_actions
    assert {name for name, f in by_name.items() if "sns:Publish" in f.iam_actions} == {
        "planner",
        "sender",
        "feedback",
        "imap_poller",
    }
    # signing and mailbox secrets: read by the functions that use them, never by the publishers
    assert {name for name, f in by_name.items() if "ssm:GetParameter" in f.iam_actions} == {
        "sender",
        "imap_poller",
        "webhooks",
    }
    assert {"dynamodb:PutItem", "dynamodb:Query"} <= by_name["planner"].iam_actions


@pytest.mark.parametrize("function", FUNCTIONS, ids=[f.name for f in FUNCTIONS])
def test_a_cold_start_names_a_setting_the_deployment_left_out(function: Any) -> None:
    environ = {"_HANDLER": function.handler, **dict.fromkeys(function.environment, "")}
    check_environment(environ)  # every setting present (empty is a value: Terraform set it)
    left_out = function.environment[-1]
    del environ[left_out]
    with pytest.raises(MissingSetting, match=rf"^{function.name}: {left_out} not set"):
        check_environment(environ)


def test_outside_lambda_the_environment_is_not_checked() -> None:
    check_environment({})  # no _HANDLER: a test or a script importing the runtime with its own settings
