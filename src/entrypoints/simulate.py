"""`outreach simulate SCENARIO`: a scenario file run through the local stack in virtual time.

The world (tenants, weights, identities, leads per domain, outcome rates, faults) comes from a TOML
file in scenarios/. The figures are measured from what the simulated provider received (its ledger)
and from the audit log, never from the limiter's own state: a limiter bug shows up as a violation.
"""

from __future__ import annotations

import tempfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dependency_injector import providers
from pydantic import BaseModel, ConfigDict, Field

from adapters.clock import VirtualClock
from adapters.dns_mx import StaticMxResolver
from adapters.simulated_ses import Fault, LedgerEntry, OutcomeRates, SimulatedSesMailer, SimulatorProfile
from entrypoints.container import build
from entrypoints.settings import Settings
from entrypoints.worker import LocalWorker, WorkerStats
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import CampaignStep, Quotas
from outreach_core.domain.window import SendWindow
from outreach_core.policies.config import TenantPolicy
from outreach_core.policies.fairshare import jain_index
from outreach_core.policies.limits import micros
from outreach_core.policies.providers import Provider
from outreach_core.ports import Alert
from outreach_core.records import Records
from outreach_core.services.providers import ProviderDirectory

STEP = timedelta(minutes=1)
TICK = timedelta(minutes=5)  # the planner once a horizon, as EventBridge Scheduler runs it
_ALL_WEEK = SendWindow(days=(0, 1, 2, 3, 4, 5, 6), start=datetime.min.time(), end=datetime.min.time())


class IdentitySpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    daily_cap: int = 500
    weight: float = 1.0


class TenantSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    weight: float = 1.0
    hourly: int = 1000
    daily: int = 10_000
    steps: int = 1
    leads: dict[str, int] = Field(description="recipient domain -> how many leads there")
    identities: list[IdentitySpec]
    policy: TenantPolicy = TenantPolicy()
    start_after_h: float = 0.0  # the campaign starts this long after the scenario begins


class FaultSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    start_h: float
    end_h: float
    rates: OutcomeRates
    domains: list[str] = Field(default_factory=list)
    senders: list[str] = Field(default_factory=list)
    delay_diagnostic: str = ""


class Expect(BaseModel):
    """What the scenario must show; checked by tests/e2e/test_scenarios.py and printed by the CLI."""

    model_config = ConfigDict(frozen=True)

    paused: list[str] = Field(default_factory=list)  # tenant/campaign
    blocked: list[str] = Field(default_factory=list)  # tenant/identity
    pause_within_s: float | None = None
    min_jain: float | None = None
    min_utilisation: float | None = None
    rate_cut: bool = False  # deferrals must have cut a rate (AIMD)
    share_of: str | None = None  # the noisy tenant: its share of the contention must not exceed its weight's


class Scenario(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    start: datetime = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    days: float = 2.0
    max_send_rate: float = 14.0
    max_24h_send: int = 50_000
    seed: str = "scenario"
    default: OutcomeRates = OutcomeRates(bounce=0.002, delay=0.01)
    domains: dict[str, OutcomeRates] = Field(default_factory=dict)
    senders: dict[str, OutcomeRates] = Field(default_factory=dict)
    mx: dict[str, str] = Field(default_factory=dict, description="domain -> MX host (offline resolver)")
    tenants: list[TenantSpec]
    faults: list[FaultSpec] = Field(default_factory=list)
    expect: Expect = Expect()

    @classmethod
    def load(cls, path: Path) -> Scenario:
        return cls.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))

    def sender_address(self, tenant: str, identity: str) -> str:
        return f"{identity}@{tenant}-mail.com"


@dataclass
class _Run:
    scenario: Scenario
    records: Records
    ledger: list[LedgerEntry]
    directory: ProviderDirectory
    stats: WorkerStats
    end: datetime


