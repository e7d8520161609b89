"""Property tests: "when does this have room again", as the planner asks it to refile a due step, names
a moment the limiter grants (never too early: the step is not read again for nothing), and, where
nothing but time changes the answer, no earlier moment at which it would grant (never too late: no
room goes unused)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from outreach_core.domain.models import Quotas, SenderIdentity, Tenant
from outreach_core.policies import limits, warmup
from outreach_core.policies.config import AccountLimits, IdentityLimits, SendingPolicy
from outreach_core.policies.limits import Limit, from_micros, micros
from outreach_core.policies.providers import Provider, ProviderLimits
from outreach_core.policies.warmup import WarmupPlan
from outreach_core.records import Records
from outreach_core.services.limiter import Grant, NotYet, SendLimiter
from tests.fakes import T0, InMemoryStateStore

HOUR_US, DAY_US = 3_600_000_000, 86_400_000_000
arrivals = st.lists(st.integers(min_value=0, max_value=3 * DAY_US), min_size=0, max_size=120)
# How long after the last send the question is asked: mostly soon (the window still full), sometimes late.
waits = st.one_of(
    st.integers(min_value=0, max_value=6 * HOUR_US), st.integers(min_value=0, max_value=2 * DAY_US)
)


def _admit(times: list[int], limit: Limit, buckets: int, cap: int | None) -> object:
    state = None
    for now in sorted(times):
        decision = limits.window(state, now, limit, buckets, cap)
        if decision.allowed:
            state = decision.state
    return state


@given(
    arrivals,
    st.integers(min_value=1, max_value=30),
    st.sampled_from([60, 3600, 86_400]),
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=0, max_value=30),
    waits,
    st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), max_size=5),
)
def test_first_room_is_the_first_moment_the_window_admits(
    times: list[int], count: int, period_s: int, buckets: int, cap: int, wait: int, samples: list[float]
) -> None:
    limit = Limit(count=count, period_s=period_s)
    state = _admit(times, limit, buckets, cap)
    now = max(times, default=0) + wait
    first = limits.first_room(state, now, limit, buckets, cap)
    if cap <= 0:
        assert first is None
        return
    assert first is not None and first >= now
    assert limits.window(state, first, limit, buckets, cap).allowed
    if first > now:
        earlier = [first - 1, now, *(now + int(f * (first - now)) for f in samples)]
        assert not any(limits.window(state, m, limit, buckets, cap).allowed for m in earlier)


def _day_only_limiter(plan: WarmupPlan) -> SendLimiter:
    """A limiter whose only binding scope is the identity's rolling day under its warm-up cap."""
    policy = SendingPolicy(
        account=AccountLimits(max_send_rate=1000, max_24h_send=1_000_000),
        identity=IdentityLimits(per_minute=None, per_hour=None),
        providers={p: ProviderLimits(per_hour=None) for p in Provider},
        warmup=plan,
    )
    return SendLimiter(Records(InMemoryStateStore()), policy)


def _tenant() -> Tenant:
    return Tenant(
        id="t",
        name="t",
        postal_address="1 Main Street",
        quotas=Quotas(daily=10**6, hourly=10**6),
        created_at=T0,
    )


