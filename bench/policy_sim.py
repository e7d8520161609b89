"""A policy-level simulation: the real SendLimiter (limits, fair share, warm-up, rotation, MX
providers) on an in-memory store, driven by an event heap of send attempts in virtual time.

What is simulated: the sender's decision for every attempt (every scope's compare-and-set document
is read, decided on and written exactly as in production) and "not yet" retries at the time the
limiter names. What is not: the queue, rendering, the provider call, feedback events, the planner
(arrivals come at a fixed pace instead). Violations are measured from the accepted sends afterwards.
"""

from __future__ import annotations

import contextlib
import heapq
import random
import time
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from outreach_core.domain.models import Quotas, SenderIdentity, Tenant
from outreach_core.policies.config import AccountLimits, IdentityLimits, SendingPolicy
from outreach_core.policies.fairshare import jain_index
from outreach_core.policies.limits import micros
from outreach_core.policies.providers import Provider, ProviderLimits
from outreach_core.policies.warmup import WarmupPlan
from outreach_core.ports import ConditionFailed, Delete, Put, StoredItem
from outreach_core.records import Records
from outreach_core.services.limiter import Grant, SendLimiter

START = datetime(2026, 1, 5, tzinfo=UTC)
DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "mail.ru", "yandex.ru", "corp-a.com", "corp-b.de")


