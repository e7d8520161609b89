"""Issue 15 in the core: template revisions and the version a sent job used, campaign stop and
completion, step edits, per-lead pause / resume / remove / finish, one sequence per lead, A/B variants,
holidays in the window, the forecast, the lead timeline and reactivation after a suppression is lifted."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from outreach_core.domain.holidays import HolidayCalendar
from outreach_core.domain.ids import lead_id_for
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import (
    Campaign,
    CampaignStatus,
    CampaignStep,
    Lead,
    LeadStatus,
    Overlap,
    Variant,
)
from outreach_core.domain.suppression import SuppressionReason, SuppressionScope
from outreach_core.records import TimerKind
from outreach_core.rendering.templating import TemplateError
from tests.harness import Harness, at, harness, seed_tenant

ANN, BOB = "ann@corp-a.com", "bob@corp-b.com"


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    h = harness(tmp_path)
    h.clock.set(at(5))
    return h


def _sent(h: Harness, email: str) -> list[str]:
    return [e.subject for e in h.mailer.to(email)]


def test_the_lint_refuses_an_unknown_field_and_knows_the_leads_columns(h: Harness) -> None:
    seed_tenant(h, leads=[], start=False)
    with pytest.raises(
        TemplateError, match=r"line 2, column 4: unknown field \{\{frist_name\}\} \(did you mean"
    ):
        h.admin.add_template("acme", "t", "Hi", "Hello\nyo {{frist_name}}")
    h.admin.add_template("acme", "t", "Hi", "{{industry|x}}", fields=("industry",))  # declared ahead
    h.leads.import_csv("acme", b"email,city\nann@corp-a.com,Paris\n")
    h.admin.add_template("acme", "t2", "Hi", "{{city|there}}")  # a column of the tenant's leads


def test_an_update_is_a_new_revision_and_a_sent_job_keeps_the_one_it_used(h: Harness) -> None:
    seed_tenant(h, steps=2, leads=[ANN])
    h.tick_and_send()
    first = h.records.job("acme", f"spring_{lead_id_for('acme', ANN)}_1")
    assert first is not None and first.template_revision == 1
    templates = h.app.services.templates()
    updated = templates.update("acme", "follow2", text="A better bump, {{first_name|friend}}.")
    assert updated.revision == 2
    assert [t.revision for t in h.records.template_revisions("acme", "follow2")] == [1, 2]
    h.clock.advance(timedelta(days=2, minutes=1))
    h.tick_and_send()
    second = h.records.job("acme", f"spring_{lead_id_for('acme', ANN)}_2")
    assert second is not None and second.status is JobStatus.SENT and second.template_revision == 2
    assert "A better bump" in h.mailer.to(ANN)[-1].text
    assert h.records.template_at("acme", "follow2", 1).text.startswith("Follow-up 2")


def test_a_stopped_campaign_sends_nothing_more(h: Harness) -> None:
    seed_tenant(h, steps=3, leads=[ANN, BOB])
    h.tick_and_send()
    _, cancelled = h.admin.stop_campaign("acme", "spring", "client ended the engagement")
    h.clock.advance(timedelta(days=3))
    outcomes = h.tick_and_send()
    assert "sent" not in outcomes and len(h.mailer.sent) == 2
    assert h.records.get(Campaign, "acme", "spring").status is CampaignStatus.STOPPED
    assert not h.records.timers_due("acme", TimerKind.STEP, at(30))
    assert cancelled >= 0
    with pytest.raises(ValueError, match="stopped already"):
        h.admin.stop_campaign("acme", "spring")


def test_a_campaign_completes_when_every_sequence_is_over(h: Harness) -> None:
    seed_tenant(h, steps=2, leads=[ANN, BOB])
    h.tick_and_send()
    assert h.records.get(Campaign, "acme", "spring").status is CampaignStatus.RUNNING
    h.clock.advance(timedelta(days=2, minutes=1))
    h.tick_and_send()
    assert len(h.mailer.sent) == 4
    h.clock.advance(timedelta(hours=2))
    h.planner.tick()
    campaign = h.records.get(Campaign, "acme", "spring")
    assert campaign.status is CampaignStatus.COMPLETED and "sequence is over" in campaign.status_reason


def test_editing_a_running_campaigns_next_step_and_appending_one(h: Harness) -> None:
    seed_tenant(h, steps=2, leads=[ANN])
    h.admin.add_template("acme", "bump-v2", "", "Second version, {{first_name|friend}}.")
    h.admin.add_template("acme", "last", "", "Last one.")
    h.tick_and_send()
    h.admin.edit_step(
        "acme", "spring", CampaignStep(number=2, template_id="bump-v2", delay=timedelta(days=4))
    )
    h.clock.advance(timedelta(days=2, minutes=1))
    assert "sent" not in h.tick_and_send()  # the delay is four days now
    h.clock.advance(timedelta(days=2))
    h.tick_and_send()
    assert h.mailer.to(ANN)[-1].text.startswith("Second version")
    _, enrolled = h.admin.add_step(
        "acme", "spring", CampaignStep(number=1, template_id="last", delay=timedelta(days=1))
    )
    assert enrolled == 1  # ANN had had the old last step
    h.clock.advance(timedelta(days=1, minutes=1))
    h.tick_and_send()
    assert h.mailer.to(ANN)[-1].text.startswith("Last one.") and len(h.mailer.to(ANN)) == 3


def test_a_paused_lead_waits_and_resumes_where_it_stopped(h: Harness) -> None:
    seed_tenant(h, steps=2, leads=[ANN, BOB])
    actions = h.app.services.lead_actions()
    actions.pause("acme", ANN, "asked us to wait a week")
    h.tick_and_send()
    assert h.mailer.to(ANN) == [] and len(h.mailer.to(BOB)) == 1
    h.clock.advance(timedelta(days=3))
    h.tick_and_send()
    assert h.mailer.to(ANN) == []
    h.planner.tick()
    assert h.records.get(Campaign, "acme", "spring").status is CampaignStatus.RUNNING  # ANN still in it
    change = actions.resume("acme", ANN)
    assert change.timers == 1
    h.tick_and_send()
    assert len(h.mailer.to(ANN)) == 1  # step 1, not step 2: nothing was skipped


def test_remove_and_finish_end_a_leads_sequences(h: Harness) -> None:
    seed_tenant(h, steps=3, leads=[ANN, BOB])
    h.tick_and_send()
    actions = h.app.services.lead_actions()
    actions.remove("acme", ANN, "spring", "wrong person")
    actions.finish("acme", BOB, "meeting booked")
    assert h.records.get(Lead, "acme", lead_id_for("acme", BOB)).status is LeadStatus.FINISHED
    h.clock.advance(timedelta(days=5))
    h.tick_and_send()
    assert len(h.mailer.sent) == 2  # only the two first emails
    with pytest.raises(ValueError, match="over already"):
        actions.finish("acme", BOB)


def test_one_sequence_per_lead_the_second_campaign_waits_for_the_first(h: Harness) -> None:
    seed_tenant(h, steps=2, leads=[ANN], start=False)
    h.admin.add_template("acme", "other", "Another offer", "Different pitch.")
    h.admin.add_campaign("acme", "autumn", "sales", [CampaignStep(number=1, template_id="other")])
    h.admin.start_campaign("acme", "spring")
    h.admin.start_campaign("acme", "autumn")
    h.tick_and_send()
    assert len(h.mailer.to(ANN)) == 1  # one first email, not two a few seconds apart
    h.clock.advance(timedelta(hours=1))
    h.tick_and_send()
    assert len(h.mailer.to(ANN)) == 1  # the other campaign waits while this sequence goes on
    for _ in range(12):  # two days and more, a tick every 6 hours
        h.clock.advance(timedelta(hours=6))
        h.tick_and_send()
    subjects = _sent(h, ANN)
    assert len(subjects) == 3 and "Another offer" in subjects  # both sequences, one after the other
    assert subjects.index("Another offer") in (0, 2)


def test_skip_policy_leaves_the_lead_out_of_the_second_campaign(h: Harness) -> None:
    seed_tenant(h, steps=2, leads=[ANN], start=False)
    h.admin.update_tenant("acme", overlap=Overlap.SKIP)
    h.admin.add_template("acme", "other", "Another offer", "Different pitch.")
    h.admin.add_campaign("acme", "autumn", "sales", [CampaignStep(number=1, template_id="other")])
    h.admin.start_campaign("acme", "spring")
    h.tick_and_send()
    h.admin.start_campaign("acme", "autumn")
    h.tick_and_send()
    job = h.records.job("acme", f"autumn_{lead_id_for('acme', ANN)}_1")
    assert (
        job is not None and job.status is JobStatus.CANCELLED and "tenant policy: skip" in job.status_reason
    )


def test_ab_variants_split_by_weight_and_follow_ups_keep_the_variants_subject(h: Harness) -> None:
    leads = [f"lead{n}@corp-{n}.com" for n in range(60)]
    seed_tenant(h, steps=2, leads=leads, start=False, cap=500)
    h.admin.add_template("acme", "first-b", "Idea for {{company|you}}", "Variant B body.")
    step = CampaignStep(
        number=1, template_id="first", variants=(Variant(template_id="first"), Variant(template_id="first-b"))
    )
    h.admin.edit_step("acme", "spring", step)
    h.admin.start_campaign("acme", "spring")
    for _ in range(3):
        h.tick_and_send(minutes=30)
    firsts = {e.recipient.email: e for e in h.mailer.sent}
    b = [e for e in firsts.values() if e.subject.startswith("Idea for")]
    assert 15 < len(b) < 45  # an even split, deterministic per lead
    again = CampaignStep.model_validate(step.model_dump())
    assert all(
        again.template_for("acme", "spring", lead_id_for("acme", e))
        == step.template_for("acme", "spring", lead_id_for("acme", e))
        for e in leads
    )
    h.clock.advance(timedelta(days=2, minutes=1))
    for _ in range(3):
        h.tick_and_send(minutes=30)
    follow = [e for e in h.mailer.sent if e.subject.startswith("Re:")]
    assert follow and all(e.subject == f"Re: {firsts[e.recipient.email].subject}" for e in follow)
    report = h.app.services.status().report("acme")
    figures = {v.figures.template: v.figures.sent for v in report.variants}
    assert sum(figures.values()) == 60 and figures["first-b"] == len(b)
    assert "no winner yet" in report.verdicts["acme/spring step 1"]


def test_holidays_close_the_window_for_the_tenant_and_a_leads_country(h: Harness) -> None:
    seed_tenant(h, steps=1, leads=[], start=False)
    h.leads.import_csv("acme", b"email,country\nann@corp-a.com,DE\nbob@corp-b.com,GB\n")
    calendar = HolidayCalendar(
        lead_countries=("DE",),
        days={"DE": {"2026-01-05": "Test holiday"}},
        aliases={"germany": "DE"},
        years=(2026,),
    )
    h.admin.update_tenant("acme", holidays=calendar)
    h.admin.start_campaign("acme", "spring")
    h.tick_and_send(minutes=30)
    assert h.mailer.to(ANN) == [] and len(h.mailer.to(BOB)) == 1  # Monday 5th is a German holiday here
    h.clock.set(at(6, 0, 1))
    for _ in range(3):
        h.tick_and_send(minutes=30)
    assert len(h.mailer.to(ANN)) == 1


def test_the_forecast_lays_out_warm_up_and_delays(tmp_path: Path) -> None:
    from outreach_core.policies.config import SendingPolicy

    h = harness(tmp_path, policy=SendingPolicy())  # the real warm-up: 20 a day, +20% a day
    h.clock.set(at(5, 0, 0))
    seed_tenant(h, identities=1, cap=40, steps=2, leads=[f"l{n}@corp-{n}.com" for n in range(50)])
    result = h.app.services.forecast().campaign("acme", "spring")
    assert result.remaining == 100
    days = [d for d in result.plan.days if d.sent]
    assert days[0].sent == 20 and days[0].day == date(2026, 1, 5)  # the warm-up's first day
    assert all(d.sent <= d.capacity for d in result.plan.days)
    assert result.finish is not None and result.finish > date(2026, 1, 7)
    assert result.plan.left_over == 0


def test_leads_show_says_what_holds_the_next_step(h: Harness) -> None:
    from outreach_core.domain.window import SendWindow

    seed_tenant(h, steps=2, leads=[ANN], window=SendWindow(timezone="UTC", days=(1,)))  # Tuesdays only
    h.tick_and_send()
    view = h.app.services.timeline().show("acme", ANN)
    (line,) = view.campaigns
    first = line.steps[0]
    assert first.state == "planned" and any(
        "window tue 09:00-17:00 UTC is closed now" in x for x in first.holds
    )
    assert line.steps[1].state == "not yet"


def test_lifting_a_suppression_can_reactivate_the_lead(h: Harness) -> None:
    seed_tenant(h, steps=2, leads=[ANN])
    h.tick_and_send()
    h.app.services.suppression().suppress(
        "acme", ANN, SuppressionReason.UNSUBSCRIBE, source="test", at=h.clock.now()
    )
    lead = h.records.get(Lead, "acme", lead_id_for("acme", ANN))
    assert lead.status is LeadStatus.UNSUBSCRIBED
    h.app.services.suppression().remove(
        SuppressionScope.TENANT, "acme", ANN, at=h.clock.now(), actor="dana", reason="re-subscribed"
    )
    change = h.app.services.lead_actions().reactivate(h.records.get(Lead, "acme", lead.id), "re-subscribed")
    assert change.timers == 1
    h.clock.advance(timedelta(days=2, minutes=1))
    h.tick_and_send()
    assert len(h.mailer.to(ANN)) == 2
