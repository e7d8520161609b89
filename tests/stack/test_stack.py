"""The deployed stack runs: terraform init / validate / plan / apply of the real envs/example on a local
AWS endpoint (moto on 127.0.0.1, IAM enforced), then a campaign through the built Lambda zip, run the way
Lambda runs it, with the triggers Terraform deployed; then plan again and destroy.

GIVEN envs/example applied with dummy tfvars (an override file only points the providers at the
      endpoint; the IMAP poller and the webhooks switched on), and an operator who sets up three
      tenants with the CLI, as on a real account: northwind (110 leads, 16 of them hard bounces),
      globex (90 leads, one complains) sending through SES, and acme (6 leads) whose rep sends over
      its own SMTP account and has its mailbox read (aiosmtpd and dovecot on 127.0.0.1, passwords in
      SSM); each tenant has a webhook endpoint (its signing secret in SSM), globex's answers 500 once;
WHEN  the deployed schedules tick the planner and the IMAP poller, the deployed event source mappings
      feed the job queue to the sender and the webhook queue to the webhook function, SES's events
      reach the feedback function through the configuration set's topic, the primary SES region
      fails for a while, a lead replies (SES receiving -> S3 -> SNS -> feedback), another clicks
      one-click unsubscribe (API Gateway -> unsubscribe), acme's rep receives a reply, an
      out-of-office, a DSN bounce and copies of a sent message, then the reply again, and
      environments are recycled;
THEN  nothing is sent twice, no job is lost, northwind's campaign paused and the complained-about
      identity was blocked, failover engaged and returned, the alerts reached the alert topic and the
      Telegram relay, metric lines are in the functions' logs, the reply stopped its lead's sequence and
      the unsubscribe suppressed its lead; acme's mail went through its rep's server only, the poller
      stopped the replier, postponed the absent lead to its return date, suppressed the bounced one
      (counted toward auto-stop), ignored the copies and applied the repeat not at all; every
      tenant's events reached its receiver signed and once, the 500 was retried after the backoff and
      `outreach webhooks list` shows both attempts; no secret is in a log; `terraform plan` shows no
      drift and `destroy` leaves nothing.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_string, policy
from pathlib import Path
from typing import Any

import pytest

from outreach_core.domain.webhooks import WebhookDelivery
from tests.stack import moto_shim
from tests.stack.fake_telegram import FakeTelegram
from tests.stack.leftovers import leftovers
from tests.stack.mail_around import RepMailbox, rep_mailbox, webhook_receivers
from tests.stack.stack import ACCOUNT, FAILOVER, PRIMARY, Stack, deployed
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

NORTHWIND_LEADS, NORTHWIND_BOUNCES, GLOBEX_LEADS = 110, 16, 90
# acme sends from its rep's own mail account (SMTP out, IMAP in), not through SES; the planner takes
# tenants in id order, so its few jobs go out first and its mailbox is read while the others send
TENANTS, ACME_LEADS, REP = ("northwind", "globex", "acme"), 6, "rep@mail.acme.example"
SMTP_PASSWORD, IMAP_PASSWORD = "acme-rep-smtp-pw-Qx7c", "acme-rep-imap-pw-Wd3k"
SIGNING_SECRETS = {tenant: f"{tenant}-webhook-signing-secret-5Tg" for tenant in TENANTS}
TELEGRAM_TOKEN_PARAMETER = "/outreach/stack/telegram-token"
CAMPAIGN_BUDGET_S = 240  # the campaign normally settles in well under half of this
UNPACED = {  # warmed-up identities, no per-minute or provider pacing: this run is about the AWS path
    "identity": {"per_minute": None, "per_hour": None},
    "providers": {"other": {"per_hour": None}},
    "warmup": {"enabled": False},
}


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
def mailbox() -> Iterator[RepMailbox]:
    with rep_mailbox(REP, SMTP_PASSWORD, IMAP_PASSWORD) as box:
        yield box


@pytest.fixture(scope="module")
def receivers() -> Iterator[dict[str, Receiver]]:
    with webhook_receivers(SIGNING_SECRETS) as by_tenant:
        # globex's first delivery fails (its events come early: the retry's backoff is over before
        # the campaign settles): the webhook function retries it
        by_tenant["globex"].script = [500]
        yield by_tenant


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, lambda_zip: Path, telegram: FakeTelegram
) -> Iterator[Stack]:
    with deployed(tmp_path_factory.mktemp("stack"), lambda_zip, telegram.url) as stack:
        yield stack


def _leads(prefix: str, count: int, outcome_of: dict[int, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "first_name", "company", "timezone"])
    for n in range(count):
        outcome = outcome_of.get(n, "success")
        writer.writerow([f"{outcome}+{prefix}{n}@simulator.amazonses.com", f"Lead{n}", f"Company {n}", "UTC"])
    return out.getvalue()


def _operator_parameters(stack: Stack) -> dict[str, str]:
    """The secrets an operator puts in SSM under the paths the deployment names (its outputs): the
    rep's SMTP and IMAP passwords, and each tenant's webhook signing secret."""
    mailboxes, hooks = stack.outputs["mailbox_secrets_path"], stack.outputs["webhook_secrets_path"]
    return {
        f"{mailboxes}acme-rep-smtp": SMTP_PASSWORD,
        f"{mailboxes}acme-rep-imap": IMAP_PASSWORD,
        **{f"{hooks}{tenant}": secret for tenant, secret in SIGNING_SECRETS.items()},
    }


def _operator_sets_up(stack: Stack, mailbox: RepMailbox, receivers: dict[str, Receiver]) -> None:
    """What the README's AWS quick start has an operator do, with the CLI against the deployment."""
    work = stack.workdir
    ssm = stack.client("ssm")
    for name, value in _operator_parameters(stack).items():
        ssm.put_parameter(Name=name, Type="SecureString", Value=value, Overwrite=True)
    (work / "policy.json").write_text(json.dumps(UNPACED))
    # northwind's list is new: its operator has the campaign judged after 30 sends, not the default 100
    strict = {"campaign": {"metric": "bounce_rate", "max_rate": 0.05, "min_sample": 30, "window": 500}}
    (work / "northwind-policy.json").write_text(json.dumps({**UNPACED, "autostop": strict}))
    (work / "first.txt").write_text("Hi {{first_name}},\n\nOne question about {{company}}.\n")
    (work / "bump.txt").write_text("Just bumping this up, {{first_name}}.\n")
    bounces = dict.fromkeys(range(3, 3 + 6 * NORTHWIND_BOUNCES, 6), "bounce")
    (work / "northwind.csv").write_text(_leads("nw", NORTHWIND_LEADS, bounces))
    (work / "globex.csv").write_text(_leads("gx", GLOBEX_LEADS, {7: "complaint", 11: "ooto"}))
    (work / "acme.csv").write_text(_leads("ac", ACME_LEADS, {}))
    for tenant in TENANTS:
        stack.cli(  # the installed console script once; the rest through the same app in this process
            "tenant",
            "add",
            tenant,
            "--name",
            tenant.title(),
            "--address",
            "1 Canal Street, Manchester M1 3HE, UK",
            "--days",
            "mon,tue,wed,thu,fri,sat,sun",
            "--start",
            "00:00",
            "--end",
            "00:00",
            "--daily",
            "50000",
            "--hourly",
            "50000",
            subprocess_=tenant == TENANTS[0],
        )
        policy_file = "northwind-policy.json" if tenant == "northwind" else "policy.json"
        stack.cli("tenant", "policy", tenant, "--file", str(work / policy_file))
        stack.cli("direction", "add", tenant, "outreach", "--name", "Outreach")
        if tenant == "acme":
            _rep_connects_own_mailbox(stack, mailbox)
        else:
            domain = f"mail.{tenant}.example"
            for person in ("ann", "bob"):
                stack.cli(
                    "identity",
                    "add",
                    tenant,
                    person,
                    "--email",
                    f"{person}@{domain}",
                    "--name",
                    person.title(),
                    "--daily-cap",
                    "1000",
                    "--reply-to",
                    "reply+{reply_token}@replies.agency.example",
                )
        secret_ref = f"ssm:{stack.outputs['webhook_secrets_path']}{tenant}"
        stack.cli(
            "webhooks", "add", tenant, "crm", "--url", receivers[tenant].url, "--secret-ref", secret_ref
        )
        stack.cli(
            "template",
            "add",
            tenant,
            "first",
            "--subject",
            "A question for {{company}}",
            "--text-file",
            str(work / "first.txt"),
        )
        stack.cli("template", "add", tenant, "bump", "--subject", "", "--text-file", str(work / "bump.txt"))
        stack.cli(
            "campaign",
            "add",
            tenant,
            "q1",
            "--direction",
            "outreach",
            "--step",
            "first",
            "--step",
            "bump:3",
            "--list",
            "l1",
        )
        stack.cli(
            "leads", "import", tenant, str(work / f"{tenant}.csv"), "--list", "l1", "--source", "stack test"
        )
        stack.cli("campaign", "start", tenant, "q1")


