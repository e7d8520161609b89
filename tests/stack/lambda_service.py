"""The Lambda service, played for the deployed functions (moto runs Lambda code only in Docker).

For each function Terraform created it reads the deployed configuration back from the endpoint —
handler, runtime, timeout, memory, role, environment, dead-letter target, code hash — and runs the
built zip the way Lambda does: an execution environment is a fresh interpreter with only the unpacked
zip and the runtime's boto3 on its path (tests/stack/bootstrap.py), the function's environment, and
credentials of the function's own role (sts:AssumeRole); it is kept warm across invocations and can
be recycled (a cold start). Synchronous invocations (the SQS event source mapping, API Gateway) wait
for the answer; asynchronous ones (SNS, EventBridge Scheduler) go through a queue, are retried twice
on error and then sent to the function's dead-letter queue, as Lambda does. An invoker must hold a
permission: the function's resource policy for a service principal (SNS, API Gateway), or the
caller's role policy (Scheduler); a missing one is refused and recorded, never invoked.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import queue
import select
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py")
ASYNC_ATTEMPTS = 3  # the first try and Lambda's two retries of an asynchronous invocation


class InvocationError(RuntimeError):
    """The function answered with an error (its own, or its environment's init failure)."""

    def __init__(self, function: str, error: dict[str, Any]) -> None:
        self.function, self.error = function, error
        super().__init__(f"{function}: {error.get('errorType')}: {error.get('errorMessage')}")


@dataclass(frozen=True)
class DeployedFunction:
    name: str
    arn: str
    handler: str
    runtime: str
    timeout_s: int
    memory_mb: int
    role_arn: str
    environment: dict[str, str]
    dead_letter_arn: str | None
    code_sha256: str

    @classmethod
    def read(cls, lambda_client: Any, name: str) -> DeployedFunction:
        config = lambda_client.get_function_configuration(FunctionName=name)
        return cls(
            name=config["FunctionName"],
            arn=config["FunctionArn"],
            handler=config["Handler"],
            runtime=config["Runtime"],
            timeout_s=int(config["Timeout"]),
            memory_mb=int(config["MemorySize"]),
            role_arn=config["Role"],
            environment=dict(config.get("Environment", {}).get("Variables", {})),
            dead_letter_arn=(config.get("DeadLetterConfig") or {}).get("TargetArn"),
            code_sha256=config["CodeSha256"],
        )


@dataclass
class Refusal:
    function: str
    principal: str
    source_arn: str


@dataclass
class AsyncOutcome:
    function: str
    source: str
    attempts: int
    result: Any = None
    error: dict[str, Any] | None = None
    dead_lettered: bool = False


class ExecutionEnvironment:
    """One warm interpreter running one function's code."""

    def __init__(self, function: DeployedFunction, env: dict[str, str], log_path: Path) -> None:
        self.function = function
        self.invoke_read, self.invoke_write = os.pipe()
        self.result_read, self.result_write = os.pipe()
        env = dict(env, STACK_INVOKE_FD=str(self.invoke_read), STACK_RESULT_FD=str(self.result_write))
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", str(BOOTSTRAP)],
            env=env,
            pass_fds=(self.invoke_read, self.result_write),
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=env["LAMBDA_TASK_ROOT"],
        )
        os.close(self.invoke_read)
        os.close(self.result_write)
        self.results = os.fdopen(self.result_read, "r", encoding="utf-8")
        self.invocations = 0

    def invoke(self, event: Any, timeout_s: float) -> dict[str, Any]:
        os.write(self.invoke_write, (json.dumps(event) + "\n").encode())
        ready, _, _ = select.select([self.results], [], [], timeout_s)
        if not ready:
            self.close()
            return {"error": {"errorType": "Sandbox.Timedout", "errorMessage": f"after {timeout_s:.0f} s"}}
        line = self.results.readline()
        self.invocations += 1
        if not line:
            code = self.process.wait()
            return {"error": {"errorType": "Runtime.ExitError", "errorMessage": f"exit status {code}"}}
        answer: dict[str, Any] = json.loads(line)
        return answer

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        for closer in (self.results.close, lambda: os.close(self.invoke_write), self.log.close):
            with contextlib.suppress(OSError):
                closer()


