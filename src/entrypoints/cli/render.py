"""Tables for the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from entrypoints.cli.render_observe import observability_tables
from outreach_core.services.status import StatusReport

_JOB_COLUMNS = (
    "planned",
    "queued",
    "sending",
    "sent",
    "delivered",
    "bounced",
    "complained",
    "suppressed",
    "cancelled",
    "failed",
    "dead_lettered",
    "uncertain",
)


_GROUPS = {
    "open": ("planned", "queued", "sending"),
    "sent": ("sent", "delivered", "bounced", "complained"),
    "deliv": ("delivered", "complained"),
    "bounce": ("bounced",),
    "compl": ("complained",),
    "stop": ("cancelled", "suppressed"),
    "fail": ("failed", "dead_lettered", "uncertain"),
}


def _grouped(jobs: dict[str, int]) -> list[str]:
    return [str(sum(jobs.get(s, 0) for s in statuses)) for statuses in _GROUPS.values()]


def status_tables(console: Console, report: StatusReport) -> None:
    notes: list[str] = []
    tenants = Table(title="Tenants")
    for column in (
        "tenant",
        "leads",
        "active",
        "replied",
        "bounced",
        "complained",
        "unsub",
        "skipped",
        "sent",
        "inbox",
    ):
        tenants.add_column(column, justify="right" if column != "tenant" else "left")
    for row in report.tenants:
        leads = row.leads
        tenants.add_row(
            row.tenant_id,
            str(sum(leads.values())),
            *(
                str(leads.get(k, 0))
                for k in ("active", "replied", "bounced", "complained", "unsubscribed", "skipped")
            ),
            str(row.sent),
            str(row.inbox_unhandled),
        )
    console.print(tenants)
    if report.skipped:
        skipped = Table(
            "tenant", "list", "why", "leads", "e.g.", title="Skipped by list hygiene (never sent to)"
        )
        for skip in report.skipped:
            skipped.add_row(skip.tenant_id, skip.list_name, skip.code, str(skip.count), skip.example)
        console.print(skipped)
    campaigns = Table(title="Campaigns (jobs)")
    campaigns.add_column("campaign", no_wrap=True)
    campaigns.add_column("status", no_wrap=True)
    for column in (*_GROUPS, "bounces", "skipped"):
        campaigns.add_column(column, justify="right")
    for c in report.campaigns:
        name = f"{c.tenant_id}/{c.campaign_id}"
        if c.reason:
            notes.append(f"{name}: {c.reason}")
        campaigns.add_row(name, c.status, *_grouped(c.jobs), f"{c.bounce_rate:.1%}", str(c.skipped))
    console.print(campaigns)
    identities = Table(title="Sender identities")
    for column in (
        "identity",
        "domain",
        "status",
        "today/cap",
        "sent",
        "complaints",
        "warm-up: today, next days",
        "rate",
        "paused at",
    ):
        identities.add_column(column)
    for i in report.identities:
        name = f"{i.tenant_id}/{i.identity_id}"
        if i.reason:
            notes.append(f"{name}: {i.reason}")
        identities.add_row(
            name,
            i.email_domain,
            i.status,
            f"{i.sent_today}/{i.daily_cap}",
            str(i.sent_total),
            f"{i.complaint_rate:.2%}",
            " ".join(str(c) for c in i.warmup_schedule)
            + (f" (held {i.warmup_held_days} d)" if i.warmup_held_days else ""),
            f"{i.rate_factor:.0%}",
            ", ".join(i.provider_pauses) or "-",
        )
    console.print(identities)
    for note in notes:
        console.print(f"[bold]note[/bold] {note}")
    console.print(
        "open = planned+queued+sending · stop = cancelled+suppressed · "
        "fail = failed+dead_lettered+uncertain · bounces = rate over the last N sends · "
        "inbox = replies and bounces nobody has handled (`outreach inbox list --unhandled`) · "
        "skipped = leads of its list never sent to (`outreach leads skipped`)"
    )
    observability_tables(console, report)  # tenant rates, mailbox providers, queue and dead letters


def demo_tables(console: Console, summary: dict[str, Any]) -> None:
    tenants = Table(title="Demo: per tenant")
    keys = ("leads", "sent", "delivered", "bounced", "complained", "replied", "suppressed")
    tenants.add_column("tenant")
    for key in keys:
        tenants.add_column(key, justify="right")
    for row in summary["tenants"]:
        tenants.add_row(row["tenant"], *(str(row[k]) for k in keys))
    console.print(tenants)
    notes: list[str] = []
    campaigns = Table(title="Demo: per campaign")
    ckeys = ("jobs", "sent", "delivered", "bounced", "complained", "cancelled")
    campaigns.add_column("campaign")
    campaigns.add_column("status")
    for key in ckeys:
        campaigns.add_column(key, justify="right")
    for row in summary["campaigns"]:
        status, _, reason = row["status"].partition(": ")
        campaigns.add_row(row["campaign"], status, *(str(row[k]) for k in ckeys))
        if reason:
            notes.append(f"{row['campaign']}: {reason}")
    console.print(campaigns)
    for note in notes:
        console.print(f"[bold]note[/bold] {note}")
    checks = Table(title="Invariants and totals")
    checks.add_column("figure")
    checks.add_column("value", justify="right")
    for key in (
        "leads",
        "jobs_planned",
        "sent",
        "delivered",
        "bounced",
        "complained",
        "suppressed",
        "failed",
        "dead_lettered",
        "duplicate_sends",
        "sends_to_suppressed",
        "non_terminal_jobs",
        "virtual_days",
        "wall_seconds",
    ):
        checks.add_row(key, str(summary[key]))
    skipped = summary.get("skipped_by_hygiene") or {}
    checks.add_row("skipped by list hygiene", ", ".join(f"{k} {v}" for k, v in skipped.items()) or "-")
    checks.add_row("paused campaigns", ", ".join(summary["paused_campaigns"]) or "-")
    checks.add_row("blocked identities", ", ".join(summary["blocked_identities"]) or "-")
    console.print(checks)


def simulate_table(console: Console, report: dict[str, Any]) -> None:
    table = Table(title=f"Scenario: {report['scenario']}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in (
        "sent",
        "violations",
        "sends_after_block",
        "jain_index",
        "utilisation",
        "contention_s",
        "delivered_rate",
        "bounce_rate",
        "complaint_rate",
        "rate_cuts",
        "virtual_hours",
        "wall_seconds",
    ):
        table.add_row(key, str(report.get(key)))
    for key in ("shares", "fair_shares", "time_to_pause_s", "max_rate_vs_limit"):
        for name, value in (report.get(key) or {}).items():
            table.add_row(f"{key}: {name}", str(value))
    for key in ("paused_campaigns", "blocked_identities", "provider_pauses"):
        table.add_row(key, ", ".join(report.get(key) or []) or "-")
    table.add_row("chart", str(report.get("chart")))
    console.print(table)
