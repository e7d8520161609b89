"""What the Lambda functions import at cold start is what the zip must carry (scripts/package_lambda.py
BUNDLED): the domain check's checkdmarc / dkimpy tree is a CLI concern and must stay out of it. And a
function loads only what it wires (entrypoints/container.py builds by dotted path): the sender's cold
start imports no other function's service, and builds no client it rarely calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

from adapters.aws.clients import DeferredClient
from entrypoints.aws.manifest import FUNCTIONS

CLI_ONLY = ("checkdmarc", "dkim", "holidays", "dnslib", "httpx", "publicsuffixlist", "pyleri", "expiringdict")
# Loaded by the IMAP poller on its first read only: no function imports it at cold start.
FIRST_READ_ONLY = ("imapclient",)
# Other functions' services and adapters, the local backend, and what only a non-ASCII address needs.
NOT_THE_SENDERS = (
    "adapters.feedback_ingest",
    "outreach_core.services.feedback",
    "outreach_core.services.planner",
    "outreach_core.services.status",
    "outreach_core.services.forecast",
    "adapters.sqlite_store",
    "adapters.simulated_ses",
    "adapters.imap_mailbox",
    "adapters.aws.s3_objects",
    "email_validator",
)
ENV = {
    **os.environ,
    "OUTREACH_BACKEND": "aws",
    "OUTREACH_MX_RESOLVER": "dns",
    "AWS_ACCESS_KEY_ID": "cold-start-test",
    "AWS_SECRET_ACCESS_KEY": "cold-start-test",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "OUTREACH_AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "OUTREACH_JOB_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
    "OUTREACH_ARCHIVE_BUCKET": "archive",
    "OUTREACH_UNSUBSCRIBE_SECRET": "cold-start-test-secret",  # the sender refuses to start without
    "OUTREACH_AWS_FAILOVER_REGION": "eu-central-1",
    "OUTREACH_ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts",
}


def _cold_start(statements: str) -> Any:
    """Run `statements` in a fresh interpreter; they print one JSON line last."""
    out = subprocess.run(
        [sys.executable, "-c", statements], env=ENV, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_lambda_handlers_import_no_cli_only_package() -> None:
    handlers = [f.handler.rsplit(".", 1)[0] for f in FUNCTIONS]
    loaded = set(
        _cold_start(
            "import importlib, json, sys\n"
            f"[importlib.import_module(m) for m in {handlers!r}]\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
        )
    )
    assert "disposable_email_domains" in loaded  # the planner's list hygiene: bundled
    assert not loaded & set(CLI_ONLY), sorted(loaded & set(CLI_ONLY))
    assert not loaded & set(FIRST_READ_ONLY), sorted(loaded & set(FIRST_READ_ONLY))
    assert "adapters" in loaded and "entrypoints" in loaded


def test_the_sender_imports_what_it_wires_and_builds_no_rarely_used_client() -> None:
    seen = _cold_start(
        "import json, sys\n"
        "import entrypoints.aws.sender as handler\n"
        "aws = handler.application.adapters\n"
        "rare = {'sns': aws.sns_client(), 'ssm': aws.ssm_client(), 'failover': aws.ses_failover_client()}\n"
        "built = [name for name, client in rare.items() if client.built]\n"
        "print(json.dumps({'modules': sorted(sys.modules), 'built': built}))\n"
    )
    modules = set(seen["modules"])
    assert {"outreach_core.services.sender", "adapters.aws.failover", "adapters.aws.sns_notifier"} <= modules
    assert not modules & set(NOT_THE_SENDERS), sorted(modules & set(NOT_THE_SENDERS))
    assert seen["built"] == []  # the alert topic, SSM and the failover region: on first use


class RecordingSession:
    def __init__(self) -> None:
        self.built: list[tuple[str, str]] = []

    def client(self, service: str, region_name: str, endpoint_url: str | None, config: object) -> Any:
        self.built.append((service, region_name))
        return SimpleNamespace(publish=lambda **kw: {"MessageId": "m-1", **kw})


def test_a_deferred_client_is_built_once_on_its_first_call() -> None:
    session = RecordingSession()
    client = DeferredClient(session, "sns", "eu-west-1", None)  # type: ignore[arg-type]
    assert not client.built and session.built == []
    assert client.publish(TopicArn="t")["MessageId"] == "m-1"
    assert client.publish(TopicArn="t")["TopicArn"] == "t"
    assert client.built and session.built == [("sns", "eu-west-1")]
