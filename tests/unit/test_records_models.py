"""Records keeps the models it built from unchanged items (same version, same etag): read again, an
item gives the same model; changed in any way, a new one."""

from __future__ import annotations

from pathlib import Path

from adapters.sqlite_store import SqliteStateStore
from outreach_core.domain.models import Lead, LeadStatus
from outreach_core.records import Records
from tests.fakes import T0, InMemoryStateStore


def _lead(email: str = "ann@corp.example") -> Lead:
    return Lead(tenant_id="t", id="l-1", email=email, source="test", list_name="main", imported_at=T0)


def test_an_unchanged_item_gives_the_same_model_and_a_changed_one_a_new_one(tmp_path: Path) -> None:
    records = Records(SqliteStateStore(tmp_path / "s.db"))
    records.create(_lead())
    first = records.get(Lead, "t", "l-1")
    assert records.get(Lead, "t", "l-1") is first  # not validated again
    replied = records.replace(first.model_copy(update={"status": LeadStatus.REPLIED}))
    again = records.get(Lead, "t", "l-1")
    assert again is not first and again.status is LeadStatus.REPLIED and again.version == replied.version
    # Erased and imported again: version 1 once more, with other content. The etag tells them apart.
    records.store.write(records.delete_op(again))
    records.create(_lead("ann.other@corp.example"))
    assert records.get(Lead, "t", "l-1").email == "ann.other@corp.example"


def test_items_without_an_etag_are_always_built() -> None:
    records = Records(InMemoryStateStore())
    records.create(_lead())
    assert records.get(Lead, "t", "l-1") is not records.get(Lead, "t", "l-1")


def test_the_tenant_policy_is_built_once_and_a_change_of_it_applies_to_the_next_decision(
    tmp_path: Path,
) -> None:
    from outreach_core.policies.config import IdentityLimits, TenantPolicy
    from outreach_core.services.guard import ReputationGuard
    from outreach_core.services.limiter import SendLimiter
    from tests.fakes import ManualClock

    records = Records(SqliteStateStore(tmp_path / "s.db"))
    limiter = SendLimiter(records)
    guard = ReputationGuard(records, ManualClock(), limiter=limiter)
    default = limiter.policy_for("t")
    assert default is limiter.policy and guard.rules_for("t") == limiter.policy.autostop
    limiter.set_tenant_policy("t", TenantPolicy(identity=IdentityLimits(per_minute=1, per_hour=7)))
    first = limiter.policy_for("t")
    assert first.identity.per_hour == 7 and limiter.policy_for("t") is first  # not merged again
    stricter = limiter.policy.autostop.model_copy(update={"campaign_cooldown_s": 60.0})
    limiter.set_tenant_policy("t", TenantPolicy(identity=IdentityLimits(per_hour=3), autostop=stricter))
    assert limiter.policy_for("t").identity.per_hour == 3
    assert guard.rules_for("t") == stricter