@dataclass
class LambdaService:
    endpoint: str
    zip_path: Path
    workdir: Path
    clients: Callable[..., Any]  # clients(service, region=None, credentials=None) -> boto3 client
    dns_server: str | None = None
    ca_bundle: str | None = None  # the endpoint's certificate (Lambda trusts the public CAs; we add ours)
    functions: dict[str, DeployedFunction] = field(default_factory=dict)
    environments: dict[str, ExecutionEnvironment] = field(default_factory=dict)
    cold_starts: dict[str, int] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    async_outcomes: list[AsyncOutcome] = field(default_factory=list)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    _resource_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    _async: queue.Queue[tuple[str, Any, str] | None] = field(default_factory=queue.Queue)
    _pending: int = 0
    _pending_lock: threading.Condition = field(default_factory=threading.Condition)
    _dispatcher: threading.Thread | None = None

    # --- the deployed functions ------------------------------------------------------------------

    def discover(self, region: str) -> dict[str, DeployedFunction]:
        client = self.clients("lambda", region=region)
        names = [
            f["FunctionName"]
            for page in client.get_paginator("list_functions").paginate()
            for f in page["Functions"]
        ]
        for name in names:
            self.functions[name] = DeployedFunction.read(client, name)
            self._locks.setdefault(name, threading.Lock())
        return self.functions

    def by_arn(self, arn: str) -> DeployedFunction:
        name = arn.split(":")[6] if arn.startswith("arn:") else arn
        function = self.functions[name]
        if arn.startswith("arn:") and function.arn.split(":")[3] != arn.split(":")[3]:
            raise KeyError(f"{arn}: no such function in {arn.split(':')[3]}")
        return function

    @property
    def task_root(self) -> Path:
        root = self.workdir / "task"
        if not root.exists():
            with zipfile.ZipFile(self.zip_path) as archive:
                archive.extractall(root)
        return root

    @property
    def runtime_dir(self) -> Path:
        runtime = self.workdir / "runtime"
        if not runtime.exists():
            import boto3

            runtime.mkdir(parents=True)
            site = Path(boto3.__file__).resolve().parent.parent
            for name in RUNTIME_PROVIDED:
                if (site / name).exists():
                    (runtime / name).symlink_to(site / name)
        return runtime

    def zip_sha256(self) -> str:
        import base64

        return base64.b64encode(hashlib.sha256(self.zip_path.read_bytes()).digest()).decode()

    def credentials_for(self, function: DeployedFunction) -> dict[str, str]:
        """What Lambda does for an execution environment: as lambda.amazonaws.com, assume the function's
        role, which the role's trust policy must allow. (The service principal cannot sign requests to
        the endpoint, so the role is assumed through moto's STS directly; IAM then evaluates every
        request the function makes with these credentials against the role's policies.)"""
        cached = self._credentials.get(function.name)
        if cached is not None:
            return cached
        from moto.sts.models import sts_backends

        role = function.role_arn.rsplit("/", 1)[-1]
        trust = self.clients("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        if not _trusts_service(trust, "lambda.amazonaws.com"):
            raise InvocationError(
                function.name,
                {
                    "errorType": "AccessDeniedException",
                    "errorMessage": f"role {role} does not trust lambda.amazonaws.com",
                },
            )
        account, region = function.arn.split(":")[4], function.arn.split(":")[3]
        assumed = sts_backends[account]["aws"].assume_role(
            region_name=region,
            role_session_name=function.name,
            role_arn=function.role_arn,
            policy="",
            duration=3600,
            external_id="",
        )
        credentials = {
            "AWS_ACCESS_KEY_ID": assumed.access_key_id,
            "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
            "AWS_SESSION_TOKEN": assumed.session_token,
        }
        self._credentials[function.name] = credentials
        return credentials

    def _environment(self, function: DeployedFunction) -> dict[str, str]:
        region = function.arn.split(":")[3]
        env = {
            **function.environment,
            **self.credentials_for(function),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"stack-test-{self.cold_starts.get(function.name, 0)}",
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "LAMBDA_RUNTIME_DIR": str(self.runtime_dir),
            "_HANDLER": function.handler,
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            # What the test adds: AWS calls go to the local endpoint, the function's identity is known.
            "AWS_ENDPOINT_URL": self.endpoint,
            **({"AWS_CA_BUNDLE": self.ca_bundle} if self.ca_bundle else {}),
            "STACK_FUNCTION_ARN": function.arn,
            "STACK_FUNCTION_TIMEOUT_S": str(function.timeout_s),
        }
        if self.dns_server:
            env["STACK_DNS_SERVER"] = self.dns_server
        return env

    def _environment_for(self, function: DeployedFunction) -> ExecutionEnvironment:
        current = self.environments.get(function.name)
        if current is not None and current.alive:
            return current
        self.cold_starts[function.name] = self.cold_starts.get(function.name, 0) + 1
        created = ExecutionEnvironment(function, self._environment(function), self.log_path(function.name))
        self.environments[function.name] = created
        return created

    def log_path(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def log_lines(self, name: str) -> list[str]:
        path = self.log_path(name)
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def recycle(self, name: str) -> None:
        """Lambda retires a warm environment: the next invocation is a cold start."""
        with self._locks[name]:
            current = self.environments.pop(name, None)
            if current is not None:
                current.close()

    # --- invocations -------------------------------------------------------------------------------

    def invoke(self, function_arn: str, event: Any) -> Any:
        """A synchronous invocation: the function's result, or InvocationError with its error."""
        function = self.by_arn(function_arn)
        self.log_path(function.name).parent.mkdir(parents=True, exist_ok=True)
        with self._locks[function.name]:
            environment = self._environment_for(function)
            answer = environment.invoke(event, timeout_s=function.timeout_s + 30)
        if "error" in answer:
            raise InvocationError(function.name, answer["error"])
        return answer.get("result")

    def invoke_async(self, function_arn: str, event: Any, source: str) -> None:
        with self._pending_lock:
            self._pending += 1
        self._async.put((function_arn, event, source))
        if self._dispatcher is None:
            self._dispatcher = threading.Thread(target=self._dispatch, name="lambda-async", daemon=True)
            self._dispatcher.start()

    def _dispatch(self) -> None:
        while (item := self._async.get()) is not None:
            function_arn, event, source = item
            outcome = AsyncOutcome(function=function_arn.split(":")[-1], source=source, attempts=0)
            for outcome.attempts in range(1, ASYNC_ATTEMPTS + 1):
                try:
                    outcome.result = self.invoke(function_arn, event)
                    outcome.error = None
                    break
                except InvocationError as exc:
                    outcome.error = exc.error
                except KeyError as exc:
                    outcome.error = {"errorType": "ResourceNotFoundException", "errorMessage": str(exc)}
                    break
            if outcome.error is not None:
                outcome.dead_lettered = self._dead_letter(function_arn, event, outcome.error)
            self.async_outcomes.append(outcome)
            with self._pending_lock:
                self._pending -= 1
                self._pending_lock.notify_all()

    def _dead_letter(self, function_arn: str, event: Any, error: dict[str, Any]) -> bool:
        try:
            function = self.by_arn(function_arn)
        except KeyError:
            return False
        if not function.dead_letter_arn:
            return False
        region = function.dead_letter_arn.split(":")[3]
        sqs = self.clients("sqs", region=region, credentials=self.credentials_for(function))
        sqs.send_message(
            QueueUrl=self.queue_url(function.dead_letter_arn),
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": "stack-test"},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": str(error.get("errorMessage"))[:250]},
            },
        )
        return True

    def queue_url(self, queue_arn: str) -> str:
        """The queue's URL on the endpoint (Lambda knows its queues by ARN and needs no GetQueueUrl)."""
        _, _, _, _, account, name = queue_arn.split(":")
        return f"{self.endpoint}/{account}/{name}"

    def settle(self, timeout_s: float = 120.0) -> None:
        """Wait until every queued asynchronous invocation has run."""
        deadline = time.monotonic() + timeout_s
        with self._pending_lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._pending} asynchronous invocations still pending")
                self._pending_lock.wait(left)

    # --- who may invoke ------------------------------------------------------------------------

    def resource_policy_allows(self, function: DeployedFunction, principal: str, source_arn: str) -> bool:
        """Read once per function (Terraform set it; nothing in the run changes it)."""
        policy = self._resource_policies.get(function.name)
        if policy is None:
            client = self.clients("lambda", region=function.arn.split(":")[3])
            try:
                policy = json.loads(client.get_policy(FunctionName=function.name)["Policy"])
            except client.exceptions.ResourceNotFoundException:
                policy = {}
            self._resource_policies[function.name] = policy
        for statement in policy.get("Statement", []):
            if statement.get("Effect") != "Allow" or statement.get("Action") not in (
                "lambda:InvokeFunction",
                ["lambda:InvokeFunction"],
            ):
                continue
            if (statement.get("Principal") or {}).get("Service") != principal:
                continue
            condition = statement.get("Condition") or {}
            arns = [v for c in condition.values() for k, v in c.items() if k.lower() == "aws:sourcearn"]
            if not arns or any(_arn_like(pattern, source_arn) for pattern in arns):
                return True
        return False

    def role_policy_allows(self, role_arn: str, action: str, resource: str) -> bool:
        iam = self.clients("iam")
        role = role_arn.rsplit("/", 1)[-1]
        documents = [
            iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        ]
        for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            documents.append(
                iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"][
                    "Document"
                ]
            )
        results = [
            IAMPolicy(json.dumps(d) if not isinstance(d, str) else d).is_action_permitted(action, resource)
            for d in documents
        ]
        return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results

    def invoke_as_service(self, function_arn: str, event: Any, principal: str, source_arn: str) -> bool:
        """An asynchronous invocation by a service (SNS): refused without a resource-policy grant."""
        function = self.by_arn(function_arn)
        if not self.resource_policy_allows(function, principal, source_arn):
            self.refusals.append(Refusal(function.name, principal, source_arn))
            return False
        self.invoke_async(function_arn, event, source=source_arn)
        return True

    def close(self) -> None:
        if self._dispatcher is not None:
            self._async.put(None)
            self._dispatcher.join(timeout=60)
        for name in list(self.environments):
            with self._locks[name]:
                self.environments.pop(name).close()


def _trusts_service(document: Any, service: str) -> bool:
    if isinstance(document, str):
        document = json.loads(document)
    for statement in document.get("Statement", []):
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        services = (statement.get("Principal") or {}).get("Service")
        services = [services] if isinstance(services, str) else services or []
        if statement.get("Effect") == "Allow" and "sts:AssumeRole" in actions and service in services:
            return True
    return False


def _arn_like(pattern: str, arn: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(arn, pattern)


_message_ids = itertools.count(1)


def clean(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
