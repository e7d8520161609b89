"""F3: a `sending` job always has a live lease timer, or is listed for a person (`uncertain`).

A sender that dies mid-send is played by a mailer raising a BaseException the sender does not catch
(as SIGKILL would not let it): the job stays `sending` with its lease, as after a real kill."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.records import TimerKind
from outreach_core.services.uncertain import UncertainJobs
from tests.fakes import T0, ManualClock
from tests.harness import Harness, harness, seed_tenant


class Killed(BaseException):
    """What SIGKILL does to a sender mid-call: nothing after it runs."""


def _die() -> None:
    raise Killed


def sending_job(tmp_path: Path, *, start_offset_s: float, lease_s: float) -> tuple[Harness, MessageJob]:
    """A job left `sending` by a killed sender whose lease began `start_offset_s` after T0."""
    h = harness(tmp_path, clock=ManualClock(T0 + timedelta(seconds=start_offset_s)))
    [email] = seed_tenant(h, leads=["ann@corp-x.com"], steps=1)
    h.sender.config = h.sender.config.model_copy(update={"lease": timedelta(seconds=lease_s)})
    h.mailer.fail_next(email, _die)
    with pytest.raises(Killed):
        h.tick_and_send(minutes=1)
    [job] = h.records.jobs("acme")
    assert job.status is JobStatus.SENDING and job.lease_until is not None
    return h, job


def lease_timers(h: Harness, job_id: str) -> list[object]:
    far = T0 + timedelta(days=30)
    return [t for t in h.records.timers_due("acme", TimerKind.LEASE, far) if t.job_id == job_id]


def check(h: Harness) -> None:
    """The invariant: every `sending` job has a lease timer; the others need none."""
    for job in h.records.jobs("acme"):
        if job.status is JobStatus.SENDING:
            assert lease_timers(h, job.job_id), f"{job.job_id} is sending with no lease timer"


def test_f3_a_tick_earlier_in_the_leases_last_second_keeps_the_timer(tmp_path: Path) -> None:
    # The lease ends at .90 of a second; the planner ticks at .00 of that same second.
    h, job = sending_job(tmp_path, start_offset_s=0.9, lease_s=300)
    assert job.lease_until is not None and job.lease_until.microsecond == 900_000
    h.clock.set(job.lease_until.replace(microsecond=0))
    h.planner.tick()
    check(h)
    h.clock.set(job.lease_until + timedelta(milliseconds=1))
    h.planner.tick()
    [after] = h.records.jobs("acme")
    assert after.status is JobStatus.UNCERTAIN
    assert [j.job_id for j in UncertainJobs(h.records, h.clock).list("acme")] == [job.job_id]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.floats(min_value=0, max_value=0.999),
    lease=st.floats(min_value=1.0, max_value=3.0),
    ticks=st.lists(st.floats(min_value=0, max_value=4.0), min_size=1, max_size=8),
)
def test_f3_property_every_sending_job_keeps_a_lease_timer_or_becomes_uncertain(
    start: float, lease: float, ticks: list[float]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        h, job = sending_job(Path(tmp), start_offset_s=start, lease_s=lease)
        assert job.lease_until is not None
        for offset in sorted(ticks):  # ticks at any sub-second moment, before and after the lease ends
            h.clock.set(max(h.clock.now(), T0 + timedelta(seconds=start + offset)))
            h.planner.tick()
            check(h)
        h.clock.set(max(h.clock.now(), job.lease_until + timedelta(microseconds=1)))
        h.planner.tick()
        [after] = h.records.jobs("acme")
        assert after.status is JobStatus.UNCERTAIN, "a lease that ran out leaves the job for a person"