def run_scenario(scenario: Scenario) -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="outreach-sim-") as tmp:
        settings = Settings(
            workspace=Path(tmp),
            mailer="simulator",
            mx_resolver="offline",
            ses_max_send_rate=scenario.max_send_rate,
            ses_max_24h_send=scenario.max_24h_send,
            unsubscribe_base_url="https://unsubscribe.example.net/u",
        )
        app = build(settings)
        clock = VirtualClock(scenario.start)
        app.adapters.clock.override(providers.Object(clock))
        app.adapters.mx_resolver.override(providers.Object(StaticMxResolver(scenario.mx)))
        app.adapters.simulator_profile.override(providers.Object(_profile(scenario)))
        alerts = _Alerts()
        app.adapters.notifier.override(providers.Object(alerts))
        services = app.services
        _build_world(scenario, services, clock)
        worker = LocalWorker(
            services.planner(),
            services.sender(),
            services.ingestor(),
            app.adapters.job_queue(),
            app.adapters.event_queue(),
            clock,
        )
        stats = _drive(worker, clock, scenario)
        mailer: SimulatedSesMailer = app.adapters.simulator()
        run = _Run(
            scenario,
            services.records(),
            list(mailer.ledger),
            services.limiter().directory,
            stats,
            clock.now(),
        )
        report = measure(run)
        report["alerts"] = dict(sorted(alerts.kinds.items()))
        for adapter in (app.adapters.store(), app.adapters.job_queue(), app.adapters.event_queue()):
            adapter.close()
    report["wall_seconds"] = round(time.perf_counter() - started, 2)
    return report


class _Alerts:
    """The scenario's notifier: counts alerts by kind instead of logging them."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    def notify(self, alert: Alert) -> None:
        self.kinds[alert.kind] += 1


def _profile(scenario: Scenario) -> SimulatorProfile:
    faults = [
        Fault(
            name=f.name,
            start=scenario.start + timedelta(hours=f.start_h),
            end=scenario.start + timedelta(hours=f.end_h),
            rates=f.rates,
            domains=f.domains,
            senders=f.senders,
            delay_diagnostic=f.delay_diagnostic,
        )
        for f in scenario.faults
    ]
    return SimulatorProfile(
        seed=scenario.seed,
        default=scenario.default,
        domains=scenario.domains,
        senders=scenario.senders,
        faults=faults,
    )


def _build_world(scenario: Scenario, services: Any, clock: VirtualClock) -> None:
    admin = services.admin()
    leads = services.leads()
    limiter = services.limiter()
    for spec in scenario.tenants:
        admin.add_tenant(
            spec.id,
            spec.id.title(),
            "1 Simulation Way, Testville",
            window=_ALL_WEEK,
            quotas=Quotas(daily=spec.daily, hourly=spec.hourly),
            weight=spec.weight,
        )
        limiter.set_tenant_policy(spec.id, spec.policy)
        admin.add_direction(spec.id, "main", "Main offer")
        for ident in spec.identities:
            admin.add_identity(
                spec.id,
                ident.id,
                scenario.sender_address(spec.id, ident.id),
                daily_cap=ident.daily_cap,
                weight=ident.weight,
            )
        for step in range(1, spec.steps + 1):
            admin.add_template(
                spec.id,
                f"t{step}",
                "Hello {{company|there}}" if step == 1 else "",
                "Hi {{first_name|there}}.",
            )
        steps = [
            CampaignStep(number=n, template_id=f"t{n}", delay=timedelta(days=0 if n == 1 else 1))
            for n in range(1, spec.steps + 1)
        ]
        admin.add_campaign(spec.id, "main", "main", steps, lead_list="list")
        rows = ["email,first_name,company,source"]
        for domain, count in sorted(spec.leads.items()):
            rows += [f"lead{n}.{spec.id}@{domain},Lead,{domain},simulation" for n in range(count)]
        leads.import_csv(spec.id, "\n".join(rows).encode(), list_name="list")
    _start_campaigns(scenario, admin, clock)


def _start_campaigns(scenario: Scenario, admin: Any, clock: VirtualClock) -> None:
    for spec in sorted(scenario.tenants, key=lambda s: s.start_after_h):
        if spec.start_after_h <= 0:
            admin.start_campaign(spec.id, "main")
    # Late starters are started by the driver when their time comes.


def _drive(worker: LocalWorker, clock: VirtualClock, scenario: Scenario) -> WorkerStats:
    total = WorkerStats()
    last_tick: datetime | None = None
    deadline = scenario.start + timedelta(days=scenario.days)
    late = sorted((s for s in scenario.tenants if s.start_after_h > 0), key=lambda s: s.start_after_h)
    while clock.now() < deadline:
        while late and clock.now() >= scenario.start + timedelta(hours=late[0].start_after_h):
            _late_start(worker, late.pop(0).id, clock)
        last_tick, wake, step_end = worker.virtual_step(clock, total, last_tick, tick=TICK, step=STEP)
        if wake is None and not late:
            break
        targets = [t for t in (wake, step_end) if t is not None]
        if late:
            targets.append(min(max(targets), scenario.start + timedelta(hours=late[0].start_after_h)))
        clock.advance_to(max(step_end, min(max(targets), deadline)))
    return total


def _late_start(worker: LocalWorker, tenant_id: str, clock: VirtualClock) -> None:
    from outreach_core.services.admin import AdminService

    AdminService(worker.planner.records, clock).start_campaign(tenant_id, "main")


# --- measuring -----------------------------------------------------------------------------------------


def check_expectations(scenario: Scenario, report: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """Every line of the scenario's [expect], and the limits it always holds to: (what, held, figures)."""
    expect = scenario.expect
    checks: list[tuple[str, bool, str]] = [
        ("no limit exceeded", report["violations"] == 0, f"violations {report['violations']}"),
        (
            "nothing sent after a block",
            report["sends_after_block"] == 0,
            f"{report['sends_after_block']} sends",
        ),
    ]
    for campaign in expect.paused:
        paused = campaign in report["paused_campaigns"]
        checks.append((f"paused: {campaign}", paused, ", ".join(report["paused_campaigns"]) or "none paused"))
        if expect.pause_within_s is not None:
            took = report["time_to_pause_s"].get(campaign)
            quick = took is not None and took <= expect.pause_within_s
            said = f"{took} s" if took is not None else "never"
            checks.append((f"paused within {expect.pause_within_s:g} s", quick, said))
    for identity in expect.blocked:
        checks.append(
            (f"blocked: {identity}", identity in report["blocked_identities"],
             ", ".join(report["blocked_identities"]) or "none blocked"),
        )  # fmt: skip
    if expect.min_jain is not None:
        jain = report["jain_index"]
        checks.append(
            (f"fairness (Jain) >= {expect.min_jain}", jain is not None and jain >= expect.min_jain, f"{jain}")
        )
    if expect.min_utilisation is not None:
        used = report["utilisation"]
        checks.append(
            (
                f"utilisation >= {expect.min_utilisation}",
                used is not None and used >= expect.min_utilisation,
                f"{used}",
            )
        )
    if expect.share_of is not None:
        share = report["shares"].get(expect.share_of, 0.0)
        fair = report["fair_shares"].get(expect.share_of, 0.0)
        contended = round((report["utilisation"] or 0) * report["contention_s"] * scenario.max_send_rate)
        checks.append(
            (f"{expect.share_of} within its fair share", share <= fair + 1 / max(1, contended),
             f"share {share} vs fair {fair}"),
        )  # fmt: skip
    if expect.rate_cut:
        checks.append(("deferrals cut a rate (AIMD)", report["rate_cuts"] > 0, f"{report['rate_cuts']} cuts"))
        checks.append(
            ("deferrals suppress nobody", report["bounce_rate"] < 0.01, f"bounce {report['bounce_rate']}")
        )
    return checks


