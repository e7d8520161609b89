"""Unsubscribe, suppression lists, erasure and the audit trail they leave, on the core services."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach_core.domain.ids import email_hash
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import LeadStatus
from outreach_core.domain.suppression import SuppressionReason, SuppressionScope
from outreach_core.records import GLOBAL
from outreach_core.rendering.unsubscribe import sign
from outreach_core.services.unsubscribe import UnsubscribeService, mask
from tests.fakes import ScriptedMailer
from tests.feedback_world import SECRET, TENANT, World, build_world

ANN, BOB, CAT = "ann@client.example", "bob@client.example", "cat@other.example"


def service(world: World, secrets: tuple[str, ...] = (SECRET,)) -> UnsubscribeService:
    return UnsubscribeService(world.records, world.clock, world.suppression, list(secrets))


def queued_world() -> World:
    """Step 1 sent; step 2 claimed and queued but not yet sent."""
    world = build_world()
    world.send_due()
    world.clock.advance(timedelta(days=2, hours=1))
    world.plan()
    assert world.status(ANN, 2) is JobStatus.QUEUED
    return world


def test_unsubscribe_suppresses_at_once_and_cancels_queued_jobs() -> None:
    world = queued_world()
    token = sign(SECRET, TENANT, world.lead(ANN).id)
    outcome = service(world).unsubscribe(token)
    assert (outcome.ok, outcome.cancelled) == (True, 1)
    assert world.status(ANN, 2) is JobStatus.CANCELLED
    assert world.lead(ANN).status is LeadStatus.UNSUBSCRIBED
    entry = world.records.suppression_for(TENANT, ANN)
    assert entry is not None and entry.reason is SuppressionReason.UNSUBSCRIBE
    world.send_due()
    assert isinstance(world.mailer, ScriptedMailer)
    assert len(world.mailer.to(ANN)) == 1 and len(world.mailer.to(BOB)) == 2
    audit = [a for a in world.records.audit(TENANT) if a.action == "lead.unsubscribe"]
    assert [(a.actor, a.details["cancelled"]) for a in audit] == [("recipient:one-click", 1)]


def test_unsubscribing_twice_is_harmless() -> None:
    world = queued_world()
    token = sign(SECRET, TENANT, world.lead(ANN).id)
    first, again = service(world).unsubscribe(token), service(world).unsubscribe(token)
    assert first.ok and again.ok and again.cancelled == 0
    assert len(world.records.suppressions(SuppressionScope.TENANT, TENANT)) == 1


def test_a_token_signed_with_an_old_secret_still_works_and_a_forged_one_does_not() -> None:
    world = queued_world()
    rotated = service(world, ("new-secret", SECRET))
    assert rotated.unsubscribe(sign(SECRET, TENANT, world.lead(ANN).id)).ok
    forged = sign("guessed", TENANT, world.lead(BOB).id)
    assert not rotated.unsubscribe(forged).ok
    assert world.lead(BOB).status is LeadStatus.ACTIVE
    assert rotated.preview(forged) is None


def test_the_preview_changes_nothing_and_masks_the_address() -> None:
    world = queued_world()
    preview = service(world).preview(sign(SECRET, TENANT, world.lead(ANN).id))
    assert preview is not None and (preview.tenant_name, preview.masked_email) == (
        "Acme",
        "a***@client.example",
    )
    assert world.lead(ANN).status is LeadStatus.ACTIVE
    assert world.records.suppression_for(TENANT, ANN) is None
    assert mask("x") == "***"


def test_a_complaint_policy_reaches_the_global_list_and_other_tenants() -> None:
    world = build_world()
    world.suppression.suppress(TENANT, BOB, SuppressionReason.COMPLAINT, source="e1", at=world.clock.now())
    assert {e.email_hash for e in world.records.suppressions(SuppressionScope.GLOBAL)} == {email_hash(BOB)}
    entry = world.records.suppression_for("another-tenant", BOB)
    assert entry is not None and entry.scope is SuppressionScope.GLOBAL


def test_operators_add_to_the_global_list_and_remove_from_either_list() -> None:
    world = build_world()
    now = world.clock.now()
    assert world.suppression.add_global(CAT, SuppressionReason.MANUAL, source="trap", at=now, actor="dana")
    assert not world.suppression.add_global(
        CAT, SuppressionReason.MANUAL, source="trap", at=now, actor="dana"
    )
    world.suppression.suppress(TENANT, ANN, SuppressionReason.MANUAL, source="cli", at=now, actor="dana")
    assert world.suppression.remove(
        SuppressionScope.TENANT, TENANT, ANN, at=now, actor="dana", reason="added by mistake"
    )
    assert world.records.suppression_for(TENANT, ANN) is None
    assert world.suppression.remove(
        SuppressionScope.GLOBAL, None, CAT, at=now, actor="dana", reason="not a trap"
    )
    assert not world.suppression.remove(
        SuppressionScope.GLOBAL, None, CAT, at=now, actor="dana", reason="again"
    )
    global_audit = [(a.action, a.actor) for a in world.records.audit(GLOBAL)]
    assert global_audit == [("suppression.add", "dana"), ("suppression.remove", "dana")]
    removed = [a for a in world.records.audit(TENANT) if a.action == "suppression.remove"]
    assert [(a.actor, a.reason, a.target) for a in removed] == [("dana", "added by mistake", email_hash(ANN))]


def test_erasure_keeps_only_a_hash_and_forgets_the_person() -> None:
    world = queued_world()
    now = world.clock.now()
    lead_id = world.lead(ANN).id
    world.suppression.suppress(TENANT, ANN, SuppressionReason.COMPLAINT, source="e1", at=now)
    report = world.suppression.erase(TENANT, ANN, at=now, actor="dana", reason="GDPR Art. 17 request #12")
    assert report.lead_erased and report.entries_scrubbed == 2
    assert world.records.suppression_for(TENANT, ANN) is not None, "still suppressed"
    everything = repr(sorted(world.store.items.items()))
    assert ANN not in everything and "Ann" not in everything, "no trace of the address or the name is left"
    assert all(j.subject == "" for j in world.records.lead_jobs(TENANT, lead_id))
    assert {j.status for j in world.records.lead_jobs(TENANT, lead_id)} == {
        JobStatus.SENT,
        JobStatus.CANCELLED,
    }
    with pytest.raises(ValueError, match="stays suppressed"):
        world.suppression.remove(SuppressionScope.TENANT, TENANT, ANN, at=now, actor="dana", reason="oops")
    erase = [a for a in world.records.audit(TENANT) if a.action == "lead.erase"]
    assert [(a.actor, a.target, a.reason) for a in erase] == [
        ("dana", email_hash(ANN), "GDPR Art. 17 request #12")
    ]
    # A lead list re-imported later cannot bring the person back.
    from outreach_core.services.leads import LeadImportService

    report_import = LeadImportService(world.records, world.clock).import_csv(
        TENANT, f"email\n{ANN}\n".encode()
    )
    assert report_import.imported == 0 and "suppressed" in report_import.problems[0].reason


def test_erasing_an_address_that_was_never_suppressed_creates_a_hash_only_entry() -> None:
    world = build_world()
    world.suppression.erase(TENANT, CAT, at=world.clock.now(), actor="dana", reason="request")
    (entry,) = world.records.suppressions(SuppressionScope.TENANT, TENANT)
    assert (entry.email, entry.reason, entry.email_hash) == (None, SuppressionReason.ERASURE, email_hash(CAT))


def test_export_lists_oldest_first() -> None:
    world = build_world()
    for email in (CAT, ANN):
        world.suppression.suppress(
            TENANT, email, SuppressionReason.MANUAL, source="cli", at=world.clock.now()
        )
        world.clock.advance(60)
    assert [e.email for e in world.suppression.export(SuppressionScope.TENANT, TENANT)] == [CAT, ANN]
