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


def status_tables(console: Console, report: StatusReport) -> None:
    tenants = Table(title="Tenants")
    for column in ("tenant", "leads", "active", "replied", "bounced", "complained", "unsubscribed", "sent"):
        tenants.add_column(column, justify="right" if column != "tenant" else "left")
    for row in report.tenants:
        leads = row.leads
        tenants.add_row(
            row.tenant_id,
            str(sum(leads.values())),
            *(str(leads.get(k, 0)) for k in ("active", "replied", "bounced", "complained", "unsubscribed")),
            str(row.sent),
        )
    console.print(tenants)
    campaigns = Table(title="Campaigns")
    campaigns.add_column("campaign")
    campaigns.add_column("status")
    for column in (*_JOB_COLUMNS, "bounce rate"):
        campaigns.add_column(column, justify="right")
    for c in report.campaigns:
        status = c.status + (f" ({c.reason})" if c.reason else "")
        campaigns.add_row(
            f"{c.tenant_id}/{c.campaign_id}",
            status,
            *(str(c.jobs.get(k, 0)) for k in _JOB_COLUMNS),
            f"{c.bounce_rate:.1%} of {c.window_sends}",
        )
    console.print(campaigns)
    identities = Table(title="Sender identities")
    for column in ("identity", "domain", "status", "today / cap", "sent", "complaint rate"):
        identities.add_column(column)
    for i in report.identities:
        status = i.status + (f" ({i.reason})" if i.reason else "")
        identities.add_row(
            f"{i.tenant_id}/{i.identity_id}",
            i.email_domain,
            status,
            f"{i.sent_today} / {i.daily_cap}",
            str(i.sent_total),
            f"{i.complaint_rate:.2%}",
        )
    console.print(identities)
    observability_tables(console, report)


def demo_tables(console: Console, summary: dict[str, Any]) -> None:
    tenants = Table(title="Demo: per tenant")
    keys = ("leads", "sent", "delivered", "bounced", "complained", "replied", "suppressed")
    tenants.add_column("tenant")
    for key in keys:
        tenants.add_column(key, justify="right")
    for row in summary["tenants"]:
        tenants.add_row(row["tenant"], *(str(row[k]) for k in keys))
    console.print(tenants)
    campaigns = Table(title="Demo: per campaign")
    ckeys = ("jobs", "sent", "delivered", "bounced", "complained", "cancelled")
    campaigns.add_column("campaign")
    campaigns.add_column("status")
    for key in ckeys:
        campaigns.add_column(key, justify="right")
    for row in summary["campaigns"]:
        campaigns.add_row(row["campaign"], row["status"], *(str(row[k]) for k in ckeys))
    console.print(campaigns)
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
    checks.add_row("paused campaigns", ", ".join(summary["paused_campaigns"]) or "-")
    checks.add_row("blocked identities", ", ".join(summary["blocked_identities"]) or "-")
    console.print(checks)
