"""Fair share of the account's sending rate between tenants. See docs/adr/0201.

- `drr_allocate` (planner): deficit round-robin. Each round every tenant with demand earns
  `weight` credits and spends whole ones; a tenant without demand keeps no credit, so an idle
  tenant's share flows to the others. The round starts after the tenant served last, so remainders
  rotate instead of always favouring the same tenant.
The planner then interleaves the tenants' slots on the account's slot chain (services.planner), and
a send the sender must refuse joins the end of that chain (services.limiter), so the sender keeps the
order the planner chose instead of letting retries jump the line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


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


def jain_index(values: Mapping[str, float] | list[float]) -> float:
    """Jain's fairness index: 1.0 when all are equal, 1/n when one takes everything."""
    xs = list(values.values()) if isinstance(values, Mapping) else list(values)
    if not xs or not any(xs):
        return 1.0
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))
