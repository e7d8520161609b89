"""The send-time limiter: every scope's decision for one send, as one atomic set of writes.

Scopes and their documents (compare-and-set, written in the same transaction that moves the job to
`sending`, so no send is ever counted without going out and concurrent senders cannot overshoot):

  GLOBAL LIM#account                   SES MaxSendRate (exact 1 s window), Max24HourSend (rolling 24 h)
  GLOBAL ADMIT#account                 the account's slot chain and DRR deficits (planner; refused sends join)
  T#t    LIM#tenant                    tenant per hour (GCRA), per day (rolling)
  T#t    LIM#ident#<identity>          per minute / hour (GCRA x AIMD), per day (rolling, warm-up cap),
                                       the warm-up ramp and recent outcomes (reputation)
  T#t    LIM#prov#<identity>#<prov>    per hour (GCRA x AIMD), per day (rolling), sender-block pause
  T#t    ROT#<direction>               smooth weighted round-robin scores
  T#t    POLICY                        the tenant's overrides of the defaults (TenantPolicy)

The planner's admission is pacing; this is the hard guarantee.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from outreach_core.domain.models import IdentityStatus, SenderIdentity, Tenant
from outreach_core.policies import aimd, limits, warmup
from outreach_core.policies.config import DAY, HOUR, MINUTE, SendingPolicy, TenantPolicy
from outreach_core.policies.limits import from_micros, micros
from outreach_core.policies.providers import Provider
from outreach_core.policies.rotation import pick_weighted, reputation_score, rotation_weight
from outreach_core.ports import ConditionFailed, Key, Put, StoredItem
from outreach_core.records import GLOBAL, Records
from outreach_core.services.providers import ProviderDirectory

ACCOUNT = "LIM#account"
SLOTS = "ADMIT#account"  # the account's slot chain, booked by the planner
TENANT = "LIM#tenant"
POLICY = "POLICY"
_REP_HALF_AT = 400  # recent outcomes: halve the counters past this many sends (exponential forgetting)
_CAS_ATTEMPTS = 8
_WAIT_SLOTS = 8
_LONG_WAIT_US = 30 * 60 * 1_000_000


def ident_sort(identity_id: str) -> str:
    return f"LIM#ident#{identity_id}"


def prov_sort(identity_id: str, provider: str) -> str:
    return f"LIM#prov#{identity_id}#{provider}"


@dataclass(frozen=True)
class Grant:
    identity: SenderIdentity
    provider: Provider
    taken_us: int
    puts: list[Put]
    sticky: bool  # the follow-up keeps its thread's sender


@dataclass(frozen=True)
class NotYet:
    until: datetime
    reason: str
    marks: list[Put] = field(default_factory=list)  # best effort: "this tenant is competing"


@dataclass
class _Doc:
    partition: str
    sort: str
    data: dict[str, Any]
    version: int

    def put(self, data: dict[str, Any]) -> Put:
        return Put(
            partition=self.partition,
            sort=self.sort,
            data=data,
            expected_version=self.version,
            index_key=None,
            expires_at=None,
        )


@dataclass
class _Candidate:
    identity: SenderIdentity
    ident: _Doc
    prov: _Doc
    new_ident: dict[str, Any] | None
    new_prov: dict[str, Any] | None
    retry_us: int
    reason: str
    weight: float = 0.0


class SendLimiter:
    def __init__(
        self,
        records: Records,
        policy: SendingPolicy | None = None,
        directory: ProviderDirectory | None = None,
    ) -> None:
        self.records = records
        self.policy = policy or SendingPolicy()
        self.directory = directory or ProviderDirectory()
        # Rotation weights by identity, with what they were computed from (see `_weights`).
        self._weights_seen: dict[tuple[str, str], tuple[tuple[Any, ...], StoredItem | None, float]] = {}
        # The effective policy by tenant, with the stored override it was made from (see `policy_for`).
        self._policies: dict[str, tuple[TenantPolicy | None, SendingPolicy]] = {}

    # --- reading ------------------------------------------------------------------------------------

    @staticmethod
    def tenant_keys(tenant_id: str) -> list[Key]:
        """The documents every decision for this tenant reads: what to prefetch."""
        partition = f"T#{tenant_id}"
        return [(partition, POLICY), (partition, TENANT), (GLOBAL, ACCOUNT), (GLOBAL, SLOTS)]

    @staticmethod
    def identity_keys(
        tenant_id: str, identity_ids: Sequence[str], rotation_sort: str, provider: Provider
    ) -> list[Key]:
        """The documents rotation and the identity scopes read for these identities at this provider."""
        partition = f"T#{tenant_id}"
        keys = [(partition, rotation_sort)]
        for identity_id in identity_ids:
            keys += [
                (partition, ident_sort(identity_id)),
                (partition, prov_sort(identity_id, provider.value)),
            ]
        return keys

    def _doc(self, partition: str, sort: str) -> _Doc:
        item: StoredItem | None = self.records.store.get(partition, sort)
        return _Doc(partition, sort, dict(item.data) if item else {}, item.version if item else 0)

    def _tdoc(self, tenant_id: str, sort: str) -> _Doc:
        return self._doc(f"T#{tenant_id}", sort)

    def policy_for(self, tenant_id: str) -> SendingPolicy:
        override = self.records.state_model(TenantPolicy, tenant_id, POLICY)
        seen = self._policies.get(tenant_id)
        if seen is not None and seen[0] is override:  # the same stored policy: the same effective one
            return seen[1]
        effective = self.policy.effective(override)
        self._policies[tenant_id] = (override, effective)
        return effective

    def set_tenant_policy(self, tenant_id: str, policy: TenantPolicy) -> None:
        doc = self._tdoc(tenant_id, POLICY)
        self.records.store.write(doc.put(policy.model_dump(mode="json", exclude_unset=True)))

    def ramp_state(self, tenant_id: str, identity: SenderIdentity, now: datetime) -> dict[str, Any]:
        doc = self._tdoc(tenant_id, ident_sort(identity.id))
        return warmup.ramp(
            doc.data.get("ramp", {}), now.date(), self.policy_for(tenant_id).warmup, identity.daily_cap
        )

    def room(self, tenant_id: str, identity: SenderIdentity, now: datetime, policy: SendingPolicy) -> int:
        """Sends left in the identity's rolling day under today's warm-up cap (the planner's capacity)."""
        doc = self._tdoc(tenant_id, ident_sort(identity.id))
        cap = int(warmup.ramp(doc.data.get("ramp", {}), now.date(), policy.warmup, identity.daily_cap)["cap"])
        used = limits.window_used(
            doc.data.get("day"), micros(now), limits.limit_of(1, DAY), policy.window_buckets
        )
        return max(0, cap - used)

    def room_at(
        self, tenant_id: str, identity: SenderIdentity, at: datetime, policy: SendingPolicy, need: int = 1
    ) -> datetime | None:
        """The first moment at or after `at` when the identity's rolling day has room again (for `need`
        sends) under the warm-up cap of that day (warmup.day_room_at); None if it never will."""
        data = self._tdoc(tenant_id, ident_sort(identity.id)).data
        first = warmup.day_room_at(
            data.get("ramp", {}),
            data.get("day"),
            micros(at),
            policy.warmup,
            identity.daily_cap,
            policy.window_buckets,
            need,
        )
        return from_micros(first) if first is not None else None

    def horizon_room(
        self, tenant_id: str, identity: SenderIdentity, now: datetime, horizon: timedelta
    ) -> int:
        """How many sends this identity's minute and hour windows (under AIMD) let out within the next
        `horizon`: what the planner may book on it per tick."""
        policy = self.policy_for(tenant_id)
        now_us = micros(now)
        data = self._tdoc(tenant_id, ident_sort(identity.id)).data
        factor = aimd.factor_of(data.get("aimd"), policy.aimd, now_us / 1e6)
        room = identity.daily_cap
        per_minute, per_hour = policy.identity.per_minute, policy.identity.per_hour
        if per_minute:
            room = min(
                room, _scaled(per_minute, factor) * max(1, math.ceil(horizon.total_seconds() / MINUTE))
            )
        if per_hour:
            hour = limits.limit_of(per_hour, HOUR)
            used = limits.window_used(data.get("hour"), now_us, hour, policy.window_buckets)
            room = min(room, _scaled(per_hour, factor) - used)
        return max(0, room)

    def provider_room(
        self, tenant_id: str, identity: SenderIdentity, provider: Provider, now: datetime, horizon: timedelta
    ) -> int:
        """Sends this identity may make at this provider within the next `horizon`: what its rolling hour
        and day there still allow under the AIMD factor, and no more than that hourly rate spreads over
        the horizon (a burst booked at once would meet a cut made before it goes out). The planner
        books no more there: more would leave booked account slots empty when the sender refuses."""
        policy = self.policy_for(tenant_id)
        now_us = micros(now)
        data = self._tdoc(tenant_id, prov_sort(identity.id, provider.value)).data
        if int(data.get("paused_until", 0)) > now_us:
            return 0
        plimits = policy.provider(provider)
        room = identity.daily_cap
        factor = aimd.factor_of(data.get("aimd"), policy.aimd, now_us / 1e6)
        if plimits.per_hour:
            allowance = _scaled(plimits.per_hour, factor)
            hour = limits.limit_of(plimits.per_hour, HOUR)
            used = limits.window_used(data.get("hour"), now_us, hour, policy.window_buckets)
            room = min(room, allowance - used, math.ceil(allowance * horizon.total_seconds() / HOUR))
        if plimits.per_day:
            day = limits.limit_of(plimits.per_day, DAY)
            room = min(
                room,
                plimits.per_day - limits.window_used(data.get("day"), now_us, day, policy.window_buckets),
            )
        return max(0, room)

    def provider_room_at(
        self,
        tenant_id: str,
        identity: SenderIdentity,
        provider: Provider,
        at: datetime,
        policy: SendingPolicy,
    ) -> datetime | None:
        """The first moment at or after `at` when this identity may send at this provider again: its
        sender-block pause over and its rolling hour (under the AIMD factor of each instant: a cut rate
        recovers with time) and day there with room; None if never (a daily cap of 0)."""
        if identity.daily_cap <= 0:
            return None
        at_us = micros(at)
        data = self._tdoc(tenant_id, prov_sort(identity.id, provider.value)).data
        plimits = policy.provider(provider)
        moments: list[int | None] = [at_us, int(data.get("paused_until", 0))]
        if plimits.per_hour:
            hour, state, buckets = (
                limits.limit_of(plimits.per_hour, HOUR),
                data.get("aimd"),
                policy.window_buckets,
            )
            per_hour = plimits.per_hour

            def admits(us: int) -> bool:  # under the AIMD factor of that instant (it only recovers)
                cap = _scaled(per_hour, aimd.factor_of(state, policy.aimd, us / 1e6))
                return limits.window(data.get("hour"), us, hour, buckets, cap=cap).allowed

            cap = _scaled(per_hour, aimd.factor_of(state, policy.aimd, at_us / 1e6))
            latest = limits.first_room(data.get("hour"), at_us, hour, buckets, cap)  # at today's factor
            moments.append(limits.earliest(admits, at_us, latest) if latest is not None else None)
        if plimits.per_day:
            day = limits.limit_of(plimits.per_day, DAY)
            moments.append(limits.first_room(data.get("day"), at_us, day, policy.window_buckets))
        # Each window only empties with time: the first moment all of them admit is the latest of theirs.
        known = [m for m in moments if m is not None]
        return from_micros(max(known)) if len(known) == len(moments) else None

    # --- the decision -------------------------------------------------------------------------------

    def acquire(
        self,
        tenant: Tenant,
        identities: Sequence[SenderIdentity],
        rotation_sort: str,
        recipient_domain: str,
        now: datetime,
        sticky: str | None = None,
    ) -> Grant | NotYet | None:
        """Take one send from every scope, or say when to look again. None: no active identity."""
        policy = self.policy_for(tenant.id)
        provider = self.directory.provider(recipient_domain)
        now_us = micros(now)
        active = [i for i in identities if i.status is IdentityStatus.ACTIVE]
        if not active:
            return None
        kept = next((i for i in active if i.id == sticky), None)
        pool = [kept] if kept is not None else active

        tenant_doc = self._tdoc(tenant.id, TENANT)
        tenant_new, tenant_retry = self._tenant_take(tenant, tenant_doc.data, now_us, policy)
        rotation = self._tdoc(tenant.id, rotation_sort)
        candidates: list[_Candidate] = []
        ready: list[_Candidate] = []
        scores: dict[str, float] = {}
        remaining = list(pool) if tenant_new is not None else []
        # Rotation picks first and checks the limits of the one it picked (an identity whose limits
        # refuse drops out and rotation picks again): one identity's windows per send, not all of them.
        while remaining and not ready:
            weights = self._weights(tenant.id, remaining, now_us, now, policy)
            chosen_id, scores = pick_weighted(rotation.data.get("scores", {}), weights)
            identity = next(i for i in remaining if i.id == chosen_id)
            candidate = self._candidate(tenant.id, identity, provider, now_us, now, policy)
            (ready if candidate.new_ident is not None else candidates).append(candidate)
            remaining = [i for i in remaining if i is not identity]
        if tenant_new is None or not ready:
            waits = [c.retry_us for c in candidates] if not ready else []
            until = max([tenant_retry, min(waits)] if waits else [tenant_retry])
            reason = (
                f"tenant quota ({tenant.quotas.hourly}/hour, {tenant.quotas.daily}/day)"
                if tenant_new is None
                else "; ".join(sorted({c.reason for c in candidates}))
            )
            until = max(until, now_us + 1)
            if until - now_us > _LONG_WAIT_US:  # a pause or a full day: nothing to stagger
                return NotYet(from_micros(until), reason)
            # Stagger the tenant's waiters one tenant interval apart (GCRA over its waiting line), a
            # few slots at most, so a backlog does not retry all at once against one freed send.
            interval = limits.interval_us(limits.limit_of(max(1, tenant.quotas.hourly), HOUR))
            wait_tat = int(tenant_doc.data.get("wait_tat", 0))
            wake = max(until, min(wait_tat, until + _WAIT_SLOTS * interval))
            marked = tenant_doc.put({**tenant_doc.data, "wait_tat": max(wait_tat, wake) + interval})
            wake, line = self._join_line(wake, policy)
            return NotYet(from_micros(wake), reason, [marked, *line])

        account = self._doc(GLOBAL, ACCOUNT)
        account_new, account_retry, reason = self._account_take(account.data, now_us, policy)
        if account_new is None:
            wake, line = self._join_line(max(account_retry, now_us + 1), policy)
            return NotYet(from_micros(wake), reason, line)

        [chosen] = ready
        assert chosen.new_ident is not None and chosen.new_prov is not None and tenant_new is not None
        puts = [
            tenant_doc.put(tenant_new),
            account.put(account_new),
            chosen.ident.put(chosen.new_ident),
            chosen.prov.put(chosen.new_prov),
        ]
        if len(pool) > 1 or rotation.data:
            puts.append(rotation.put({"scores": scores}))
        return Grant(chosen.identity, provider, now_us, puts, sticky=kept is not None)

    def _tenant_take(
        self, tenant: Tenant, doc: Mapping[str, Any], now_us: int, policy: SendingPolicy
    ) -> tuple[dict[str, Any] | None, int]:
        hourly, daily = tenant.quotas.hourly, tenant.quotas.daily
        if hourly <= 0 or daily <= 0:
            return None, now_us + int(HOUR * 1e6)
        hour = limits.window(doc.get("hour"), now_us, limits.limit_of(hourly, HOUR), policy.window_buckets)
        day = limits.window(doc.get("day"), now_us, limits.limit_of(daily, DAY), policy.window_buckets)
        if not (hour.allowed and day.allowed):
            return None, max(hour.retry_at_us, day.retry_at_us)
        return {"hour": hour.state, "day": day.state}, now_us

    def _account_take(
        self, doc: Mapping[str, Any], now_us: int, policy: SendingPolicy
    ) -> tuple[dict[str, Any] | None, int, str]:
        account = policy.account
        rate = limits.window(doc.get("rate"), now_us, account.rate, policy.window_buckets)
        day = limits.window(doc.get("day"), now_us, account.day, policy.window_buckets)
        if not (rate.allowed and day.allowed):
            return None, max(rate.retry_at_us, day.retry_at_us), "account send rate"
        return {**doc, "rate": rate.state, "day": day.state}, now_us, ""

    def _join_line(self, until_us: int, policy: SendingPolicy) -> tuple[int, list[Put]]:
        """Where a refused send waits. The planner books the account's slots on one chain (SLOTS); a
        send that would wake inside the booked stretch would take a booked slot and push its owner out,
        who would push the next, and so on. So it takes the first free slot at the chain's end instead,
        and the planner books fewer new sends. Past the booked stretch it simply wakes when it may."""
        chain = self._doc(GLOBAL, SLOTS)
        next_slot = int(chain.data.get("next_slot", 0))
        if until_us >= next_slot:
            return until_us, []
        interval = limits.slot_interval_us(policy.account.rate)
        return next_slot, [chain.put({**chain.data, "next_slot": next_slot + interval})]

    def _weights(
        self,
        tenant_id: str,
        identities: Sequence[SenderIdentity],
        now_us: int,
        now: datetime,
        policy: SendingPolicy,
    ) -> dict[str, float]:
        """Rotation weights: the configured weight times reputation and warm-up headroom."""
        day = limits.limit_of(1, DAY)
        weights: dict[str, float] = {}
        partition = f"T#{tenant_id}"
        # A weight changes only with the identity's document, its settings, the day's oldest bucket
        # (sends leave its rolling day) and the date (the warm-up ramp): kept until one of them does.
        moment = (now.date(), limits.oldest_bucket(now_us, day, policy.window_buckets))
        store = self.records.store
        for identity in identities:
            item = store.get(partition, ident_sort(identity.id))  # read only: no copy
            key = (moment, identity.weight, identity.daily_cap, policy.warmup, policy.window_buckets)
            seen = self._weights_seen.get((tenant_id, identity.id))
            if seen is not None and seen[0] == key and _same(seen[1], item):
                weights[identity.id] = seen[2]
                continue
            data: Mapping[str, Any] = item.data if item else {}
            weights[identity.id] = rotation_weight(
                identity.weight,
                reputation_score(data.get("rep", {})),
                int(limits.window_used(data.get("day"), now_us, day, policy.window_buckets)),
                int(self._ramp(data, now, policy, identity)["cap"]),
            )
            self._weights_seen[(tenant_id, identity.id)] = (key, item, weights[identity.id])
        if not any(w > 0 for w in weights.values()):
            weights = {i.id: i.weight for i in identities}
        return weights

    def _ramp(
        self, data: Mapping[str, Any], now: datetime, policy: SendingPolicy, identity: SenderIdentity
    ) -> dict[str, Any]:
        return warmup.ramp(data.get("ramp", {}), now.date(), policy.warmup, identity.daily_cap)

    def _candidate(
        self,
        tenant_id: str,
        identity: SenderIdentity,
        provider: Provider,
        now_us: int,
        now: datetime,
        policy: SendingPolicy,
    ) -> _Candidate:
        ident = self._tdoc(tenant_id, ident_sort(identity.id))
        prov = self._tdoc(tenant_id, prov_sort(identity.id, provider.value))
        paused = int(prov.data.get("paused_until", 0))
        if paused > now_us:
            return _Candidate(
                identity,
                ident,
                prov,
                None,
                None,
                paused,
                f"identity {identity.id} paused at {provider.value}",
            )
        data, pdata = ident.data, prov.data
        ramp = self._ramp(data, now, policy, identity)
        ifactor = aimd.factor_of(data.get("aimd"), policy.aimd, now_us / 1e6)
        pfactor = aimd.factor_of(pdata.get("aimd"), policy.aimd, now_us / 1e6)
        plimits = policy.provider(provider)
        checks: list[tuple[str, str, limits.Decision, int]] = []
        buckets = policy.window_buckets
        per_minute, per_hour = policy.identity.per_minute, policy.identity.per_hour
        # Rolling windows at the sender (the hard bound); the planner's GCRA slot chain does the spacing.
        if per_minute:
            minute = limits.limit_of(per_minute, MINUTE)
            cap = _scaled(per_minute, ifactor)
            decision = limits.window(data.get("minute"), now_us, minute, buckets, cap=cap)
            checks.append(("i", "minute", decision, cap))
        if per_hour:
            hour = limits.limit_of(per_hour, HOUR)
            cap = _scaled(per_hour, ifactor)
            checks.append(("i", "hour", limits.window(data.get("hour"), now_us, hour, buckets, cap=cap), cap))
        day = limits.limit_of(max(1, identity.daily_cap), DAY)
        cap = int(ramp["cap"])
        checks.append(("i", "day", limits.window(data.get("day"), now_us, day, buckets, cap=cap), cap))
        if plimits.per_hour:
            hour = limits.limit_of(plimits.per_hour, HOUR)
            cap = _scaled(plimits.per_hour, pfactor)
            checks.append(
                ("p", "hour", limits.window(pdata.get("hour"), now_us, hour, buckets, cap=cap), cap)
            )
        if plimits.per_day:
            day = limits.limit_of(plimits.per_day, DAY)
            checks.append(
                ("p", "day", limits.window(pdata.get("day"), now_us, day, buckets), plimits.per_day)
            )
        denied = [(s, k, d, c) for s, k, d, c in checks if not d.allowed]
        if denied:
            scope, kind, _, cap = max(denied, key=lambda x: x[2].retry_at_us)
            where = _limit_reason(identity, provider, scope, kind, cap, ifactor if scope == "i" else pfactor)
            return _Candidate(
                identity, ident, prov, None, None, max(d.retry_at_us for _, _, d, _ in denied), where
            )
        new_ident = {**data, **{k: d.state for s, k, d, _ in checks if s == "i"}}
        new_ident["ramp"] = {**ramp, "stats": _bump(ramp.get("stats", {}), "sent")}
        new_ident["rep"] = _decay(_bump(data.get("rep", {}), "sent"))
        new_prov = {**pdata, **{k: d.state for s, k, d, _ in checks if s == "p"}}
        return _Candidate(identity, ident, prov, new_ident, new_prov, now_us, "")

    # --- after the fact -----------------------------------------------------------------------------

    def release(self, tenant_id: str, grant: Grant) -> None:
        """The provider did not accept the message: give back the daily counts it took (the spacing
        stays spent: going slower after a refusal is what we want anyway)."""
        policy = self.policy_for(tenant_id)
        day = limits.limit_of(1, DAY)

        def undo(data: dict[str, Any]) -> dict[str, Any]:
            return {
                **data,
                "day": limits.window_undo(data.get("day"), grant.taken_us, day, policy.window_buckets),
            }

        for partition, sort in (
            (f"T#{tenant_id}", TENANT),
            (GLOBAL, ACCOUNT),
            (f"T#{tenant_id}", ident_sort(grant.identity.id)),
            (f"T#{tenant_id}", prov_sort(grant.identity.id, grant.provider.value)),
        ):
            self._update(partition, sort, undo)

    def record(
        self, tenant_id: str, identity_id: str, provider: Provider | None, outcome: str, now: datetime
    ) -> list[str]:
        """An outcome for the warm-up day and the reputation score. A deferral also cuts one rate (AIMD):
        the identity's at that provider when the provider is known (Gmail's 4.7.28 says nothing about
        our mail to Outlook), the identity's own rate when it is not ("other"). Never both: one reply,
        one cut. Returns the scopes whose rate was cut."""
        policy = self.policy_for(tenant_id)
        cuts: list[str] = []
        now_s = micros(now) / 1e6

        def ident_change(data: dict[str, Any]) -> dict[str, Any]:
            new = {**data, "rep": _bump(data.get("rep", {}), outcome)}
            day = data.get("ramp") or {}
            if day.get("day") == now.date().isoformat():  # counts toward today's warm-up verdict
                new["ramp"] = {**day, "stats": _bump(day.get("stats", {}), outcome)}
            if outcome == "deferred" and (provider is None or provider is Provider.OTHER):
                new["aimd"], done = aimd.cut(data.get("aimd"), now_s, policy.aimd)
                if done:
                    cuts.append(f"identity {identity_id}")
            return new

        self._update(f"T#{tenant_id}", ident_sort(identity_id), ident_change)
        if outcome == "deferred" and provider is not None and provider is not Provider.OTHER:

            def prov_change(data: dict[str, Any]) -> dict[str, Any]:
                state, done = aimd.cut(data.get("aimd"), now_s, policy.aimd)
                if done:
                    cuts.append(f"{identity_id} at {provider.value}")
                return {**data, "aimd": state}

            self._update(f"T#{tenant_id}", prov_sort(identity_id, provider.value), prov_change)
        return cuts

    def pause_provider(
        self, tenant_id: str, identity_id: str, provider: Provider, now: datetime, reason: str
    ) -> datetime | None:
        """Pause one identity at one provider (a sender block): until when, or None if it already was."""
        policy = self.policy_for(tenant_id)
        until = micros(now) + int(policy.provider(provider).block_pause_s * 1e6)
        changed: list[bool] = []

        def change(data: dict[str, Any]) -> dict[str, Any]:
            if int(data.get("paused_until", 0)) > micros(now):
                return data
            changed.append(True)
            return {**data, "paused_until": until, "reason": reason[:300]}

        self._update(f"T#{tenant_id}", prov_sort(identity_id, provider.value), change)
        return from_micros(until) if changed else None

    def lift_provider_pause(self, tenant_id: str, identity_id: str, provider: Provider) -> bool:
        """End a sender-block pause at one provider now (an operator's decision). False if none."""
        lifted: list[bool] = []

        def change(data: dict[str, Any]) -> dict[str, Any]:
            if "paused_until" not in data:
                return data
            lifted.append(True)
            return {k: v for k, v in data.items() if k not in ("paused_until", "reason")}

        self._update(f"T#{tenant_id}", prov_sort(identity_id, provider.value), change)
        return bool(lifted)

    def provider_state(self, tenant_id: str, identity_id: str) -> list[tuple[str, dict[str, Any]]]:
        prefix = f"LIM#prov#{identity_id}#"
        return [
            (i.sort.removeprefix(prefix), dict(i.data))
            for i in self.records.store.query(f"T#{tenant_id}", prefix)
        ]

    def identity_state(self, tenant_id: str, identity_id: str) -> dict[str, Any]:
        return self._tdoc(tenant_id, ident_sort(identity_id)).data

    def _update(self, partition: str, sort: str, change: Any) -> None:
        for _ in range(_CAS_ATTEMPTS):
            doc = self._doc(partition, sort)
            new = change(doc.data)
            if new == doc.data:
                return
            try:
                self.records.store.write(doc.put(new))
                return
            except ConditionFailed:
                continue
        raise ConditionFailed(partition, sort)


def _same(seen: StoredItem | None, item: StoredItem | None) -> bool:
    """The same stored document as before: the very item read then, or one with its version and etag."""
    if seen is None or item is None:
        return seen is item
    return seen is item or (item.etag is not None and item.etag == seen.etag and item.version == seen.version)


def _limit_reason(
    identity: SenderIdentity, provider: Provider, scope: str, kind: str, cap: int, factor: float
) -> str:
    """Which limit holds a send back, with its numbers: what `leads show` and `jobs list` print."""
    where = f"identity {identity.id}" if scope == "i" else f"identity {identity.id} at {provider.value}"
    text = f"{where}: {cap} per {kind} used"
    if scope == "i" and kind == "day" and cap < identity.daily_cap:
        text += f" (warm-up cap today; daily cap {identity.daily_cap})"
    if factor < 1.0:
        text += f" (rate cut to {factor:.0%} after deferrals)"
    return text


def _scaled(count: int, factor: float) -> int:
    """An allowance under an AIMD factor: never above the limit, never below one send."""
    return max(1, int(count * factor))


def _bump(counts: Mapping[str, Any], key: str) -> dict[str, Any]:
    out = dict(counts)
    out[key] = int(out.get(key, 0)) + 1
    return out


def _decay(counts: dict[str, Any]) -> dict[str, Any]:
    if int(counts.get("sent", 0)) <= _REP_HALF_AT:
        return counts
    return {k: int(v) // 2 for k, v in counts.items()}
