"""Property tests: no scope ever admits more than its limit in any window, whatever the arrivals and
however concurrent senders sharing one store interleave their reads and writes."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from outreach_core.domain.models import Quotas, SenderIdentity, Tenant
from outreach_core.policies import limits
from outreach_core.policies.config import AccountLimits, IdentityLimits, SendingPolicy
from outreach_core.policies.limits import Limit, micros
from outreach_core.policies.providers import Provider, ProviderLimits
from outreach_core.policies.warmup import WarmupPlan
from outreach_core.ports import ConditionFailed
from outreach_core.records import Records
from outreach_core.services.limiter import Grant, NotYet, SendLimiter
from tests.fakes import T0, InMemoryStateStore


def max_in_window(times: list[int], period_us: int) -> int:
    """The most events in any half-open window [t, t + period)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - period_us:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


arrivals = st.lists(st.integers(min_value=0, max_value=7_200_000_000), min_size=1, max_size=300)


@given(arrivals, st.integers(min_value=1, max_value=20), st.integers(min_value=1, max_value=3600))
def test_gcra_never_exceeds_its_limit_in_any_window(times: list[int], count: int, period_s: int) -> None:
    limit = Limit(count=count, period_s=period_s)
    tat: int | None = None
    admitted = []
    for now in sorted(times):
        decision = limits.gcra(tat, now, limit)
        if decision.allowed:
            tat = decision.state
            admitted.append(now)
        else:
            assert decision.retry_at_us > now
    assert max_in_window(admitted, limit.period_us) <= count


@given(
    arrivals,
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=1, max_value=7200),
    st.integers(min_value=1, max_value=60),
)
def test_window_never_exceeds_its_limit_in_any_window(
    times: list[int], count: int, period_s: int, buckets: int
) -> None:
    limit = Limit(count=count, period_s=period_s)
    state = None
    admitted = []
    for now in sorted(times):
        decision = limits.window(state, now, limit, buckets)
        if decision.allowed:
            state = decision.state
            admitted.append(now)
        else:
            assert decision.retry_at_us > now
            # Retrying at the time it names is allowed (nothing else arrived meanwhile).
            assert limits.window(state, decision.retry_at_us, limit, buckets).allowed
    assert max_in_window(admitted, limit.period_us) <= count


def _as_string_keyed(state: object) -> object:
    """The bucket state as it was stored before {"b": first, "n": [counts]}: {"<index>": count}."""
    if isinstance(state, dict) and "b" in state:
        return {str(state["b"] + i): n for i, n in enumerate(state["n"]) if n}
    return state


@given(
    arrivals,
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=61, max_value=7200),
    st.integers(min_value=1, max_value=60),
)
def test_a_window_decides_the_same_from_the_earlier_string_keyed_state(
    times: list[int], count: int, period_s: int, buckets: int
) -> None:
    limit = Limit(count=count, period_s=period_s)
    state = None
    for now in sorted(times):
        decision = limits.window(json.loads(json.dumps(state)), now, limit, buckets)
        legacy = limits.window(_as_string_keyed(state), now, limit, buckets)
        assert (decision.allowed, decision.retry_at_us) == (legacy.allowed, legacy.retry_at_us)
        assert limits.window_used(state, now, limit, buckets) == limits.window_used(
            _as_string_keyed(state), now, limit, buckets
        )
        if decision.allowed:
            state = decision.state


def _world(store: InMemoryStateStore) -> tuple[SendLimiter, list[Tenant], dict[str, list[SenderIdentity]]]:
    policy = SendingPolicy(
        account=AccountLimits(max_send_rate=0.05, max_24h_send=40),  # one per 20 s, 40 a day
        identity=IdentityLimits(per_minute=2, per_hour=6),
        providers={Provider.GOOGLE: ProviderLimits(per_hour=4, per_day=9), Provider.OTHER: ProviderLimits()},
        warmup=WarmupPlan(start=12),
    )
    limiter = SendLimiter(Records(store), policy)
    tenants = [
        Tenant(id=t, name=t, postal_address="1 Main Street", quotas=Quotas(daily=25, hourly=8), created_at=T0)
        for t in ("a", "b")
    ]
    identities = {
        t.id: [
            SenderIdentity(
                tenant_id=t.id, id=f"{t.id}{n}", email=f"s{n}@{t.id}.com", daily_cap=15, created_at=T0
            )
            for n in range(2)
        ]
        for t in tenants
    }
    return limiter, tenants, identities


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=1),  # tenant
            st.integers(min_value=0, max_value=2 * 86_400),  # arrival, seconds
            st.integers(min_value=1, max_value=4),  # concurrent senders racing at that instant
            st.sampled_from(["gmail.com", "corp.example"]),
        ),
        min_size=1,
        max_size=120,
    )
)
def test_concurrent_senders_sharing_a_store_never_overshoot(
    arrivals: list[tuple[int, int, int, str]],
) -> None:
    store = InMemoryStateStore()
    limiter, tenants, identities = _world(store)
    sent: list[tuple[str, str, str, int]] = []  # tenant, identity, provider, time
    for tenant_index, second, racers, domain in sorted(arrivals, key=lambda a: a[1]):
        tenant = tenants[tenant_index]
        now = T0 + timedelta(seconds=second)
        # Every racer reads the same state, then they write in turn: only the first write can win.
        decisions = [
            limiter.acquire(tenant, identities[tenant.id], "ROT#d", domain, now) for _ in range(racers)
        ]
        for decision in decisions:
            if isinstance(decision, Grant):
                try:
                    store.write(*decision.puts)
                except ConditionFailed:
                    continue
                sent.append((tenant.id, decision.identity.id, decision.provider.value, micros(now)))
            else:
                assert isinstance(decision, NotYet)
                assert decision.until > now
    account = [t for *_, t in sent]
    assert max_in_window(account, 20_000_000) <= 1
    assert max_in_window(account, 86_400_000_000) <= 40
    for tenant in tenants:
        mine = [t for who, _, _, t in sent if who == tenant.id]
        assert max_in_window(mine, 3_600_000_000) <= 8
        assert max_in_window(mine, 86_400_000_000) <= 25
        for identity in identities[tenant.id]:
            theirs = [t for _, i, _, t in sent if i == identity.id]
            assert max_in_window(theirs, 60_000_000) <= 2
            assert max_in_window(theirs, 3_600_000_000) <= 6
            # Day 1 warm-up cap 12, day 2 at most 15 (the target): never more than 15 in any 24 h.
            assert max_in_window(theirs, 86_400_000_000) <= 15
            at_gmail = [t for _, i, p, t in sent if i == identity.id and p == "google"]
            assert max_in_window(at_gmail, 3_600_000_000) <= 4
            assert max_in_window(at_gmail, 86_400_000_000) <= 9
