"""Fair share of the account's sending rate between tenants. See docs/adr/0201.

Two pure pieces, one per place that hands out capacity:

- `drr_allocate` (planner): deficit round-robin. Each round every tenant with demand earns
  `weight` credits and spends whole ones; a tenant without demand keeps no credit, so an idle
  tenant's share flows to the others. The round starts after the tenant served last, so remainders
  rotate instead of always favouring the same tenant.
- `fair_gate` (sender): start-time fair queueing on one tag per tenant. A tenant may take the
  account's next slot only if its tag (sends / weight) is not ahead of the least-served tenant that
  asked recently; taking a slot adds 1 / weight. A tenant that stopped asking drops out of the set
  and rejoins at the current minimum, so it cannot save up a burst.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


def drr_allocate(
    capacity: int,
    demands: Mapping[str, int],
    weights: Mapping[str, float],
    deficits: Mapping[str, float],
    start_after: str = "",
) -> tuple[dict[str, int], dict[str, float], str]:
    """Split `capacity` sends among tenants; returns (allocation, deficits, last tenant served)."""
    order = sorted(t for t, d in demands.items() if d > 0)
    alloc = dict.fromkeys(demands, 0)
    credit = {t: float(deficits.get(t, 0.0)) for t in order}
    if not order or capacity <= 0:
        return alloc, {t: c for t, c in credit.items() if c > 0}, start_after
    # Rotate so the first tenant after the last one served goes first.
    pivot = next((i for i, t in enumerate(order) if t > start_after), 0)
    order = order[pivot:] + order[:pivot]
    left = capacity
    last = start_after
    while left > 0:
        active = [t for t in order if alloc[t] < demands[t]]
        if not active:
            break
        for tenant in active:
            if left <= 0:
                break
            credit[tenant] += weights.get(tenant, 1.0)
            give = min(math.floor(credit[tenant] + 1e-9), demands[tenant] - alloc[tenant], left)
            if give > 0:
                alloc[tenant] += give
                credit[tenant] -= give
                left -= give
                last = tenant
            if alloc[tenant] >= demands[tenant]:
                credit[tenant] = 0.0  # no demand left: keep no credit
    return alloc, {t: round(c, 9) for t, c in credit.items() if c > 0}, last


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    tags: dict[str, list[float]]  # tenant -> [finish tag, last asked (epoch us)]; "*" -> [virtual time, 0]


_VT = "*"


def fair_gate(
    tags: Mapping[str, list[float]],
    tenant: str,
    weight: float,
    now_us: int,
    active_us: int,
    *,
    take: bool,
) -> GateDecision:
    """May `tenant` take the next slot? With take=True and allowed, its tag advances by 1 / weight.

    Start-time fair queueing: each tenant's tag is where its next send would start in "virtual time"
    (sends / weight); a slot goes to a tenant whose tag is not ahead of any other competing tenant's.
    The virtual time is the start tag of the send served last. A tenant that was not competing joins
    at the virtual time, neither behind it (no saved-up credit) nor ahead. Whether allowed or not, the
    tenant is marked as asking now: it competes, and others must leave it its turn.
    """
    vt = float(tags[_VT][0]) if _VT in tags else 0.0
    live = {
        t: [float(v[0]), float(v[1])]
        for t, v in tags.items()
        if t not in (_VT, tenant) and now_us - v[1] <= active_us
    }
    mine = tags.get(tenant)
    tag = float(mine[0]) if mine is not None and now_us - mine[1] <= active_us else vt
    tag = max(tag, vt)
    floor = min((v[0] for v in live.values()), default=None)
    allowed = floor is None or tag <= floor + 1e-9
    if allowed and take:
        vt = tag
        tag += 1.0 / weight
    live[tenant] = [round(tag, 9), float(now_us)]
    live[_VT] = [round(vt, 9), 0.0]
    return GateDecision(allowed, live)


def jain_index(values: Mapping[str, float] | list[float]) -> float:
    """Jain's fairness index: 1.0 when all are equal, 1/n when one takes everything."""
    xs = list(values.values()) if isinstance(values, Mapping) else list(values)
    if not xs or not any(xs):
        return 1.0
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))