def max_in_window(times: list[int], period_us: int) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - period_us:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def measure(run: _Run) -> dict[str, Any]:
    scenario, ledger = run.scenario, run.ledger
    by_address = {scenario.sender_address(t.id, i.id): (t, i) for t in scenario.tenants for i in t.identities}
    sends = []
    for entry in ledger:
        tenant, ident = by_address[entry.sender]
        provider = run.directory.provider(entry.recipient.rsplit("@", 1)[-1])
        sends.append((tenant.id, ident.id, provider, micros(entry.at)))
    scopes = _scope_figures(run, sends)
    violations = sum(max(0, s["max"] - s["limit"]) for s in scopes)
    max_ratio: dict[str, float] = {}
    for s in scopes:
        max_ratio[s["scope"]] = round(max(max_ratio.get(s["scope"], 0.0), s["max"] / s["limit"]), 4)
    contention = _contention(run, sends)
    outcomes = _outcomes(run.records, scenario)
    return {
        "scenario": scenario.name,
        "sent": len(sends),
        "violations": violations,
        "max_rate_vs_limit": max_ratio,
        **contention,
        **_safety(run, sends),
        **outcomes,
        "sender_outcomes": dict(sorted(run.stats.outcomes.items())),
        "virtual_hours": round((run.end - scenario.start) / timedelta(hours=1), 2),
        "series": _series(scenario, sends),
    }