def _grants(limiter: SendLimiter, tenant: Tenant, identity: SenderIdentity, us: int, domain: str) -> bool:
    decision = limiter.acquire(tenant, [identity], "ROT#d", domain, from_micros(micros(T0) + us))
    assert isinstance(decision, Grant | NotYet)
    return isinstance(decision, Grant)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3 * DAY_US), st.sampled_from(["sent", "sent", "bounced"])
        ),
        max_size=60,
    ),
    st.integers(min_value=0, max_value=40),  # the identity's daily cap (the ramp's target)
    st.integers(min_value=1, max_value=12),  # warm-up start
    st.sampled_from([1.0, 1.2, 2.0]),
    st.booleans(),  # warm-up on
    waits,
    st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), max_size=5),
)
def test_an_identitys_day_room_comes_back_exactly_when_the_limiter_grants_again(
    events: list[tuple[int, str]],
    target: int,
    start: int,
    growth: float,
    enabled: bool,
    wait: int,
    samples: list[float],
) -> None:
    plan = WarmupPlan(enabled=enabled, start=start, growth=growth, min_sample=3)
    limiter = _day_only_limiter(plan)
    tenant = _tenant()
    identity = SenderIdentity(tenant_id="t", id="i", email="s@t.com", daily_cap=target, created_at=T0)
    for us, outcome in sorted(events):
        at = from_micros(micros(T0) + us)
        decision = limiter.acquire(tenant, [identity], "ROT#d", "corp.example", at)
        if isinstance(decision, Grant):
            limiter.records.store.write(*decision.puts)
            if outcome == "bounced":  # a bad day holds the ramp: the next day's cap stays
                limiter.record("t", "i", None, "bounced", at)
    now = max((us for us, _ in events), default=0) + wait
    named = limiter.room_at("t", identity, from_micros(micros(T0) + now), limiter.policy)
    if named is None:
        assert target == 0
        assert not any(_grants(limiter, tenant, identity, now + d * DAY_US, "corp.example") for d in range(4))
        return
    first = micros(named) - micros(T0)
    assert first >= now
    assert _grants(limiter, tenant, identity, first, "corp.example")  # never too early
    if first > now:  # and never too late: no moment before it grants
        earlier = [first - 1, now, *(now + int(f * (first - now)) for f in samples)]
        midnights = range((micros(T0) + now) // DAY_US + 1, (micros(T0) + first) // DAY_US + 1)
        earlier += [m * DAY_US - micros(T0) for m in midnights if m * DAY_US - micros(T0) < first]
        assert not any(_grants(limiter, tenant, identity, m, "corp.example") for m in earlier)


@given(
    st.dictionaries(
        st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=5), max_size=20
    ),
    st.integers(min_value=0, max_value=500),
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=0, max_value=3 * DAY_US),
)
def test_day_room_at_never_names_a_moment_before_now_and_the_window_admits_then(
    buckets_used: dict[int, int], target: int, start: int, now_offset: int
) -> None:
    plan = WarmupPlan(start=start)
    now = micros(T0) + now_offset
    width = DAY_US // 48
    counts = {str(now // width - k): v for k, v in buckets_used.items()}
    first = warmup.day_room_at({}, counts, now, plan, target)
    if target == 0:
        assert first is None
        return
    assert first is not None and first >= now
    cap = int(warmup.ramp({}, from_micros(first).date(), plan, target)["cap"])
    assert limits.window(counts, first, Limit(count=max(1, target), period_s=86_400), cap=cap).allowed


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=DAY_US),
            st.sampled_from(["sent", "sent", "sent", "deferred", "block"]),
        ),
        max_size=60,
    ),
    st.integers(min_value=1, max_value=12),  # per hour at Gmail
    st.one_of(st.none(), st.integers(min_value=1, max_value=30)),  # per day at Gmail
    waits,
    st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), max_size=5),
)
def test_a_providers_room_comes_back_no_earlier_than_the_limiter_grants(
    events: list[tuple[int, str]],
    per_hour: int,
    per_day: int | None,
    wait: int,
    samples: list[float],
) -> None:
    policy = SendingPolicy(
        account=AccountLimits(max_send_rate=1000, max_24h_send=1_000_000),
        identity=IdentityLimits(per_minute=None, per_hour=None),
        providers={
            Provider.GOOGLE: ProviderLimits(per_hour=per_hour, per_day=per_day, block_pause_s=3 * 3600),
            Provider.OTHER: ProviderLimits(per_hour=None),
        },
        warmup=WarmupPlan(enabled=False),
    )
    limiter = SendLimiter(Records(InMemoryStateStore()), policy)
    tenant = _tenant()
    identity = SenderIdentity(tenant_id="t", id="i", email="s@t.com", daily_cap=1000, created_at=T0)
    for us, outcome in sorted(events):
        at = from_micros(micros(T0) + us)
        if outcome == "block":  # a sender block pauses the identity at Gmail
            limiter.pause_provider("t", "i", Provider.GOOGLE, at, "blocked")
            continue
        decision = limiter.acquire(tenant, [identity], "ROT#d", "gmail.com", at)
        if isinstance(decision, Grant):
            limiter.records.store.write(*decision.puts)
            if outcome == "deferred":  # cuts the rate at Gmail (AIMD), which recovers with time
                limiter.record("t", "i", Provider.GOOGLE, "deferred", at)
    now = max((us for us, _ in events), default=0) + wait
    named = limiter.provider_room_at("t", identity, Provider.GOOGLE, from_micros(micros(T0) + now), policy)
    assert named is not None
    first = micros(named) - micros(T0)
    assert first >= now
    assert _grants(limiter, tenant, identity, first, "gmail.com")  # never too early
    # Never too late either: no earlier moment grants, though a cut rate recovers meanwhile.
    if first > now:
        earlier = [first - 1, now, *(now + int(f * (first - now)) for f in samples)]
        assert not any(_grants(limiter, tenant, identity, m, "gmail.com") for m in earlier)


def test_a_provider_pause_is_waited_out() -> None:
    policy = SendingPolicy(warmup=WarmupPlan(enabled=False))
    limiter = SendLimiter(Records(InMemoryStateStore()), policy)
    identity = SenderIdentity(tenant_id="t", id="i", email="s@t.com", daily_cap=10, created_at=T0)
    until = limiter.pause_provider("t", "i", Provider.YAHOO, T0, "blocked")
    assert until is not None
    assert limiter.provider_room_at("t", identity, Provider.YAHOO, T0, policy) == until
    assert limiter.provider_room_at("t", identity, Provider.GOOGLE, T0, policy) == T0
    assert limiter.provider_room_at("t", identity, Provider.YAHOO, until + timedelta(hours=1), policy) == (
        until + timedelta(hours=1)
    )
