from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import CampaignStep
from outreach_core.records import AlreadyExistsError, NotFoundError, TimerKind
from outreach_core.rendering.templating import TemplateError
from tests.harness import Harness, harness, seed_tenant


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


def test_a_tenant_needs_a_postal_address_for_its_footer(h: Harness) -> None:
    with pytest.raises(ValidationError, match="postal_address"):
        h.admin.add_tenant("acme", "Acme", "   ")


def test_ids_are_slugs(h: Harness) -> None:
    with pytest.raises(ValidationError):
        h.admin.add_tenant("Acme Corp", "Acme", "1 Main Street")


def test_duplicates_are_refused(h: Harness) -> None:
    h.admin.add_tenant("acme", "Acme", "1 Main Street")
    with pytest.raises(AlreadyExistsError, match="acme"):
        h.admin.add_tenant("acme", "Acme again", "2 Main Street")


def test_everything_names_its_tenant(h: Harness) -> None:
    with pytest.raises(NotFoundError, match="ghost"):
        h.admin.add_direction("ghost", "d", "D")


def test_identity_addresses_are_validated(h: Harness) -> None:
    h.admin.add_tenant("acme", "Acme", "1 Main Street")
    with pytest.raises(ValueError, match="sender address"):
        h.admin.add_identity("acme", "bad", "not an address")


def test_a_broken_template_is_refused_before_use(h: Harness) -> None:
    h.admin.add_tenant("acme", "Acme", "1 Main Street")
    with pytest.raises(TemplateError, match="unclosed"):
        h.admin.add_template("acme", "t", "{Hi|Hello", "body")


def test_campaign_steps_must_exist_and_step_one_needs_a_subject(h: Harness) -> None:
    seed_tenant(h, start=False)
    with pytest.raises(NotFoundError, match="nope"):
        h.admin.add_campaign("acme", "c2", "sales", [CampaignStep(number=1, template_id="nope")])
    with pytest.raises(ValueError, match="needs a subject"):
        h.admin.add_campaign("acme", "c3", "sales", [CampaignStep(number=1, template_id="follow2")])
    with pytest.raises(ValidationError, match="numbered"):
        h.admin.add_campaign("acme", "c4", "sales", [CampaignStep(number=2, template_id="first")])


def test_starting_enrols_the_lists_active_leads_once(h: Harness) -> None:
    seed_tenant(h, start=False)
    assert h.admin.start_campaign("acme", "spring") == 5
    assert len(h.records.timers_due("acme", TimerKind.STEP, h.clock.now())) == 5
    with pytest.raises(ValueError, match="only a draft"):
        h.admin.start_campaign("acme", "spring")


def test_resume_reopens_what_the_pause_cancelled_and_continues_sequences(h: Harness) -> None:
    seed_tenant(h, leads=[f"l{n}@corp-x.com" for n in range(4)])
    h.planner.tick()
    h.admin.pause_campaign("acme", "spring", "checking the list")
    h.clock.advance(timedelta(minutes=6))
    assert h.drain() == ["cancelled"] * 4
    assert h.admin.resume_campaign("acme", "spring") == 4
    assert {j.status for j in h.records.jobs("acme")} == {JobStatus.PLANNED}
    h.planner.tick()
    h.clock.advance(timedelta(minutes=6))
    assert h.drain() == ["sent"] * 4
    audit = [e.action for e in h.records.audit("acme")]
    assert "campaign.pause" in audit and "campaign.resume" in audit
