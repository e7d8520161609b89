"""End to end on AWS (moto): scheduled event -> planner -> SQS -> sender -> SES -> SES events in SNS
records -> feedback, for 2 tenants and 200 leads, with the primary SES region down for part of the run.

GIVEN two tenants with 100 leads each (northwind's list has 8 dead addresses; one globex recipient
      will complain), SES identities verified in both regions, and the Lambda environment;
WHEN  the scheduler ticks every 5 minutes, the queue is drained into the sender, SES events flow back
      through SNS into the feedback handler, and the primary region refuses connections for a while;
THEN  nothing is sent twice, no job is lost, the failover engaged and returned, northwind's campaign
      paused on its bounce rate and the complained-about globex identity was blocked; those alerts
      reached the SNS alert topic; every invocation wrote its metrics as EMF lines on stdout; and no
      message named its tenant, campaign or step in a header (only the sealed X-Outreach-Ref).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator

import pytest
import structlog

from adapters.aws.failover import BreakerState
from outreach_core.domain.jobs import TERMINAL, JobStatus
from outreach_core.domain.models import (
    Campaign,
    CampaignStatus,
    CampaignStep,
    IdentityStatus,
    Lead,
    Quotas,
    SenderIdentity,
)
from outreach_core.domain.window import SendWindow
from outreach_core.policies.config import TenantPolicy
from outreach_core.rendering.message_ref import MessageRef, open_ref
from tests.e2e import aws_stack
from tests.fakes import T0
from tests.harness import UNPACED
from tests.integration.aws import moto_env
from tests.integration.aws.moto_env import FAILOVER_REGION, REGION

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # ~50 s of moto calls; more on a busy machine
DEAD_DOMAIN = "gone-logistics.com"


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[aws_stack.Stack]:
    stack, mock = aws_stack.start(monkeypatch, T0)
    try:
        with moto_env.faster_moto_dynamodb():
            yield stack
    finally:
        stack.moto_time.close()
        mock.stop()
        structlog.reset_defaults()
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))


def _leads(tenant: str, dead: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "first_name", "company"])
    for n in range(100):
        domain = DEAD_DOMAIN if n % 12 == 0 and n // 12 < dead else f"{tenant}-client{n % 7}.com"
        writer.writerow([f"lead{n}@{domain}", f"Lead{n}", f"Company {n}"])
    return out.getvalue().encode()


def _queue_empty(stack: aws_stack.Stack) -> bool:
    stats = stack.runtime.application.adapters.job_queue().stats()
    return stats.visible + stats.in_flight + stats.delayed == 0


UNPACED_TENANT = TenantPolicy(
    identity=UNPACED.identity, providers=dict(UNPACED.providers), warmup=UNPACED.warmup
)


def _world(stack: aws_stack.Stack) -> None:
    services = stack.runtime.application.services
    admin, leads = services.admin(), services.leads()
    for tenant, dead in (("northwind", 8), ("globex", 0)):
        admin.add_tenant(
            tenant,
            tenant.title(),
            "1 Canal Street, Manchester M1 3HE, UK",
            window=SendWindow(timezone="UTC"),
            quotas=Quotas(daily=1000, hourly=600),
        )
        admin.add_direction(tenant, "outreach", "Outreach")
        # Warmed-up identities with room to spare: this run is about the AWS path, not about pacing.
        services.limiter().set_tenant_policy(tenant, UNPACED_TENANT)
        for ident in ("alex", "sam"):
            admin.add_identity(tenant, ident, f"{ident}@{tenant}-mail.com", daily_cap=150)
        admin.add_template(tenant, "t1", "A question for {{company}}", "Hi {{first_name}}, one question.")
        admin.add_campaign(
            tenant, "q1", "outreach", [CampaignStep(number=1, template_id="t1")], lead_list="l1"
        )
        assert leads.import_csv(tenant, _leads(tenant, dead), list_name="l1").imported == 100
        assert admin.start_campaign(tenant, "q1") == 100


def _emf_totals(stdout: str) -> Counter[tuple[str, str]]:
    """(metric, dimension value) -> summed value, over the EMF lines the functions printed."""
    totals: Counter[tuple[str, str]] = Counter()
    for line in stdout.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Outreach"
        dimension = "/".join(str(document[d]) for d in directive["Dimensions"][0])
        for metric in directive["Metrics"]:
            value = document[metric["Name"]]
            totals[metric["Name"], dimension] += sum(value) if isinstance(value, list) else value
    return totals


def test_two_tenants_200_leads_with_a_regional_outage(
    stack: aws_stack.Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    _world(stack)
    records = stack.runtime.application.services.records()
    notifier = stack.runtime.application.adapters.log_notifier()  # the log channel keeps what it sent
    failover = stack.runtime.application.adapters.ses_route()  # behind the IdentityMailer
    published: set[str] = set()
    complained_identity: str | None = None
    healthy = None

    for minute in range(60):
        if minute % 5 == 0:
            stack.scheduled_tick()
        if minute == 1:
            healthy = stack.primary_region_down()
        if minute == 4:
            stack.primary_region_up(healthy)
        stack.drain_jobs()
        for mail in stack.sent():
            if mail.message_id in published:
                continue
            published.add(mail.message_id)
            tenant = mail.tenant_id
            if mail.recipient.endswith(DEAD_DOMAIN):
                stack.publish(stack.ses_event(mail, "Bounce"))
            elif len(published) % 10 == 0:  # a sample: every event costs a dozen moto calls
                stack.publish(stack.ses_event(mail, "Send"))
                stack.publish(stack.ses_event(mail, "Delivery", legacy=True))
            if tenant == "globex" and complained_identity is None:
                complained_identity = mail.sender.split("@")[0]
                complaint = stack.ses_event(mail, "Complaint")
                stack.publish(complaint)
                assert stack.publish(complaint)["duplicates"] == 1  # SNS redelivers: applied once
        if minute > 10 and _queue_empty(stack):
            jobs = records.jobs("northwind") + records.jobs("globex")
            if len(jobs) == 200 and all(j.status in TERMINAL for j in jobs):
                break
        for _ in range(5):  # the event source mapping polls all the time: sends go at their slots
            stack.advance(10)
            stack.drain_jobs()
        stack.advance(10)

    # 0 lost jobs: 200 jobs, every one terminal, nothing left in the queue or its DLQ.
    jobs = records.jobs("northwind") + records.jobs("globex")
    assert len(jobs) == 200
    assert [j.job_id for j in jobs if j.status not in TERMINAL] == []
    stats = stack.runtime.application.adapters.job_queue().stats()
    assert (stats.visible, stats.in_flight, stats.delayed, stats.dead) == (0, 0, 0, 0)

    # 0 duplicate sends: SES (both regions) accepted each job at most once, and every accepted message
    # is the one its job records.
    sent = stack.sent()
    assert max(Counter(m.job_id for m in sent).values()) == 1
    by_job = {j.job_id: j for j in jobs}
    assert all(by_job[m.job_id].provider_message_id == m.message_id for m in sent)
    went_out = {j.job_id for j in jobs if j.provider_message_id}
    assert went_out == {m.job_id for m in sent}
    assert len(sent) == 200

    # Headers: no internal id in sight; the one reference opens, with our secret only, to the job.
    for mail in sent:
        assert not {"X-Outreach-Tenant", "X-Outreach-Campaign", "X-Outreach-Job"} & set(mail.headers)
        ref = mail.headers["X-Outreach-Ref"]
        assert open_ref([aws_stack.SECRET], ref) == MessageRef(mail.tenant_id, mail.job_id)
        assert open_ref(["not-our-secret"], ref) is None and mail.job_id not in ref

    # The outage: failover engaged, traffic went to the secondary, and came back to the primary.
    kinds = [a.kind for a in notifier.sent]
    assert kinds.count("failover.engaged") == 1 and kinds.count("failover.returned") == 1
    assert kinds.index("failover.engaged") < kinds.index("failover.returned")
    assert failover.breaker().state is BreakerState.CLOSED
    regions = Counter(m.region for m in sent)
    assert regions[FAILOVER_REGION] > 0 and regions[REGION] > 0
    statuses = Counter(j.status for j in jobs)
    assert set(statuses) <= {JobStatus.SENT, JobStatus.DELIVERED, JobStatus.BOUNCED, JobStatus.COMPLAINED}
    assert statuses[JobStatus.DELIVERED] > 0 and statuses[JobStatus.COMPLAINED] == 1

    # Feedback: the bounce rate paused northwind's campaign; the complaint blocked one globex identity.
    assert records.get(Campaign, "northwind", "q1").status is CampaignStatus.PAUSED
    assert records.get(Campaign, "globex", "q1").status is CampaignStatus.RUNNING
    assert complained_identity is not None
    identities = {i.id: i.status for i in records.all(SenderIdentity, "globex")}
    assert identities[complained_identity] is IdentityStatus.BLOCKED
    assert list(identities.values()).count(IdentityStatus.ACTIVE) == 1
    assert {"campaign.paused", "identity.blocked"} <= set(kinds)

    # The same alerts went to the SNS alert topic (e-mail subscribers, the Telegram relay), once each.
    published = [e["MessageAttributes"]["kind"]["Value"] for e in stack.alerts()]
    assert Counter(published) == Counter(kinds)
    assert {"failover.engaged", "failover.returned", "campaign.paused", "identity.blocked"} <= set(published)

    # Metrics: every invocation flushed; the EMF lines on stdout count what happened.
    totals = _emf_totals(capsys.readouterr().out)
    went = Counter(j.status for j in jobs if j.provider_message_id)
    assert totals["SendOutcome", "sent"] == sum(went.values())
    assert totals["FeedbackEvent", "bounce"] == 8
    assert totals["FeedbackEvent", "complaint"] == 1
    bounced = [j for j in jobs if j.status is JobStatus.BOUNCED]
    assert len(bounced) == 8
    for job in bounced:
        lead = records.get(Lead, "northwind", job.lead_id)
        assert lead.email.endswith(DEAD_DOMAIN)
        assert records.suppression_for("northwind", lead.email) is not None