def _rep_connects_own_mailbox(stack: Stack, mailbox: RepMailbox) -> None:
    """acme's rep sends through its own SMTP account and has its mailbox read (the passwords are
    ssm: references; the values are in Parameter Store only)."""
    secrets = stack.outputs["mailbox_secrets_path"]
    stack.cli("identity", "add", "acme", "rep", "--email", REP, "--name", "Rep", "--daily-cap", "1000")
    stack.cli(
        "identity",
        "connect",
        "acme",
        "rep",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(mailbox.smtp_port),
        "--smtp-tls",
        "none",
        "--imap-host",
        "127.0.0.1",
        "--imap-port",
        str(mailbox.imap_port),
        "--imap-tls",
        "none",
        "--username",
        REP,
        "--secret-ref",
        f"ssm:{secrets}acme-rep-smtp",
        "--imap-secret-ref",
        f"ssm:{secrets}acme-rep-imap",
    )


def test_terraform_init_validate_plan_apply(stack: Stack) -> None:
    stack.terraform.init()
    validated = stack.terraform.validate()
    assert validated["valid"], validated["diagnostics"]
    code, plan = stack.terraform.plan()
    assert code == 2 and "0 to change, 0 to destroy" in plan
    stack.terraform.apply()
    stack.wire()
    # The zip Terraform uploaded is the zip this test runs (not the source tree).
    assert {f.code_sha256 for f in stack.lambdas.functions.values()} == {stack.lambdas.zip_sha256()}
    assert set(stack.outputs["function_names"]) >= {
        "planner",
        "sender",
        "feedback",
        "unsubscribe",
        "imap_poller",
        "webhooks",
    }


