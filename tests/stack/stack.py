"""The deployed stack for the stack test: the endpoint, terraform, the Lambda service and the AWS
behaviour around the functions, wired together, plus the operator's CLI and read-back helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.integration.aws.moto_env import faster_moto_dynamodb
from tests.stack import moto_shim
from tests.stack.aws_around import (
    EventSourceMapping,
    HttpApi,
    Receiving,
    Scheduler,
    SesEventPublisher,
    sns_record,
)
from tests.stack.dns_server import MxServer
from tests.stack.endpoint import LocalEndpoint
from tests.stack.lambda_service import LambdaService
from tests.stack.terraform import Terraform

ACCOUNT = "123456789012"
PRIMARY, FAILOVER = "eu-west-1", "eu-central-1"
ADMIN_USER = "stack-test-admin"
# What the functions' resolver answers (the SES mailbox simulator's domain has SES inbound's MX).
MX = {"simulator.amazonses.com": "inbound-smtp.us-east-1.amazonaws.com"}


def tfvars(zip_path: Path, telegram_api: str) -> dict[str, Any]:
    return {
        "project": "outreach",
        "environment": "stack",
        "allowed_account_ids": [ACCOUNT],
        "primary_region": PRIMARY,
        "failover_region": FAILOVER,
        "sending_domains": ["mail.northwind.example", "mail.globex.example"],
        "alert_emails": ["ops@agency.example"],
        "telegram": {
            "chat_id": "-1001234567890",
            "token_parameter_name": "/outreach/stack/telegram-token",
            "api_base": telegram_api,
        },
        "inbound": {"recipients": ["replies.agency.example"]},
        "monthly_budget_usd": 20,
        "lambda_package_path": str(zip_path),
        "unsubscribe_secret": "stack-test-unsubscribe-secret-0123456789",
        "deletion_protection": False,
        "log_level": "INFO",
        "ses_max_send_rate": 20,
        "failover_threshold": 3,
        "failover_cool_down_seconds": 8,
        "sender_timeout_seconds": 20,
        # Issue 14: identities with their own mailboxes, read by the scheduled IMAP poller (every
        # second planner tick), and webhooks out (their delivery queue and function). The secrets'
        # SSM paths are the defaults.
        "enable_imap_poller": True,
        "imap_poll_schedule": "rate(10 minutes)",
        "enable_webhooks": True,
    }


@dataclass
class Stack:
    endpoint: str
    local: LocalEndpoint
    terraform: Terraform
    lambdas: LambdaService
    workdir: Path
    admin: dict[str, str]
    outputs: dict[str, Any] = field(default_factory=dict)
    scheduler: Scheduler | None = None
    sender_queue: EventSourceMapping | None = None
    webhook_queue: EventSourceMapping | None = None
    ses_events: SesEventPublisher | None = None
    receiving: Receiving | None = None
    http: HttpApi | None = None

    # --- clients ---------------------------------------------------------------------------------

    def client(
        self, service: str, region: str | None = None, credentials: dict[str, str] | None = None
    ) -> Any:
        creds = credentials or self.admin
        return boto3.client(
            service,
            verify=self.local.ca_bundle,
            endpoint_url=self.endpoint,
            region_name=region or PRIMARY,
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=creds.get("AWS_SESSION_TOKEN"),
            config=Config(retries={"mode": "standard", "max_attempts": 2}),
        )

    def wire(self) -> None:
        """Read the deployment back and attach the AWS behaviour around the functions to it."""
        self.outputs = self.terraform.outputs()
        self.lambdas.discover(PRIMARY)
        self.scheduler = Scheduler(self.lambdas, self.client)
        sender = self.outputs["function_names"]["sender"]
        self.sender_queue = EventSourceMapping.of(self.lambdas, self.client, sender)
        webhooks = self.outputs["function_names"].get("webhooks")
        self.webhook_queue = EventSourceMapping.of(self.lambdas, self.client, webhooks) if webhooks else None
        self.ses_events = SesEventPublisher(self.client, ACCOUNT)
        self.receiving = Receiving(self.client, PRIMARY, ACCOUNT)
        self.http = HttpApi(self.lambdas, self.client, PRIMARY, ACCOUNT)
        moto_shim.STATE.lambda_sink = self._deliver_from_sns

    def _deliver_from_sns(
        self,
        subscription: str,
        topic: str,
        function: str,
        message_id: str,
        message: str,
        subject: str | None,
        attributes: dict[str, Any] | None,
    ) -> None:
        record = sns_record(subscription, topic, message_id, message, subject, attributes)
        self.lambdas.invoke_as_service(function, {"Records": [record]}, "sns.amazonaws.com", topic)

    # --- the operator ----------------------------------------------------------------------------

    def cli_env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.workdir),
            "OUTREACH_BACKEND": "aws",
            "OUTREACH_AWS_REGION": PRIMARY,
            "OUTREACH_AWS_FAILOVER_REGION": FAILOVER,
            "OUTREACH_TABLE_NAME": self.outputs["table_name"],
            "OUTREACH_JOB_QUEUE_URL": self.outputs["job_queue_url"],
            "OUTREACH_JOB_DLQ_URL": self.outputs["job_dlq_url"],
            "OUTREACH_ARCHIVE_BUCKET": self.outputs["archive_bucket"],
            "OUTREACH_WEBHOOK_QUEUE_URL": self.outputs.get("webhook_queue_url") or "",
            "OUTREACH_WORKSPACE": str(self.workdir / "operator"),
            "COLUMNS": "250",  # rich tables at full width: ids not wrapped
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CA_BUNDLE": self.local.ca_bundle,
            "AWS_DEFAULT_REGION": PRIMARY,
            **self.admin,
        }

    def cli(self, *args: str, subprocess_: bool = False) -> str:
        """The operator's `outreach` command against the deployment. In this process by default (the
        same typer app and container the installed command runs; the set-up takes two dozen calls), or
        as the installed console script when `subprocess_` is set."""
        if subprocess_:
            outreach = Path(sys.executable).with_name("outreach")
            result = subprocess.run(
                [str(outreach), *args],
                check=False,
                env=self.cli_env(),
                capture_output=True,
                text=True,
                cwd=self.workdir,
                timeout=120,
            )
            if result.returncode != 0:
                raise AssertionError(f"outreach {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
            return result.stdout
        from typer.testing import CliRunner

        from entrypoints.cli.app import app

        outcome = CliRunner().invoke(app, list(args), env=self.cli_env(), catch_exceptions=False)
        if outcome.exit_code != 0:
            raise AssertionError(f"outreach {' '.join(args)} failed ({outcome.exit_code}):\n{outcome.output}")
        return str(outcome.output)

    def application(self, monkeypatch: Any) -> Any:
        """The engine's own view of the deployed state (what `outreach status` reads), in this process,
        with the operator's environment (set through `monkeypatch`, so the test's process gets it back)."""
        from entrypoints.container import build
        from entrypoints.settings import Settings

        for name, value in self.cli_env().items():
            if name.startswith(("AWS_", "OUTREACH_")):
                monkeypatch.setenv(name, value)
        return build(Settings(_env_file=None))  # type: ignore[call-arg]

    # --- reading what AWS holds ------------------------------------------------------------------

    def alerts(self) -> list[dict[str, Any]]:
        """Every message the engine published to the primary alert topic, as SNS holds it."""
        from moto.sns.models import sns_backends

        arn = self.outputs["alert_topic_arns"][PRIMARY]
        topic = sns_backends[ACCOUNT][PRIMARY].topics[arn]
        found = []
        for _, message, subject, attributes, _ in topic.sent_notifications:
            found.append({"message": message, "subject": subject, "attributes": attributes or {}})
        return found

    def function_logs(self, role: str) -> list[str]:
        return self.lambdas.log_lines(self.outputs["function_names"][role])


def admin_credentials(endpoint: str, ca_bundle: str) -> dict[str, str]:
    """The test's operator: made while IAM is still open, before enforcement is switched on."""
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=PRIMARY,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
        verify=ca_bundle,
    )
    iam.create_user(UserName=ADMIN_USER)
    iam.put_user_policy(
        UserName=ADMIN_USER,
        PolicyName="administrator",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@contextmanager
def local_endpoint(directory: Path) -> Iterator[tuple[str, LocalEndpoint]]:
    with moto_shim.installed():
        directory.mkdir(parents=True, exist_ok=True)
        local = LocalEndpoint(directory)
        endpoint = local.start()
        try:
            yield endpoint, local
        finally:
            local.stop()


@contextmanager
def deployed(workdir: Path, zip_path: Path, telegram_api: str) -> Iterator[Stack]:
    """The endpoint up, envs/example applied to it with IAM enforcement on, the Lambda service ready."""
    with ExitStack() as stack_:
        endpoint, local = stack_.enter_context(local_endpoint(workdir / "endpoint"))
        stack_.enter_context(faster_moto_dynamodb())  # table-sized costs per request (see moto_env)
        dns = stack_.enter_context(MxServer(MX))
        admin = admin_credentials(endpoint, local.ca_bundle)
        local.enforce_iam()
        terraform = Terraform.prepare(
            workdir / "terraform",
            endpoint,
            {**admin, "SSL_CERT_FILE": local.ca_bundle},
            tfvars(zip_path, telegram_api),
        )
        lambdas = LambdaService(
            endpoint=endpoint,
            zip_path=zip_path,
            workdir=workdir / "lambda",
            clients=None,
            dns_server=dns.address,
            ca_bundle=local.ca_bundle,
        )
        stack = Stack(endpoint, local, terraform, lambdas, workdir, admin)
        lambdas.clients = stack.client
        stack_.callback(lambdas.close)
        yield stack
