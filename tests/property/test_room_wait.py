"""Property tests: due steps refiled to wait for their direction's room are pulled forward at the next
tick after anything their room depends on besides time changes (an identity added, changed, paused or
resumed, the tenant's quotas, its policy), never when nothing did, and none is lost either way."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from outreach_core.domain.models import IdentityStatus, Quotas
from outreach_core.policies.config import TenantPolicy
from outreach_core.records import TimerKind
from tests.harness import Harness, at, harness, seed_tenant

CHANGES = ["nothing", "identity added", "cap raised", "paused", "quotas", "policy"]


def _change(h: Harness, change: str) -> None:
    match change:
        case "identity added":
            h.admin.add_identity("acme", "id9", "rep9@acme-mail.com", display_name="Rep 9", daily_cap=3)
        case "cap raised":
            h.admin.update_identity("acme", "id0", daily_cap=40)
        case "paused":
            h.admin.set_identity_status("acme", "id0", IdentityStatus.PAUSED, "operator")
        case "quotas":
            h.admin.update_tenant("acme", quotas=Quotas(daily=4000, hourly=500))
        case "policy":
            h.admin.set_tenant_policy("acme", TenantPolicy(), h.planner.limiter)


def _step_ones(h: Harness) -> tuple[int, int]:
    """(step-1 timers, step-1 jobs): every lead's first step is one or the other, never both or neither."""
    timers = [t for t in h.records.timers_due("acme", TimerKind.STEP, at(30)) if t.step == 1]
    jobs = [j for j in h.records.jobs("acme") if j.step == 1]
    return len(timers), len(jobs)


@settings(max_examples=25, deadline=None)
@given(
    leads=st.integers(min_value=3, max_value=8),
    cap=st.integers(min_value=1, max_value=2),
    change=st.sampled_from(CHANGES),
    minutes=st.integers(min_value=10, max_value=600),
)
def test_waiting_steps_come_due_exactly_when_capacity_changed(
    leads: int, cap: int, change: str, minutes: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        h = harness(Path(tmp))
        seed_tenant(h, identities=1, cap=cap, leads=[f"l{n}@corp-x.com" for n in range(leads)])
        first = h.planner.tick().planned
        waiting = leads - first
        assert waiting > 0 and not h.records.timers_due("acme", TimerKind.STEP, at(5, 23, 59))
        _change(h, change)
        h.clock.set(h.clock.now() + timedelta(minutes=minutes))
        report = h.planner.tick()
        if change == "nothing":
            assert report.pulled_forward == 0 and report.planned == 0
        else:
            assert report.pulled_forward == waiting
        assert _step_ones(h) == (leads - first - report.planned, first + report.planned)
        h.clock.set(h.clock.now() + timedelta(minutes=5))
        assert h.planner.tick().pulled_forward == 0  # pulled once; waiting again under the new capacity
        timers, jobs = _step_ones(h)
        assert timers + jobs == leads