class DictStore:
    """The StateStore contract in a dict, with compare-and-set; no copies, no validation."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], StoredItem] = {}

    def get(self, partition: str, sort: str) -> StoredItem | None:
        return self.items.get((partition, sort))

    def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredItem]:
        return {key: self.items[key] for key in keys if key in self.items}

    def query(self, partition: str, prefix: str, **_: Any) -> list[StoredItem]:
        return [v for (p, s), v in sorted(self.items.items()) if p == partition and s.startswith(prefix)]

    def find(self, index_key: str) -> list[StoredItem]:
        return []

    def write(self, *operations: Put | Delete) -> None:
        for op in operations:
            current = self.items.get((op.partition, op.sort))
            if op.expected_version is not None and op.expected_version != (current.version if current else 0):
                raise ConditionFailed(op.partition, op.sort)
        for op in operations:
            current = self.items.get((op.partition, op.sort))
            self.items[(op.partition, op.sort)] = StoredItem(
                partition=op.partition,
                sort=op.sort,
                data=op.data,
                version=(current.version if current else 0) + 1,
                index_key=None,
                expires_at=None,
            )

    def write_many(self, groups: Sequence[Sequence[Put | Delete]]) -> list[ConditionFailed | None]:
        results: list[ConditionFailed | None] = []
        for group in groups:
            try:
                self.write(*group)
            except ConditionFailed as exc:
                results.append(exc)
            else:
                results.append(None)
        return results


@dataclass
class SimResult:
    attempts: int = 0
    sends: dict[str, array[int]] = field(default_factory=dict)  # per tenant: its send times (us)
    wall_s: float = 0.0

    def figures(self, tenants: Sequence[Tenant], policy: SendingPolicy) -> dict[str, Any]:
        from entrypoints.simulate import max_in_window

        hour, day = 3_600_000_000, 86_400_000_000
        times = sorted(t for mine in self.sends.values() for t in mine)
        rate = policy.account.rate
        violations = max(0, max_in_window(times, rate.period_us) - int(rate.count))
        violations += max(0, max_in_window(times, day) - policy.account.max_24h_send)
        for tenant in tenants:
            mine = list(self.sends.get(tenant.id, ()))
            violations += max(0, max_in_window(mine, hour) - tenant.quotas.hourly)
            violations += max(0, max_in_window(mine, day) - tenant.quotas.daily)
        span = (times[-1] - times[0]) / 1e6 if times else 0
        counts = Counter({who: len(mine) for who, mine in self.sends.items()})
        return {
            "sends": len(times),
            "attempts": self.attempts,
            "violations": violations,
            "virtual_days": round(span / 86400, 2),
            "jain_index": round(jain_index({t.id: counts[t.id] / t.weight for t in tenants}), 4),
            "wall_seconds": round(self.wall_s, 2),
            "attempts_per_s": round(self.attempts / self.wall_s) if self.wall_s else None,
        }


def world(
    tenants: int,
    identities: int,
    *,
    rate: float,
    day_quota: int,
    tenant_hourly: int,
    tenant_daily: int,
    ident_daily: int,
    warmup: bool,
) -> tuple[SendLimiter, list[Tenant], dict[str, list[SenderIdentity]], SendingPolicy]:
    policy = SendingPolicy(
        account=AccountLimits(max_send_rate=rate, max_24h_send=day_quota),
        identity=IdentityLimits(per_minute=3000, per_hour=100_000),
        providers={p: ProviderLimits(per_hour=50_000, per_day=None) for p in Provider},
        warmup=WarmupPlan(enabled=warmup),
    )
    limiter = SendLimiter(Records(DictStore()), policy)  # type: ignore[arg-type]
    made = [
        Tenant(
            id=f"t{n}",
            name=f"t{n}",
            postal_address="1 Bench Street",
            quotas=Quotas(hourly=tenant_hourly, daily=tenant_daily),
            created_at=START,
        )
        for n in range(tenants)
    ]
    idents = {
        t.id: [
            SenderIdentity(
                tenant_id=t.id, id=f"i{k}", email=f"i{k}@{t.id}.com", daily_cap=ident_daily, created_at=START
            )
            for k in range(identities)
        ]
        for t in made
    }
    return limiter, made, idents, policy


def run(
    limiter: SendLimiter,
    tenants: Sequence[Tenant],
    identities: dict[str, list[SenderIdentity]],
    per_tenant: int,
    spacing_s: float,
    seed: int = 1,
) -> SimResult:
    """Each tenant's messages arrive `spacing_s` apart (jittered); refusals retry when told.

    Arrivals are generated per tenant as they are due (merged in time order), and only refused
    attempts wait in a heap: a million pending arrivals are never held."""
    origin = micros(START)

    def arrivals(tenant: Tenant) -> Iterator[tuple[int, int, str, str]]:
        rng = random.Random(f"{seed}/{tenant.id}")
        at = origin
        for n in range(per_tenant):
            at += int(spacing_s * 1e6 * (0.9 + 0.2 * rng.random()))
            yield at, n, tenant.id, DOMAINS[(n * 7 + len(tenant.id)) % len(DOMAINS)]

    upcoming = heapq.merge(*(arrivals(t) for t in tenants))
    retries: list[tuple[int, int, str, str]] = []
    by_id = {t.id: t for t in tenants}
    result = SimResult(sends={t.id: array("q") for t in tenants})
    store = limiter.records.store
    started = time.perf_counter()
    arrival = next(upcoming, None)
    while arrival is not None or retries:
        if retries and (arrival is None or retries[0] < arrival):
            at, n, tenant_id, domain = heapq.heappop(retries)
        else:
            assert arrival is not None
            at, n, tenant_id, domain = arrival
            arrival = next(upcoming, None)
        now = START + timedelta(microseconds=at - origin)
        result.attempts += 1
        decision = limiter.acquire(by_id[tenant_id], identities[tenant_id], "ROT#d", domain, now)
        if isinstance(decision, Grant):
            try:
                store.write(*decision.puts)
            except ConditionFailed:
                heapq.heappush(retries, (at + 1, n, tenant_id, domain))
                continue
            result.sends[tenant_id].append(at)
        elif decision is not None:
            for mark in decision.marks:
                with contextlib.suppress(ConditionFailed):
                    store.write(mark)
            heapq.heappush(retries, (max(at + 1, micros(decision.until)), n, tenant_id, domain))
    result.wall_s = time.perf_counter() - started
    return result