def _scope_figures(run: _Run, sends: list[tuple[str, str, Provider, int]]) -> list[dict[str, Any]]:
    from outreach_core.policies.config import SendingPolicy

    scenario = run.scenario
    hour, day = 3_600_000_000, 86_400_000_000
    account_rate = SendingPolicy().account.model_copy(update={"max_send_rate": scenario.max_send_rate}).rate
    figures = [
        {
            "scope": "account_rate",
            "max": max_in_window([t for *_, t in sends], account_rate.period_us),
            "limit": int(account_rate.count),
        },
        {
            "scope": "account_24h",
            "max": max_in_window([t for *_, t in sends], day),
            "limit": scenario.max_24h_send,
        },
    ]
    for tenant in scenario.tenants:
        policy = SendingPolicy().effective(tenant.policy)
        mine = [s for s in sends if s[0] == tenant.id]
        figures.append(
            {
                "scope": "tenant_hour",
                "max": max_in_window([t for *_, t in mine], hour),
                "limit": tenant.hourly,
            }
        )
        figures.append(
            {"scope": "tenant_day", "max": max_in_window([t for *_, t in mine], day), "limit": tenant.daily}
        )
        for ident in tenant.identities:
            theirs = [s for s in mine if s[1] == ident.id]
            times = [t for *_, t in theirs]
            if policy.identity.per_minute:
                figures.append(
                    {
                        "scope": "identity_minute",
                        "max": max_in_window(times, 60_000_000),
                        "limit": policy.identity.per_minute,
                    }
                )
            if policy.identity.per_hour:
                figures.append(
                    {
                        "scope": "identity_hour",
                        "max": max_in_window(times, hour),
                        "limit": policy.identity.per_hour,
                    }
                )
            figures.append(
                {"scope": "identity_day", "max": max_in_window(times, day), "limit": ident.daily_cap}
            )
            figures += _warmup_figures(scenario, policy, ident, times)
            for provider in {s[2] for s in theirs}:
                limits = policy.provider(provider)
                at = [t for _, _, p, t in theirs if p == provider]
                if limits.per_hour:
                    figures.append(
                        {
                            "scope": "provider_identity_hour",
                            "max": max_in_window(at, hour),
                            "limit": limits.per_hour,
                        }
                    )
                if limits.per_day:
                    figures.append(
                        {
                            "scope": "provider_identity_day",
                            "max": max_in_window(at, day),
                            "limit": limits.per_day,
                        }
                    )
    return figures


def _warmup_figures(
    scenario: Scenario, policy: Any, ident: IdentitySpec, times: list[int]
) -> list[dict[str, Any]]:
    """Per UTC day, the sends of an identity against the most its ramp could allow that day."""
    from outreach_core.policies.warmup import grow

    if not policy.warmup.enabled or not times:
        return []
    per_day = Counter(datetime.fromtimestamp(t / 1e6, UTC).date() for t in times)
    first = min(per_day)
    out = []
    for day, count in per_day.items():
        cap = min(policy.warmup.start, ident.daily_cap)
        for _ in range((day - first).days):
            cap = grow(cap, policy.warmup, ident.daily_cap)
        out.append({"scope": "identity_warmup_day", "max": count, "limit": cap})
    return out


def _contention(run: _Run, sends: list[tuple[str, str, Provider, int]]) -> dict[str, Any]:
    """While every tenant has work waiting (until the first one runs out), how the account's rate
    was shared and used."""
    scenario = run.scenario
    tenants = [t.id for t in scenario.tenants]
    if len(tenants) < 2 or not sends:
        return {"jain_index": None, "utilisation": None, "contention_s": 0, "shares": {}}
    started = [micros(scenario.start + timedelta(hours=t.start_after_h)) for t in scenario.tenants]
    begin = max(started)
    last = {t: max((s[3] for s in sends if s[0] == t), default=begin) for t in tenants}
    end = min(last.values())
    if end <= begin:
        return {"jain_index": None, "utilisation": None, "contention_s": 0, "shares": {}}
    inside = [s for s in sends if begin <= s[3] < end]
    weights = {t.id: t.weight for t in scenario.tenants}
    counts = Counter(s[0] for s in inside)
    normalised = {t: counts[t] / weights[t] for t in tenants}
    rate = scenario.max_send_rate
    capacity = rate * (end - begin) / 1e6
    total_weight = sum(weights.values())
    return {
        "jain_index": round(jain_index(normalised), 4),
        "utilisation": round(len(inside) / capacity, 4) if capacity else None,
        "contention_s": round((end - begin) / 1e6),
        "shares": {t: round(counts[t] / max(1, len(inside)), 4) for t in tenants},
        "fair_shares": {t: round(weights[t] / total_weight, 4) for t in tenants},
    }


