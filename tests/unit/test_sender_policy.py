# ruff: noqa: E501 - a real provider reply is quoted whole
"""The sender with the policy engine: a sender block pauses the identity at that provider (and never
suppresses the recipient); a provider throttle cuts the rate; every send took every scope."""

from __future__ import annotations

from outreach_core.domain.mail import MailRejected, MailThrottled
from outreach_core.domain.models import CampaignStep, Quotas
from outreach_core.domain.window import SendWindow
from outreach_core.policies.config import TenantPolicy
from outreach_core.policies.warmup import WarmupPlan
from outreach_core.ports import Alert
from outreach_core.records import Records
from outreach_core.services.admin import AdminService
from outreach_core.services.guard import ReputationGuard
from outreach_core.services.leads import LeadImportService
from outreach_core.services.limiter import ident_sort, prov_sort
from outreach_core.services.planner import PlannerService
from outreach_core.services.sender import Outcome, SenderService
from outreach_core.services.suppression import SuppressionService
from tests.fakes import FakeQueue, InMemoryStateStore, ManualClock, ScriptedMailer

ALWAYS = SendWindow(
    days=(0, 1, 2, 3, 4, 5, 6),
    start=SendWindow().start.replace(hour=0),
    end=SendWindow().start.replace(hour=0),
)


class Alerts:
    def __init__(self) -> None:
        self.seen: list[Alert] = []

    def notify(self, alert: Alert) -> None:
        self.seen.append(alert)


def _world(
    clock: ManualClock,
) -> tuple[Records, FakeQueue, ScriptedMailer, SenderService, PlannerService, Alerts]:
    records = Records(InMemoryStateStore())
    admin = AdminService(records, clock)
    admin.add_tenant("acme", "Acme", "1 Main Street", window=ALWAYS, quotas=Quotas(hourly=600, daily=5000))
    admin.add_direction("acme", "d", "Direction")
    admin.add_identity("acme", "one", "one@acme-mail.com")
    admin.add_identity("acme", "two", "two@acme-mail.com")
    admin.add_template("acme", "t1", "Hello", "Hi {{first_name|there}}")
    admin.add_campaign("acme", "c", "d", [CampaignStep(number=1, template_id="t1")], lead_list="l")
    rows = "email,source\n" + "".join(f"lead{n}@gmail.com,test\n" for n in range(4))
    LeadImportService(records, clock).import_csv("acme", rows.encode(), list_name="l")
    alerts = Alerts()
    guard = ReputationGuard(records, clock, notifier=alerts)
    guard.limiter.set_tenant_policy("acme", TenantPolicy(warmup=WarmupPlan(enabled=False)))
    admin.start_campaign("acme", "c")
    queue = FakeQueue(clock)
    mailer = ScriptedMailer()
    sender = SenderService(records, queue, mailer, clock, guard, SuppressionService(records))
    return records, queue, mailer, sender, PlannerService(records, queue, clock, guard=guard), alerts


def _drain(queue: FakeQueue, sender: SenderService) -> list[Outcome]:
    outcomes = []
    while messages := queue.receive(10):
        for message in messages:
            outcomes.append(sender.handle(message).outcome)
            queue.ack(message.receipt)
    return outcomes


def test_a_sender_block_pauses_the_identity_at_that_provider_only(clock: ManualClock) -> None:
    records, queue, mailer, sender, planner, alerts = _world(clock)
    mailer.fail_next(
        "lead0@gmail.com",
        MailRejected(
            "rejected",
            smtp_code=550,
            text="550 5.7.1 This message is likely unsolicited email. To reduce the amount of spam sent to Gmail, this message has been blocked. - gsmtp",
        ),
    )
    for _ in range(120):  # an hour: the planner paces Gmail at 2 identities x 10 an hour
        planner.tick()
        clock.advance(30)
        _drain(queue, sender)
    paused = [a for a in alerts.seen if a.kind == "identity.provider_paused"]
    assert len(paused) == 1
    blocked = paused[0].subject.split("@")[0]
    assert paused[0].subject.endswith("@google")
    assert records.suppression_for("acme", "lead0@gmail.com") is None  # the recipient did nothing wrong
    # Every lead still went out, and none through the paused identity after the block.
    assert sorted(e.recipient.email for e in mailer.sent) == [f"lead{n}@gmail.com" for n in range(4)]
    after = [e for e in mailer.sent if e.sender.email.startswith(blocked)]
    assert after == []
    assert any(a.action == "identity.provider_paused" for a in records.audit("acme"))


def test_a_provider_throttle_cuts_the_rate_and_is_retried_without_suppressing(clock: ManualClock) -> None:
    records, queue, mailer, sender, planner, alerts = _world(clock)
    mailer.fail_next(
        "lead1@gmail.com",
        MailThrottled(
            "deferred", smtp_code=421, text="421 4.7.28 Gmail has detected an unusual rate of email."
        ),
    )
    for _ in range(120):
        planner.tick()
        clock.advance(30)
        _drain(queue, sender)
    # Gmail's 4.7.28 is about our mail to Gmail: the identity's rate there is cut, not its own.
    lowered = [a for a in alerts.seen if a.kind == "rate.lowered"]
    assert (len(lowered) == 1 and "gmail" in lowered[0].subject.lower()) or "google" in lowered[0].subject
    assert len(mailer.to("lead1@gmail.com")) == 1
    assert records.suppression_for("acme", "lead1@gmail.com") is None
    identity = lowered[0].subject.split()[0].split("/")[-1]
    at_gmail = records.store.get("T#acme", prov_sort(identity, "google"))
    assert at_gmail is not None and 0 < float(at_gmail.data["aimd"]["factor"]) < 1.0
    own = records.store.get("T#acme", ident_sort(identity))
    assert own is None or "aimd" not in own.data


def test_status_shows_the_warm_up_schedule_and_provider_pauses(clock: ManualClock) -> None:
    from outreach_core.services.status import StatusService

    records, queue, mailer, sender, planner, _ = _world(clock)
    sender.limiter.set_tenant_policy("acme", TenantPolicy(warmup=WarmupPlan(start=20, growth=1.2)))
    mailer.fail_next(
        "lead0@gmail.com", MailRejected("rejected", smtp_code=554, text="554 5.7.1 [BL21] Spamhaus")
    )
    for _ in range(20):
        planner.tick()
        clock.advance(30)
        _drain(queue, sender)
    rows = {r.identity_id: r for r in StatusService(records, clock, sender.guard, queue).report().identities}
    assert rows["one"].warmup_schedule == (20, 24, 29, 35, 42, 50, 50)  # daily_cap 50 is the target
    assert rows["one"].warmup_cap_today == 20
    assert sum(r.sent_today for r in rows.values()) == len(mailer.sent)
    assert next(p for r in rows.values() for p in r.provider_pauses).startswith("google until ")
