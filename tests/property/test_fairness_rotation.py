"""Property tests: fair shares, smooth weighted rotation, blocked identities, the AIMD ceiling."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from outreach_core.policies.aimd import AimdConfig, cut, factor_of
from outreach_core.policies.fairshare import drr_allocate, jain_index
from outreach_core.policies.rotation import pick_weighted
from outreach_core.services.planner import interleave

tenant_names = st.lists(st.sampled_from("abcdefg"), min_size=2, max_size=6, unique=True)


@given(tenant_names, st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=30))
def test_drr_equal_weights_get_equal_shares_within_one(tenants: list[str], capacities: list[int]) -> None:
    deficits: dict[str, float] = {}
    last = ""
    totals = Counter[str]()
    for capacity in capacities:  # every tenant always has more work than the capacity
        alloc, deficits, last = drr_allocate(
            capacity, dict.fromkeys(tenants, 10_000), dict.fromkeys(tenants, 1.0), deficits, last
        )
        assert sum(alloc.values()) == capacity
        totals.update(alloc)
        shares = [totals[t] for t in tenants]
        assert max(shares) - min(shares) <= 1


@given(st.dictionaries(st.sampled_from("abcde"), st.integers(min_value=0, max_value=40), min_size=2))
def test_drr_idle_share_flows_to_the_others(demands: dict[str, int]) -> None:
    capacity = 30
    alloc, _, _ = drr_allocate(capacity, demands, dict.fromkeys(demands, 1.0), {})
    assert all(alloc[t] <= demands[t] for t in demands)
    assert sum(alloc.values()) == min(capacity, sum(demands.values()))  # nothing wasted while work waits


@given(st.dictionaries(st.sampled_from("abcd"), st.integers(min_value=1, max_value=4), min_size=2))
def test_drr_weighted_shares_follow_weights_within_one_round(weights: dict[str, int]) -> None:
    alloc, _, _ = drr_allocate(
        sum(weights.values()) * 7,
        dict.fromkeys(weights, 10_000),
        {k: float(w) for k, w in weights.items()},
        {},
    )
    for tenant, weight in weights.items():
        assert abs(alloc[tenant] - 7 * weight) <= weight


@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(min_value=0, max_value=60), min_size=1))
def test_slot_order_spreads_each_tenant_evenly(shares: dict[str, int]) -> None:
    """The order of the account's slots: equal shares stay within one message of each other at every
    point; unequal ones within two of their proportional part (no tenant's whole share comes first)."""
    order = interleave(shares)
    assert Counter(order) == Counter({t: n for t, n in shares.items() if n})
    total = len(order)
    seen = Counter[str]()
    for index, tenant in enumerate(order, start=1):
        seen[tenant] += 1
        for name, n in shares.items():
            assert abs(seen[name] - n * index / total) < 2
        if len({n for n in shares.values() if n}) == 1:
            counts = [seen[t] for t, n in shares.items() if n]
            assert max(counts) - min(counts) <= 1


def test_jain_index_bounds() -> None:
    assert jain_index([5, 5, 5]) == 1.0
    assert abs(jain_index([9, 0, 0]) - 1 / 3) < 1e-9


@given(
    st.dictionaries(st.sampled_from("pqrstu"), st.integers(min_value=0, max_value=6), min_size=1),
    st.integers(min_value=1, max_value=5),
)
def test_rotation_follows_weights_within_one_per_cycle(weights: dict[str, int], cycles: int) -> None:
    scores: dict[str, float] = {}
    picks = Counter[str]()
    total = sum(weights.values())
    for n in range(1, total * cycles + 1):
        chosen, scores = pick_weighted(scores, {k: float(w) for k, w in weights.items()})
        if total == 0:
            assert chosen is None
            return
        assert chosen is not None
        assert weights[chosen] > 0  # a blocked (weight 0) identity is never picked
        picks[chosen] += 1
        for ident, weight in weights.items():
            assert abs(picks[ident] - n * weight / total) < 1 + 1e-9
    assert all(picks[k] == w * cycles for k, w in weights.items())


@given(
    st.lists(st.tuples(st.booleans(), st.floats(min_value=0, max_value=10_000)), max_size=200),
    st.floats(min_value=0.1, max_value=1.0),
)
def test_aimd_never_exceeds_its_ceiling_nor_falls_below_its_floor(
    signals: list[tuple[bool, float]], ceiling: float
) -> None:
    config = AimdConfig(ceiling=ceiling, floor=min(0.05, ceiling))
    state: dict[str, object] | None = None
    now = 0.0
    for deferred, gap in signals:
        now += gap
        before = factor_of(state, config, now)
        if deferred:
            state, done = cut(state, now, config)
            if done:  # a cut halves (down to the floor), never raises
                assert factor_of(state, config, now) <= max(config.floor, before) + 1e-9
        assert config.floor - 1e-9 <= factor_of(state, config, now) <= config.ceiling + 1e-9
        assert float((state or {}).get("factor", config.ceiling)) <= config.ceiling + 1e-9