def test_a_campaign_through_the_deployed_zip(
    stack: Stack,
    telegram: FakeTelegram,
    mailbox: RepMailbox,
    receivers: dict[str, Receiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert stack.sender_queue is not None and stack.scheduler is not None and stack.ses_events is not None
    stack.client("ssm").put_parameter(
        Name=TELEGRAM_TOKEN_PARAMETER, Type="SecureString", Value=telegram.token, Overwrite=True
    )
    _operator_sets_up(stack, mailbox, receivers)
    app = stack.application(monkeypatch)
    records = app.services.records()
    run = CampaignRun(stack, records, mailbox)
    run.until_settled()

    # --- 0 lost jobs: every job terminal; nothing left in the queue or its dead-letter queue ----------
    jobs = run.jobs()
    assert [j.job_id for j in jobs if not j.terminal] == []
    sqs = stack.client("sqs")
    for url in (stack.outputs["job_queue_url"], stack.outputs["job_dlq_url"]):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert (
            attributes["ApproximateNumberOfMessages"],
            attributes["ApproximateNumberOfMessagesNotVisible"],
            attributes["ApproximateNumberOfMessagesDelayed"],
        ) == ("0", "0", "0"), url

    # --- 0 duplicate sends: SES (both regions) accepted each job at most once, as its job records -----
    sends = moto_shim.STATE.sends()
    per_job = Counter(s.tags["job"] for s in sends)
    assert per_job and max(per_job.values()) == 1
    by_job = {j.job_id: j for j in jobs}
    assert all(by_job[s.tags["job"]].provider_message_id == s.message_id for s in sends)
    assert len(jobs) == NORTHWIND_LEADS + GLOBEX_LEADS
    assert len(sends) == len([j for j in jobs if j.provider_message_id])
    for s in sends:  # recipients see no internal ids
        headers = message_from_string(s.raw, policy=policy.default)
        assert not [
            h for h in headers if h.lower() in ("x-outreach-tenant", "x-outreach-campaign", "x-outreach-job")
        ]

    # --- the outage: failover engaged, traffic went to the failover region, and came back -----------
    # A 5xx from SES may mean SES has the message (ADR 0003): each job whose send got the outage's 503
    # and was not sent elsewhere is `uncertain`, listed for a person, never resent blindly.
    uncertain = {j.job_id for j in jobs if j.status.value == "uncertain"}
    assert uncertain == set(stack.local.refused_sends) - set(per_job)
    listed = stack.cli("jobs", "uncertain", subprocess_=True)  # the installed command, as an operator
    assert all(job_id in listed for job_id in uncertain), listed
    regions = Counter(s.region for s in sends)
    assert regions[FAILOVER] > 0 and regions[PRIMARY] > 0
    assert run.sent_in_primary_after_outage > 0
    kinds = [a["attributes"].get("kind", {}).get("Value") for a in stack.alerts()]
    assert kinds.count("failover.engaged") >= 1 and kinds.count("failover.returned") >= 1
    assert kinds.index("failover.engaged") < kinds.index("failover.returned")

    # --- automatic stops, decided from SES's events, alerted to the topic and relayed to Telegram ---
    from outreach_core.domain.models import Campaign, CampaignStatus, IdentityStatus, SenderIdentity

    assert records.get(Campaign, "northwind", "q1").status is CampaignStatus.PAUSED
    stopped = [j for j in jobs if j.tenant_id == "northwind" and j.status.value == "cancelled"]
    assert stopped and all("paused" in j.status_reason for j in stopped)  # never sent: the list was bad
    assert records.get(Campaign, "globex", "q1").status is CampaignStatus.RUNNING
    identities = {i.id: i.status for i in records.all(SenderIdentity, "globex")}
    assert sorted(identities.values(), key=str) == sorted(
        [IdentityStatus.ACTIVE, IdentityStatus.BLOCKED], key=str
    )
    assert {"campaign.paused", "identity.blocked", "failover.engaged", "failover.returned"} <= set(kinds)
    relayed = " ".join(telegram.texts())
    assert "paused" in relayed and "blocked" in relayed, relayed[:500]

    # --- metrics: EMF lines in the sender's and the feedback function's logs -------------------------
    for role in ("sender", "feedback"):
        emf = [line for line in stack.function_logs(role) if '"CloudWatchMetrics"' in line]
        assert emf, f"{role}: no EMF metric line in its log"

    # --- the reply stopped its lead's sequence; the one-click unsubscribe suppressed its lead ---------
    from outreach_core.domain.models import Lead, LeadStatus

    replied = records.get(Lead, "globex", run.replied_lead)
    assert replied.status is LeadStatus.REPLIED
    assert records.suppression_for("globex", run.unsubscribed_email) is not None
    waiting = records.get(Lead, "globex", run.untouched_lead)
    assert waiting.status is LeadStatus.ACTIVE  # its step 2 is still due in three days

    # --- acme: its rep's own SMTP account out, its mailbox read by the scheduled IMAP poller -------
    _the_rep_sent_and_its_mailbox_was_read(stack, app, run)

    # --- webhooks: every tenant's events, signed, delivered by the webhook function; a 500 retried ---
    _the_webhooks_were_delivered(stack, records, run, receivers)

    # --- cold starts in the middle of the campaign; nothing refused or dead-lettered on the way -------
    assert all(
        stack.lambdas.cold_starts[stack.outputs["function_names"][r]] >= 2 for r in ("sender", "feedback")
    )
    assert stack.lambdas.refusals == []
    assert stack.scheduler.refused == []
    failed = [o for o in stack.lambdas.async_outcomes if o.error]
    assert failed == [], failed[:3]
    assert stack.sender_queue.errors == []


def test_a_removed_grant_is_an_access_denied_naming_it(stack: Stack) -> None:
    """Least privilege, proven by running: take the inbound bucket's s3:GetObject away from the
    feedback role, and the next reply is refused by IAM, named in the function's error."""
    inbound_bucket = stack.outputs["inbound"]["bucket_name"]
    iam = stack.client("iam")
    role = stack.lambdas.functions[stack.outputs["function_names"]["feedback"]].role_arn.rsplit("/", 1)[-1]
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    original = {n: iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names}
    try:
        for name, document in original.items():
            statements = [s for s in document["Statement"] if inbound_bucket not in json.dumps(s["Resource"])]
            iam.put_role_policy(
                RoleName=role,
                PolicyName=name,
                PolicyDocument=json.dumps({**document, "Statement": statements}),
            )
        stack.lambdas.recycle(stack.outputs["function_names"]["feedback"])
        before = len(stack.lambdas.async_outcomes)
        assert stack.receiving is not None
        stack.receiving.receive(
            _reply_mime("someone@example.com", "<0000@eu-west-1.amazonses.com>"),
            "reply@replies.agency.example",
        )
        stack.lambdas.settle()
        outcome = stack.lambdas.async_outcomes[before]
        assert outcome.error is not None, outcome
        assert "AccessDenied" in json.dumps(outcome.error) and "GetObject" in json.dumps(outcome.error)
    finally:
        for name, document in original.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
        stack.lambdas.recycle(stack.outputs["function_names"]["feedback"])


def test_plan_shows_no_drift_and_destroy_leaves_nothing(stack: Stack) -> None:
    drift = stack.terraform.drift()
    print("terraform plan after the run:", json.dumps(drift, indent=1) if drift else "no changes")
    assert drift == {}, json.dumps(drift, indent=1)
    # the operator's parameters, not Terraform's
    stack.client("ssm").delete_parameters(Names=[TELEGRAM_TOKEN_PARAMETER, *_operator_parameters(stack)])
    stack.terraform.destroy(refresh=False)  # the plan above has just refreshed the state
    assert stack.terraform.state_resources() == []
    assert leftovers(stack) == {}


def _the_rep_sent_and_its_mailbox_was_read(stack: Stack, app: Any, run: CampaignRun) -> None:
    from outreach_core.domain.inbox import InboxCategory, InboxMessage
    from outreach_core.domain.models import LeadStatus, SenderIdentity
    from outreach_core.domain.suppression import SuppressionReason

    records, box, leads = app.services.records(), run.mailbox, run.mail_leads
    # every acme lead got its message once, through the rep's own server (its login, from SSM)
    assert sorted(box.recipients()) == sorted(run.acme_leads())
    assert [s for s in moto_shim.STATE.sends() if s.tags.get("tenant") == "acme"] == []  # not SES
    # the poller ran on the schedule Terraform deployed for it, with its own role, from the zip
    assert stack.scheduler is not None
    poller = stack.lambdas.functions[stack.outputs["function_names"]["imap_poller"]]
    schedules = {s["Arn"] for s in stack.scheduler.schedules() if s["Target"]["Arn"] == poller.arn}
    polls = run.poller_outcomes()
    assert len(schedules) == 1 and polls and {o.source for o in polls} == schedules
    assert all(o.result["mailboxes"] == 1 for o in polls)
    totals = {
        k: sum(o.result[k] for o in polls) for k in ("fetched", "replies", "bounces", "ignored", "failed")
    }
    # five messages read, each once, over all the polls: the reply and the out-of-office applied, the
    # bounce report applied, the INBOX copy of a sent message and the repeated reply changed nothing
    assert totals == {"fetched": 5, "replies": 2, "bounces": 1, "ignored": 2, "failed": 0}, totals
    assert stack.lambdas.cold_starts[poller.name] >= 2  # the repeat was read by a fresh environment
    assert run.lead("acme", leads["replied"]).status is LeadStatus.REPLIED
    away = run.lead("acme", leads["away"])
    assert away.status is LeadStatus.ACTIVE
    assert run.step_timer(leads["away"], 2) == datetime.combine(
        run.away_until, datetime.min.time(), tzinfo=UTC
    ) + timedelta(days=1)  # its next step waits for the return date
    assert run.lead("acme", leads["bounced"]).status is LeadStatus.BOUNCED
    suppressed = records.suppression_for("acme", leads["bounced"])
    assert suppressed is not None and suppressed.reason is SuppressionReason.HARD_BOUNCE
    guard = app.services.guard()  # and it counts toward the campaign's bounce auto-stop
    assert guard.window("acme", "campaign", "q1", guard.rules.campaign).count("b") == 1
    assert run.lead("acme", leads["copied"]).status is LeadStatus.ACTIVE
    inbox = {m.lead_id: m.category for m in records.all(InboxMessage, "acme")}
    assert inbox == {
        run.lead("acme", leads["replied"]).id: InboxCategory.INTERESTED,
        away.id: InboxCategory.OUT_OF_OFFICE,
        run.lead("acme", leads["bounced"]).id: InboxCategory.BOUNCE,
    }
    assert run.mail_after_repeat == run.mail_before_repeat  # the repeated reply applied nothing
    # the passwords are in Parameter Store only: references in the state, nothing in any log
    identity = records.get(SenderIdentity, "acme", "rep")
    assert identity.smtp.secret_ref.startswith("ssm:") and identity.imap.secret_ref.startswith("ssm:")
    logs = "\n".join(line for name in stack.lambdas.functions for line in stack.lambdas.log_lines(name))
    assert not [s for s in (SMTP_PASSWORD, IMAP_PASSWORD, *SIGNING_SECRETS.values()) if s in logs]


def _the_webhooks_were_delivered(
    stack: Stack, records: Any, run: CampaignRun, receivers: dict[str, Receiver]
) -> None:
    from outreach_core.domain.webhooks import DELIVERY_HEADER, DeliveryStatus

    mapping = stack.webhook_queue
    assert mapping is not None and mapping.invocations > 0
    assert (mapping.errors, mapping.failures_reported) == ([], 0)
    expected = {  # what this campaign sets off, by tenant
        "northwind": {"lead.bounced", "campaign.paused"},
        "globex": {"identity.blocked", "reply.received", "lead.interested", "lead.unsubscribed"},
        "acme": {"reply.received", "lead.interested", "lead.bounced"},
    }
    for tenant, receiver in receivers.items():
        bodies = [json.loads(r.body) for r in receiver.requests]
        assert bodies and all(r.verified for r in receiver.requests), tenant  # signed with its secret
        assert {b["tenant_id"] for b in bodies} == {tenant}  # only its own tenant's events
        assert expected[tenant] <= {b["type"] for b in bodies}, (tenant, Counter(b["type"] for b in bodies))
        assert not [r for r in receiver.requests if r.repeat], tenant  # nothing delivered twice
        log = records.all(WebhookDelivery, tenant)
        assert {d.status for d in log} == {DeliveryStatus.DELIVERED}, tenant
        assert receiver.accepted == {d.id for d in log}, tenant
    replies = Counter(
        b["data"]["lead_email"]
        for b in (json.loads(r.body) for r in receivers["acme"].requests)
        if b["type"] == "reply.received"
    )  # the out-of-office is a reply too (with its return date); the repeated reply published nothing
    assert replies == {run.mail_leads["replied"]: 1, run.mail_leads["away"]: 1}
    # globex's receiver answered its first delivery 500: the retry came after the backoff, and the
    # delivery log (the installed command, as an operator) shows both attempts
    listed = json.loads(stack.cli("webhooks", "list", "globex", "--json", subprocess_=True))
    retried = [d for d in listed if d["attempts"] > 1]
    assert len(retried) == 1 and len(listed) == len(records.all(WebhookDelivery, "globex")), listed[:3]
    [delivery] = retried
    assert delivery["status"] == "delivered" and [h["status"] for h in delivery["history"]] == [500, 200]
    first, second = (datetime.fromisoformat(h["at"]) for h in delivery["history"])
    assert second - first >= timedelta(seconds=30)  # the first retry's delay, kept by the queue
    seen = [r.headers.get(DELIVERY_HEADER) for r in receivers["globex"].requests]
    assert seen.count(delivery["id"]) == 2  # the same delivery id, so a receiver knows the retry


def _reply_mime(
    sender: str, in_reply_to: str, body: str = "Sounds interesting, let's talk on Tuesday."
) -> bytes:
    return (
        f"From: {sender}\r\nTo: reply@replies.agency.example\r\nSubject: Re: A question\r\n"
        f"Message-ID: <reply-{abs(hash(sender))}@example.com>\r\nIn-Reply-To: {in_reply_to}\r\n"
        f"References: {in_reply_to}\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


class CampaignRun:
    """Drives the deployed triggers until the campaign settles, with the outage, the reply, the
    unsubscribe, the rep's mailbox and the recycled environments at points of its progress."""

    TICK_S = 4.0

    def __init__(self, stack: Stack, records: Any, mailbox: RepMailbox) -> None:
        self.stack, self.records, self.mailbox = stack, records, mailbox
        self.replied_lead = self.untouched_lead = self.unsubscribed_email = ""
        self.sent_in_primary_after_outage = 0
        self._outage: str = "before"  # before -> on -> over
        self._mail: str = "sending"  # sending -> delivered -> repeated -> read
        self.mail_leads: dict[str, str] = {}  # replied, away, bounced, copied -> the lead's address
        self.away_until = date.min
        self.mail_before_repeat: dict[str, Any] = {}
        self.mail_after_repeat: dict[str, Any] = {}
        self._reply_raw = b""

    def jobs(self) -> list[Any]:
        return self.records.jobs("northwind") + self.records.jobs("globex")

    def acme_leads(self) -> list[str]:
        return [f"success+ac{n}@simulator.amazonses.com" for n in range(ACME_LEADS)]

    def lead(self, tenant: str, address: str) -> Any:
        from outreach_core.domain.ids import lead_id_for
        from outreach_core.domain.models import Lead

        return self.records.get(Lead, tenant, lead_id_for(tenant, address))

    def step_timer(self, address: str, step: int) -> datetime | None:
        from outreach_core.records import TimerKind

        lead = self.lead("acme", address)
        [job] = [j for j in self.records.jobs("acme") if j.lead_id == lead.id and j.step == 1]
        wanted = job.job_id.rsplit("_", 1)[0] + f"_{step}"
        horizon = datetime.now(UTC) + timedelta(days=400)
        return next(
            (t.at for t in self.records.timers_due("acme", TimerKind.STEP, horizon) if t.job_id == wanted),
            None,
        )

    def poller_outcomes(self) -> list[Any]:
        name = self.stack.outputs["function_names"]["imap_poller"]
        return [o for o in self.stack.lambdas.async_outcomes if o.function == name and o.result]

    def _polled(self, figure: str) -> int:
        return sum(int(o.result.get(figure, 0)) for o in self.poller_outcomes())

    def until_settled(self) -> None:
        stack = self.stack
        assert stack.scheduler and stack.sender_queue and stack.ses_events
        started = last_tick = last_report = last_webhooks = time.monotonic()
        stack.scheduler.fire()
        idle_polls = 0
        while time.monotonic() - started < CAMPAIGN_BUDGET_S:
            if time.monotonic() - last_tick >= self.TICK_S:
                stack.scheduler.fire()
                last_tick = time.monotonic()
            handled = stack.sender_queue.poll()
            if stack.webhook_queue is not None and time.monotonic() - last_webhooks >= 1.0:
                handled += stack.webhook_queue.poll()  # a delivery queue: checked once a second
                last_webhooks = time.monotonic()
            if time.monotonic() - last_report >= 20:
                print(f"[{time.monotonic() - started:5.0f} s] {self.progress()}", flush=True)
                last_report = time.monotonic()
            stack.ses_events.publish_new()
            self._fail_fast(stack)
            self._milestones()
            idle_polls = 0 if handled else idle_polls + 1
            if idle_polls >= 3 and self._settled():
                return
            if not handled:
                time.sleep(0.5)
        raise AssertionError(f"the campaign did not settle in {CAMPAIGN_BUDGET_S} s: {self.progress()}")

    @staticmethod
    def _fail_fast(stack: Stack) -> None:
        """A function that errors (at init or in an invocation) fails the run at once, naming it."""
        failed = [o for o in stack.lambdas.async_outcomes if o.error]
        mappings = [m for m in (stack.sender_queue, stack.webhook_queue) if m is not None]
        errors = [e for m in mappings for e in m.errors]
        if failed or errors:
            first = failed[0] if failed else None
            raise AssertionError(f"{first.function} ({first.source}): {first.error}" if first else errors[0])

    def progress(self) -> str:
        by_tenant = {
            tenant: dict(Counter(j.status.value for j in self.records.jobs(tenant))) for tenant in TENANTS
        }
        return (
            f"jobs {by_tenant}; sends {len(moto_shim.STATE.sends())}; outage {self._outage}; "
            f"replied {bool(self.replied_lead)}; unsubscribed {bool(self.unsubscribed_email)}; "
            f"mailbox {self._mail} (read {self._polled('fetched')}); "
            f"webhook invocations {self.stack.webhook_queue.invocations if self.stack.webhook_queue else 0}"
        )

    def _settled(self) -> bool:
        self.stack.lambdas.settle()
        if self._outage != "over" or not self.replied_lead or not self.unsubscribed_email:
            return False
        jobs = self.jobs()
        if not jobs or any(not j.terminal for j in jobs):
            return False
        sqs = self.stack.client("sqs")
        attributes = sqs.get_queue_attributes(
            QueueUrl=self.stack.outputs["job_queue_url"], AttributeNames=["All"]
        )["Attributes"]
        if _busy(attributes) or len([j for j in jobs if j.tenant_id == "globex"]) != GLOBEX_LEADS:
            return False
        if self._mail != "read" or self.stack.webhook_queue is None:
            return False
        webhook_queue = sqs.get_queue_attributes(
            QueueUrl=self.stack.outputs["webhook_queue_url"], AttributeNames=["All"]
        )["Attributes"]
        pending = [
            d for t in TENANTS for d in self.records.all(WebhookDelivery, t) if d.status.value == "pending"
        ]
        return not _busy(webhook_queue) and not pending

    def _milestones(self) -> None:
        stack = self.stack
        sends = moto_shim.STATE.sends()
        # The outage waits for the complaint's send: a send refused by the outage is uncertain, never
        # re-sent (ADR 0003), so a complaint caught in it would never come and block nothing.
        complained = any(s.destinations[0].startswith("complaint+") for s in sends)
        if self._outage == "before" and len(sends) >= 40 and complained:
            stack.local.ses_outage.add(PRIMARY)
            self._outage, self._outage_at = "on", len(sends)
        elif (
            self._outage == "on" and len([s for s in sends[self._outage_at :] if s.region == FAILOVER]) >= 20
        ):
            stack.local.ses_outage.discard(PRIMARY)
            self._outage, self._primary_back_at = "over", len(sends)
            stack.lambdas.recycle(stack.outputs["function_names"]["sender"])  # a cold start mid-campaign
        if self._outage == "over":
            self.sent_in_primary_after_outage = len(
                [s for s in sends[self._primary_back_at :] if s.region == PRIMARY]
            )
        globex = [s for s in sends if s.tags.get("tenant") == "globex" and "+gx" in s.destinations[0]]
        if not self.replied_lead and len(globex) >= 30:
            self._reply(globex[20])
            self.stack.lambdas.recycle(stack.outputs["function_names"]["feedback"])
        if not self.unsubscribed_email and len(globex) >= 40:
            self._unsubscribe(globex[30])
        if not self.untouched_lead and len(globex) >= 50:
            self.untouched_lead = self._lead_of(globex[45])
        self._rep_mailbox()

    def _rep_mailbox(self) -> None:
        """Once the rep's messages are out: a reply, an out-of-office, a bounce report and the copies of
        a sent message reach its mailbox; once the poller has read them, the reply arrives again (a
        provider's duplicate) and the poller's environment is recycled (a restart)."""
        box = self.mailbox
        if self._mail == "sending" and len(box.smtp.messages) >= ACME_LEADS:
            jobs = self.records.jobs("acme")
            if len(jobs) < ACME_LEADS or not all(j.terminal for j in jobs):
                return  # sent, but not yet recorded: a reply would find no job to match
            replied, away, bounced, copied = self.acme_leads()[:4]
            self.mail_leads = {"replied": replied, "away": away, "bounced": bounced, "copied": copied}
            self.away_until = (datetime.now(UTC) + timedelta(days=9)).date()
            self._reply_raw = box.reply(replied, "Thanks, this looks interesting. Can we talk on Thursday?")
            box.deliver(box.sent_to(copied), folder="Sent")
            box.deliver(
                self._reply_raw,
                box.out_of_office(away, self.away_until),
                box.bounce(bounced),
                box.sent_to(copied),
            )
            self._mail = "delivered"
        elif self._mail == "delivered" and self._polled("fetched") >= 4:
            self.mail_before_repeat = self._mail_state()
            box.deliver(self._reply_raw)
            self.stack.lambdas.recycle(self.stack.outputs["function_names"]["imap_poller"])
            self._mail = "repeated"
        elif self._mail == "repeated" and self._polled("fetched") >= 5:
            self.mail_after_repeat = self._mail_state()
            self._mail = "read"

    def _mail_state(self) -> dict[str, Any]:
        """What a message applied twice would change in acme's state."""
        from outreach_core.domain.inbox import InboxMessage
        from outreach_core.domain.models import Lead
        from outreach_core.domain.suppression import SuppressionScope
        from outreach_core.records import TimerKind

        records = self.records
        return {
            "leads": sorted((lead.email, lead.status.value) for lead in records.all(Lead, "acme")),
            "jobs": sorted((j.job_id, j.status.value) for j in records.jobs("acme")),
            "inbox": sorted(m.id for m in records.all(InboxMessage, "acme")),
            "suppressed": sorted(e.email_hash for e in records.suppressions(SuppressionScope.TENANT, "acme")),
            "timers": sorted(
                (t.job_id, t.at)
                for t in records.timers_due("acme", TimerKind.STEP, datetime.now(UTC) + timedelta(days=400))
            ),
            "deliveries": sorted(d.id for d in records.all(WebhookDelivery, "acme")),
            "audit": len(records.audit("acme")),
        }

    def _lead_of(self, sent: Any) -> str:
        job = self.records.job("globex", sent.tags["job"])
        assert job is not None
        return str(job.lead_id)

    def _reply(self, sent: Any) -> None:
        assert self.stack.receiving is not None
        parsed = message_from_string(sent.raw, policy=policy.default)
        reply_to = parsed["Reply-To"].addresses[0].addr_spec
        in_reply_to = f"<{sent.message_id}@{sent.region}.amazonses.com>"
        self.stack.receiving.receive(_reply_mime(sent.destinations[0], in_reply_to), reply_to)
        self.replied_lead = self._lead_of(sent)

    def _unsubscribe(self, sent: Any) -> None:
        assert self.stack.http is not None
        parsed = message_from_string(sent.raw, policy=policy.default)
        url = str(parsed["List-Unsubscribe"]).strip("<>").split(">,")[0].strip("<>")
        assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
        answer = self.stack.http.request(
            "POST", url, b"List-Unsubscribe=One-Click", {"content-type": "application/x-www-form-urlencoded"}
        )
        assert answer["statusCode"] == 200, answer
        self.unsubscribed_email = sent.destinations[0]


def _busy(attributes: dict[str, str]) -> int:
    return sum(
        int(attributes[k])
        for k in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )


_ = (ACCOUNT,)
