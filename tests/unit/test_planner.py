"""Planner: due steps -> windowed, admitted, slotted, claimed (once) and enqueued jobs."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import CampaignStep, IdentityStatus, Lead, LeadStatus
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.domain.window import SendWindow
from outreach_core.policies.config import IdentityLimits, SendingPolicy
from outreach_core.policies.providers import Provider, ProviderLimits
from outreach_core.policies.warmup import WarmupPlan
from outreach_core.records import Timer, TimerKind
from tests.harness import ALWAYS, Harness, at, harness, seed_tenant


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


def jobs(h: Harness, tenant: str = "acme") -> list:  # type: ignore[type-arg]
    return h.records.jobs(tenant)


def test_step_one_is_planned_at_start_and_enqueued(h: Harness) -> None:
    seed_tenant(h)
    report = h.planner.tick()
    assert report.planned == 5 and report.enqueued == 5
    assert {j.status for j in jobs(h)} == {JobStatus.QUEUED}
    assert {j.step for j in jobs(h)} == {1}
    bodies = [json.loads(m.body) for m in h.queue.messages.values()]
    assert {b["tenant_id"] for b in bodies} == {"acme"}


def test_slots_spread_over_the_horizon_without_bursts(h: Harness) -> None:
    seed_tenant(h, leads=[f"l{n}@corp-x.com" for n in range(30)])
    h.planner.tick()
    slots = sorted(m.visible_at for m in h.queue.messages.values())
    horizon = h.planner.config.horizon
    assert slots[-1] - slots[0] > horizon / 2  # spread, not all at once
    assert all(h.clock.now() <= s <= h.clock.now() + horizon for s in slots)
    assert len(set(slots)) == len(slots)  # jittered: no two at the same instant


def test_a_step_is_never_claimed_twice(h: Harness) -> None:
    seed_tenant(h)
    h.planner.tick()
    before = {j.job_id: j.version for j in jobs(h)}
    # Step timers that somehow reappear (a replayed admin action, a restored backup) claim nothing new.
    campaign = h.admin.campaigns("acme")[0]
    for job in jobs(h):
        timer = Timer(
            tenant_id="acme",
            at=h.clock.now(),
            kind=TimerKind.STEP,
            job_id=job.job_id,
            campaign_id=campaign.id,
            lead_id=job.lead_id,
            step=1,
        )
        h.store.write(h.records.timer_put(timer))
    report = h.planner.tick()
    assert report.planned == 0
    assert {j.job_id: j.version for j in jobs(h)} == before
    assert len(h.queue.messages) == 5


def test_due_steps_wait_for_the_leads_window(h: Harness) -> None:
    h.clock.set(at(5, 6))  # Monday 06:00 UTC
    window = SendWindow(timezone="Europe/Berlin", start=time(9), end=time(17))
    seed_tenant(h, window=window)
    assert h.planner.tick().planned == 0
    [timer, *_] = h.records.timers_due("acme", TimerKind.STEP, at(6))
    assert timer.at == at(5, 8)  # re-filed to 09:00 Berlin
    h.clock.set(at(5, 8))
    assert h.planner.tick().planned == 5


def test_a_lead_that_stopped_or_is_suppressed_is_not_planned(h: Harness) -> None:
    emails = seed_tenant(h)
    lead = next(lead for lead in h.records.all(Lead, "acme") if lead.email == emails[0])
    h.records.replace(lead.model_copy(update={"status": LeadStatus.REPLIED}))
    h.app.services.suppression().suppress(
        "acme", emails[1], SuppressionReason.UNSUBSCRIBE, source="t", at=h.clock.now()
    )
    report = h.planner.tick()
    assert report.planned == 3 and report.stopped == 2


def test_the_hourly_rate_paces_admission(h: Harness) -> None:
    seed_tenant(h, hourly=12, leads=[f"l{n}@corp-x.com" for n in range(20)])
    planned = h.planner.tick().planned
    assert planned == 1  # a 5-minute horizon at 12/hour holds one token
    total = planned
    for _ in range(12):
        h.clock.advance(timedelta(minutes=5))
        total += h.planner.tick().planned
    assert 12 <= total <= 14  # about 12 an hour, never a burst


def test_the_daily_quota_stops_admission_until_tomorrow(h: Harness) -> None:
    seed_tenant(h, daily=3, leads=[f"l{n}@corp-x.com" for n in range(6)])
    total = 0
    for _ in range(6):
        total += h.planner.tick().planned
        h.clock.advance(timedelta(minutes=5))
    assert total == 3
    h.clock.set(at(6, 0, 10))
    assert h.planner.tick().planned == 3


def test_a_booked_up_direction_waits_until_its_rolling_day_has_room(h: Harness) -> None:
    seed_tenant(h, identities=1, cap=2, leads=[f"l{n}@corp-x.com" for n in range(5)])
    assert h.tick_and_send().count("sent") == 2  # Monday 09:00: the identity's two for the day
    # The rest are not read on every tick: today's admissions used today's cap, and tomorrow the two
    # sends are still in the identity's rolling day until 09:30 (their bucket leaves the window). So
    # they wait until then, unread (an identity added or a cap raised meanwhile makes them due).
    h.clock.set(at(6, 4))
    assert h.planner.tick().planned == 0
    assert len(h.records.timers_due("acme", TimerKind.STEP, at(6, 9, 29))) == 0
    assert len(h.records.timers_due("acme", TimerKind.STEP, at(6, 9, 30))) == 3  # the moment it has room
    h.clock.set(at(6, 9, 30))
    assert h.planner.tick().planned == 2


def _waiting_until_tomorrow(h: Harness) -> None:
    seed_tenant(h, identities=1, cap=2, leads=[f"l{n}@corp-x.com" for n in range(5)])
    assert h.tick_and_send().count("sent") == 2  # Monday 09:00: the identity's two for the day
    assert _due_first_steps(h, at(5, 23, 59)) == 0  # waiting till midnight


def _due_first_steps(h: Harness, by: datetime) -> int:
    return len([t for t in h.records.timers_due("acme", TimerKind.STEP, by) if t.step == 1])


def test_steps_waiting_for_room_come_due_when_an_identity_is_added(h: Harness) -> None:
    _waiting_until_tomorrow(h)
    second_steps = [t for t in h.records.timers_due("acme", TimerKind.STEP, at(30)) if t.step == 2]
    h.admin.add_identity("acme", "id9", "rep9@acme-mail.com", display_name="Rep 9", daily_cap=2)
    assert _due_first_steps(h, h.clock.now()) == 3  # due at once
    # A step waiting for its sequence's delay is not room's to move: it stays.
    assert [t for t in h.records.timers_due("acme", TimerKind.STEP, at(30)) if t.step == 2] == second_steps
    h.clock.set(at(5, 9, 20))
    assert h.planner.tick().planned >= 1  # the new identity's room, at once


def test_steps_waiting_for_room_come_due_when_a_cap_is_raised(h: Harness) -> None:
    _waiting_until_tomorrow(h)
    h.admin.update_identity("acme", "id0", daily_cap=20)
    assert _due_first_steps(h, h.clock.now()) == 3


def test_steps_waiting_for_room_stay_put_when_the_identity_is_paused(h: Harness) -> None:
    _waiting_until_tomorrow(h)
    h.admin.set_identity_status("acme", "id0", IdentityStatus.PAUSED, "operator")
    assert _due_first_steps(h, at(5, 23, 59)) == 0  # less room: nothing to wake for
    h.admin.set_identity_status("acme", "id0", IdentityStatus.ACTIVE)
    assert _due_first_steps(h, h.clock.now()) == 3  # resumed: they look again


def test_a_provider_without_room_holds_its_steps_until_its_hour_frees(tmp_path: Path) -> None:
    # One identity may send 10 an hour to Gmail (the default), one per tick (its share of a horizon).
    h = harness(tmp_path, policy=SendingPolicy(identity=IdentityLimits(per_minute=None, per_hour=None)))
    seed_tenant(h, identities=1, leads=[f"l{n}@gmail.com" for n in range(15)])
    sent = 0
    for tick in range(12):
        h.clock.set(at(5, 9, 5 * tick))
        sent += h.tick_and_send(minutes=4).count("sent")
    assert sent == 10
    # From 09:50 the hour at Gmail is used: the rest wait for its first send to leave the window.
    assert len(h.records.timers_due("acme", TimerKind.STEP, at(5, 10, 1))) == 0
    assert len(h.records.timers_due("acme", TimerKind.STEP, at(5, 10, 2))) == 5
    h.clock.set(at(5, 10, 2))
    assert h.planner.tick().planned == 1


def test_a_crash_between_claim_and_enqueue_is_healed_by_the_wake_timer(h: Harness) -> None:
    seed_tenant(h, leads=["solo@corp-x.com"])

    class Crash(Exception):
        pass

    real_send = h.queue.send

    def failing_send(*_: object, **__: object) -> str:
        raise Crash

    h.queue.send = failing_send  # type: ignore[method-assign]
    with pytest.raises(Crash):
        h.planner.tick()
    [job] = jobs(h)
    assert job.status is JobStatus.PLANNED and h.queue.messages == {}
    h.queue.send = real_send  # type: ignore[method-assign]
    report = h.planner.tick()
    assert report.enqueued == 1 and report.planned == 0
    assert jobs(h)[0].status is JobStatus.QUEUED and len(h.queue.messages) == 1


def test_an_expired_sending_lease_makes_the_job_uncertain(h: Harness) -> None:
    seed_tenant(h, leads=["solo@corp-x.com"])
    h.planner.tick()
    h.clock.advance(timedelta(minutes=6))

    def die(_: object) -> None:
        raise SystemExit("sender killed")  # BaseException: escapes the sender like a crash

    h.mailer.every = die
    [message] = h.queue.receive(1)
    with pytest.raises(SystemExit):
        h.sender.handle(message)
    assert jobs(h)[0].status is JobStatus.SENDING
    h.clock.advance(h.sender.config.lease + timedelta(seconds=1))
    report = h.planner.tick()
    assert report.uncertain == 1
    assert jobs(h)[0].status is JobStatus.UNCERTAIN


def test_paused_campaign_steps_are_dropped_and_rebuilt_on_resume(h: Harness) -> None:
    seed_tenant(h)
    h.admin.pause_campaign("acme", "spring")
    assert h.planner.tick().planned == 0
    assert h.records.timers_due("acme", TimerKind.STEP, at(30)) == []
    h.admin.resume_campaign("acme", "spring")
    assert h.planner.tick().planned == 5


def test_follow_ups_come_due_after_their_delay(h: Harness) -> None:
    seed_tenant(h, steps=2)
    assert h.tick_and_send().count("sent") == 5
    h.clock.advance(timedelta(days=1))
    assert h.planner.tick().planned == 0
    h.clock.advance(timedelta(days=1))
    report = h.planner.tick()
    assert report.planned == 5
    assert {j.step for j in jobs(h) if j.status is JobStatus.QUEUED} == {2}


def test_next_due_lets_an_idle_loop_sleep_until_work_exists(h: Harness) -> None:
    seed_tenant(h, steps=2)
    h.tick_and_send()
    report = h.planner.tick()
    assert report.next_due is not None
    assert timedelta(days=1, hours=23) < report.next_due - h.clock.now() <= timedelta(days=2)


def test_room_at_a_provider_is_counted_for_the_identities_serving_the_direction(tmp_path: Path) -> None:
    # a serves "audit", b serves "dash"; each may send one an hour to Gmail. a's hour there is free, b's
    # is used: a dash step to Gmail waits for b (a could not send it), until b's hour frees.
    policy = SendingPolicy(
        identity=IdentityLimits(per_minute=None, per_hour=None),
        providers={
            Provider.GOOGLE: ProviderLimits(per_hour=1),
            Provider.OTHER: ProviderLimits(per_hour=None),
        },
        warmup=WarmupPlan(enabled=False),
    )
    h = harness(tmp_path, policy=policy)
    h.admin.add_tenant("acme", "Acme", "1 Main Street, Springfield", window=ALWAYS)
    h.admin.add_template("acme", "first", "Hi", "Body.")
    for direction, identity, leads in (
        ("audit", "a", ["x@corp-x.com"]),
        ("dash", "b", ["y1@gmail.com", "y2@gmail.com"]),
    ):
        h.admin.add_direction("acme", direction, direction.title())
        h.admin.add_identity(
            "acme", identity, f"{identity}@acme-mail.com", directions=(direction,), daily_cap=50
        )
        h.admin.add_campaign(
            "acme", direction, direction, [CampaignStep(number=1, template_id="first")], lead_list=direction
        )
        rows = "email,first_name\n" + "".join(f"{e},N\n" for e in leads)
        h.leads.import_csv("acme", rows.encode(), list_name=direction)
        h.admin.start_campaign("acme", direction)
    assert h.tick_and_send(minutes=4).count("sent") == 2  # x by a, y1 by b (one per tick at Gmail)
    h.clock.set(at(5, 9, 5))
    assert h.planner.tick().planned == 0  # y2: a has room at Gmail, but a does not serve "dash"
    assert len(h.records.timers_due("acme", TimerKind.STEP, at(5, 10, 1))) == 0
    h.clock.set(at(5, 10, 2))  # b's send to Gmail has left its hour
    assert h.planner.tick().planned == 1


def test_capacity_refiling_just_before_midnight_leaves_midnight_timers_alone(h: Harness) -> None:
    # Found by the property tests: refiling a timer that is already due at tomorrow's midnight wrote
    # the same item twice in one transaction and crashed the tick every night from 23:55.
    seed_tenant(h, identities=1, cap=1, leads=[f"l{n}@corp-x.com" for n in range(3)])
    h.planner.tick()  # one admitted, two refiled (today's cap is used: to tomorrow's midnight)
    assert len(h.records.timers_due("acme", TimerKind.STEP, at(5, 23, 59))) == 0
    h.clock.set(at(5, 23, 57))
    h.planner.tick()  # read (due within this horizon), still used up: they stay at midnight, no crash
    assert len(h.records.timers_due("acme", TimerKind.STEP, at(6))) == 2
    h.clock.set(at(6, 0, 2))
    assert h.planner.tick().planned == 1
