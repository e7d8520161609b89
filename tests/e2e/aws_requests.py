"""AWS requests per planned job, per sent email and per feedback event, counted through the real Lambda
handlers (the in-process stack of tests/e2e/aws_stack.py: moto, the container the handlers build at
import, EventBridge Scheduler's tick, the SQS event source mapping, SES events through SNS).

Every API call of the application's own boto3 clients is counted by service and operation (botocore's
`before-call` event: one per API call, which is one request against moto, where nothing is retried),
attributed to the function that made it. The harness's own calls (the event source mapping polling the
queue, the test reading what SES accepted) use other clients and are not counted.

The workload: 2 tenants, 2 identities each, warmed up and with the per-identity pacing opened (the run
is about requests, not pacing); a 2-step campaign (the follow-up 10 minutes after the first email, in
its thread); the planner every 5 minutes, the queue polled every second, a Delivery event for every
email. Used by the pinned test (tests/e2e/test_aws_request_counts.py) and bench/bench_aws_requests.py.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import CampaignStep, Quotas
from outreach_core.domain.window import SendWindow
from outreach_core.policies.config import TenantPolicy
from tests.e2e import aws_stack
from tests.fakes import T0
from tests.harness import UNPACED
from tests.integration.aws import moto_env

TENANTS = ("northwind", "globex")
STEPS = 2
UNPACED_TENANT = TenantPolicy(
    identity=UNPACED.identity, providers=dict(UNPACED.providers), warmup=UNPACED.warmup
)
CLIENTS = (
    "dynamodb_client",
    "sqs_client",
    "ses_client",
    "ses_failover_client",
    "s3_client",
    "cloudwatch_client",
    "sns_client",
)


@dataclass
class RequestCounts:
    """Requests by (function, service, operation), and the work they did."""

    leads: int
    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    planned: int = 0
    sent: int = 0
    events: int = 0
    invocations: Counter[str] = field(default_factory=Counter)

    def total(self, function: str) -> int:
        return sum(n for (f, _, _), n in self.requests.items() if f == function)

    def per_unit(self) -> dict[str, float]:
        return {
            "planner requests per planned job": self.total("planner") / self.planned,
            "sender requests per sent email": self.total("sender") / self.sent,
            "feedback requests per event": self.total("feedback") / self.events,
        }

    def table(self) -> dict[str, dict[str, int]]:
        """function -> "service:Operation" -> count."""
        out: dict[str, dict[str, int]] = {}
        for (function, service, operation), count in sorted(self.requests.items()):
            out.setdefault(function, {})[f"{service}:{operation}"] = count
        return out


class _Meter:
    def __init__(self, counts: RequestCounts) -> None:
        self.counts = counts
        self.function = "setup"

    def __call__(self, model: Any, **_: Any) -> None:
        self.counts.requests[self.function, model.service_model.service_name, model.name] += 1

    @contextmanager
    def calls(self, function: str) -> Iterator[None]:
        self.function = function
        try:
            yield
        finally:
            self.function = "setup"

    def count_invocations(self, module: Any, function: str) -> None:
        handler = module.handler

        def counted(event: dict[str, Any], context: object) -> Any:
            self.counts.invocations[function] += 1
            return handler(event, context)

        module.handler = counted


def _world(stack: aws_stack.Stack, leads: int) -> None:
    services = stack.runtime.application.services
    admin = services.admin()
    for tenant in TENANTS:
        admin.add_tenant(
            tenant,
            tenant.title(),
            "1 Canal Street, Manchester M1 3HE, UK",
            window=SendWindow(timezone="UTC"),
            quotas=Quotas(daily=50_000, hourly=6_000),
        )
        admin.add_direction(tenant, "outreach", "Outreach")
        services.limiter().set_tenant_policy(tenant, UNPACED_TENANT)
        for ident in ("alex", "sam"):
            admin.add_identity(tenant, ident, f"{ident}@{tenant}-mail.com", daily_cap=10_000)
        admin.add_template(tenant, "t1", "A question for {{company}}", "Hi {{first_name}}, one question.")
        admin.add_template(tenant, "t2", "Re: a question", "Hi {{first_name}}, just following up.")
        steps = [
            CampaignStep(number=1, template_id="t1"),
            CampaignStep(number=2, template_id="t2", delay=timedelta(minutes=10)),
        ]
        admin.add_campaign(tenant, "q1", "outreach", steps, lead_list="l1")
        rows = "email,first_name,company\n" + "".join(
            f"lead{n}@{tenant}-client{n % 7}.com,Lead{n},Company {n % 13}\n" for n in range(leads)
        )
        assert services.leads().import_csv(tenant, rows.encode(), list_name="l1").imported == leads
        assert admin.start_campaign(tenant, "q1") == leads


@contextmanager
def _metered(leads: int) -> Iterator[tuple[aws_stack.Stack, _Meter, RequestCounts]]:
    """The stack with every application client metered and the world of `leads` leads per tenant."""
    counts = RequestCounts(leads=leads)
    meter = _Meter(counts)
    monkeypatch = pytest.MonkeyPatch()
    stack, mock = aws_stack.start(monkeypatch, T0)
    try:
        # The functions' EMF metric lines go to stdout, as on Lambda: not to the bench's output.
        with moto_env.faster_moto_dynamodb(), Path(os.devnull).open("w") as null, redirect_stdout(null):
            application = stack.runtime.application
            for name in CLIENTS:
                getattr(application.adapters, name)().meta.events.register("before-call", meter)
            for module, function in (
                (stack.planner, "planner"),
                (stack.sender, "sender"),
                (stack.feedback, "feedback"),
            ):
                meter.count_invocations(module, function)
            _world(stack, leads)
            yield stack, meter, counts
    finally:
        stack.moto_time.close()
        mock.stop()
        monkeypatch.undo()
        structlog.reset_defaults()
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))


def measure(leads: int) -> RequestCounts:
    """Run the workload with `leads` leads per tenant; returns the counts. Asserts it completed: every
    job planned, every email sent once, every event applied."""
    with _metered(leads) as (stack, meter, counts):
        _run(stack, meter, counts, leads * len(TENANTS) * STEPS)
        _check_complete(stack, counts, leads * len(TENANTS) * STEPS)
    return counts


def measure_first_tick(leads: int) -> RequestCounts:
    """The planner's first tick alone (every lead's step 1 due): its requests and the jobs it planned
    and enqueued. Nothing is sent."""
    with _metered(leads) as (stack, meter, counts):
        with meter.calls("planner"):
            counts.planned = stack.scheduled_tick()["planned"]
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"]
        found = stack.sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=names)
        queued = sum(int(found["Attributes"][name]) for name in names)
        assert queued == counts.planned == leads * len(TENANTS), (queued, counts.planned)
    return counts


def _run(stack: aws_stack.Stack, meter: _Meter, counts: RequestCounts, expected: int) -> None:
    published: set[str] = set()
    for _ in range(200):  # ticks, 5 minutes apart; the run ends when every email went out and was fed back
        with meter.calls("planner"):
            counts.planned += stack.scheduled_tick()["planned"]
        for _ in range(300):  # the event source mapping polls all the time: each send goes at its slot
            stack.advance(1)
            with meter.calls("sender"):
                stack.drain_jobs()
        for mail in stack.sent():
            if mail.message_id not in published:
                published.add(mail.message_id)
                with meter.calls("feedback"):
                    result = stack.publish(stack.ses_event(mail, "Delivery"))
                counts.events += result.get("applied", 0)
        if len(published) >= expected:
            counts.sent = len(published)
            return
    raise AssertionError(f"the workload did not complete: {len(published)} of {expected} emails sent")


def _check_complete(stack: aws_stack.Stack, counts: RequestCounts, expected: int) -> None:
    records = stack.runtime.application.services.records()
    jobs = [job for tenant in TENANTS for job in records.jobs(tenant)]
    assert counts.planned == expected == len(jobs), (counts.planned, expected, len(jobs))
    assert {job.status for job in jobs} == {JobStatus.DELIVERED}, Counter(j.status for j in jobs)
    assert len(stack.sent()) == expected == counts.events  # each email once, each event applied