def _safety(run: _Run, sends: list[tuple[str, str, Provider, int]]) -> dict[str, Any]:
    """Sends after a block or a provider pause (must be 0) and how fast storms were stopped."""
    after = 0
    paused_at: dict[str, int] = {}
    for tenant in run.scenario.tenants:
        for entry in run.records.audit(tenant.id):
            at = micros(entry.at)
            if entry.action == "identity.blocked":
                after += sum(1 for s in sends if s[0] == tenant.id and s[1] == entry.target and s[3] > at)
            elif entry.action == "identity.provider_paused":
                ident, provider = entry.target.split("@", 1)
                until = micros(datetime.fromisoformat(str(entry.details["until"])))
                after += sum(
                    1
                    for s in sends
                    if s[0] == tenant.id and s[1] == ident and s[2].value == provider and at < s[3] < until
                )
            elif entry.action == "campaign.pause":
                paused_at.setdefault(f"{tenant.id}/{entry.target}", at)
    storms = [micros(run.scenario.start + timedelta(hours=f.start_h)) for f in run.scenario.faults]
    first_send = {t.id: min((s[3] for s in sends if s[0] == t.id), default=0) for t in run.scenario.tenants}
    time_to_pause: dict[str, float] = {}
    for key, at in paused_at.items():
        began = max([s for s in storms if s <= at] + [first_send.get(key.split("/")[0], at)])
        time_to_pause[key] = round((at - began) / 1e6, 1)
    return {
        "sends_after_block": after,
        "paused_campaigns": sorted(paused_at),
        "time_to_pause_s": time_to_pause,
        "blocked_identities": sorted(
            f"{t.id}/{e.target}"
            for t in run.scenario.tenants
            for e in run.records.audit(t.id)
            if e.action == "identity.blocked"
        ),
        "provider_pauses": sorted(
            f"{t.id}/{e.target}"
            for t in run.scenario.tenants
            for e in run.records.audit(t.id)
            if e.action == "identity.provider_paused"
        ),
        "rate_cuts": sum(
            1 for t in run.scenario.tenants for e in run.records.audit(t.id) if e.action == "rate.lowered"
        ),
    }


def _outcomes(records: Records, scenario: Scenario) -> dict[str, Any]:
    status: Counter[JobStatus] = Counter()
    for tenant in scenario.tenants:
        status.update(j.status for j in records.jobs(tenant.id))
    sent = sum(
        status[s] for s in (JobStatus.SENT, JobStatus.DELIVERED, JobStatus.BOUNCED, JobStatus.COMPLAINED)
    )
    return {
        "jobs": dict(sorted((k.value, v) for k, v in status.items())),
        "delivered_rate": round((status[JobStatus.DELIVERED] + status[JobStatus.COMPLAINED]) / sent, 4)
        if sent
        else 0.0,
        "bounce_rate": round(status[JobStatus.BOUNCED] / sent, 4) if sent else 0.0,
        "complaint_rate": round(status[JobStatus.COMPLAINED] / sent, 4) if sent else 0.0,
    }


def _series(scenario: Scenario, sends: list[tuple[str, str, Provider, int]]) -> dict[str, Any]:
    """Sends per hour per tenant and per provider, for the chart."""
    origin = micros(scenario.start)
    hours = max(1, int(scenario.days * 24))
    tenants: dict[str, list[int]] = {t.id: [0] * hours for t in scenario.tenants}
    providers_: dict[str, list[int]] = {}
    for tenant, _, provider, at in sends:
        index = min(hours - 1, max(0, (at - origin) // 3_600_000_000))
        tenants[tenant][index] += 1
        providers_.setdefault(provider.value, [0] * hours)[index] += 1
    return {"tenants": tenants, "providers": providers_}
