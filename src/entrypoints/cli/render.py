"""Tables for the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from entrypoints.cli.output import table
from entrypoints.cli.render_observe import observability_tables
from outreach_core.services.status import StatusReport

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
    """Readable at 80 columns: no table is wider than that with ids of ordinary length, and ids are
    never cut (a narrower terminal folds the other cells)."""
    notes: list[str] = []
    columns: tuple[str, ...] = (
        "tenant",
        "leads",
        "active",
        "replied",
        "bounced",
        "compl",
        "unsub",
        "skipped",
        "sent",
        "inbox",
    )
    tenants = table(*columns, title="Tenants (leads)", numeric=columns[1:], compact=True)
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
        skipped = table(
            "tenant", "list", "why", "leads", "e.g.", title="Skipped by list hygiene (never sent to)"
        )
        for skip in report.skipped:
            skipped.add_row(skip.tenant_id, skip.list_name, skip.code, str(skip.count), skip.example)
        console.print(skipped)
    columns = ("campaign", "state", "waiting", "next (UTC)", "sent", "replied", "reply", "bounces")
    campaigns = table(
        *columns,
        title="Campaigns",
        numeric=("waiting", "sent", "replied", "reply", "bounces"),
        compact=True,
        whole=("state",),
    )
    jobs = table(
        "campaign", *_GROUPS, "skipped", title="Campaign jobs", numeric=(*_GROUPS, "skipped"), compact=True
    )
    for c in report.campaigns:
        name = f"{c.tenant_id}/{c.campaign_id}"
        if c.reason:
            notes.append(f"{name}: {c.reason}")
        campaigns.add_row(
            name,
            c.state,
            str(c.waiting),
            f"{c.next_at:%m-%d %H:%M}" if c.next_at and c.state not in ("done", "completed") else "-",
            str(sum(c.jobs.get(s, 0) for s in _GROUPS["sent"])),
            str(c.replied),
            f"{c.reply_rate:.1%}",
            f"{c.bounce_rate:.1%}",
        )
        jobs.add_row(name, *_grouped(c.jobs), str(c.skipped))
    console.print(campaigns)
    console.print(jobs)
    if report.variants:
        variants = table(
            "campaign step", "variant", "sent", "replied", "reply", "bounced", "unsub",
            title="A/B variants", numeric=("sent", "replied", "reply", "bounced", "unsub"), compact=True,
        )  # fmt: skip
        for v in report.variants:
            f = v.figures
            variants.add_row(
                f"{v.tenant_id}/{v.campaign_id} {v.step}", f.template, str(f.sent), str(f.replied),
                f"{f.reply_rate:.1%}", str(f.bounced), str(f.unsubscribed),
            )  # fmt: skip
        console.print(variants)
        for key, text in report.verdicts.items():
            console.print(f"[bold]A/B[/bold] {key}: {text}", highlight=False)
    columns = ("identity", "status", "today/cap", "sent", "compl", "warm-up next days", "rate", "paused at")
    identities = table(*columns, title="Sender identities", numeric=("sent", "compl", "rate"), compact=True)
    for i in report.identities:
        name = f"{i.tenant_id}/{i.identity_id}"
        if i.reason:
            notes.append(f"{name}: {i.reason}")
        identities.add_row(
            name,
            i.status,
            f"{i.sent_today}/{i.daily_cap}",
            str(i.sent_total),
            f"{i.complaint_rate:.2%}",
            " ".join(str(c) for c in i.warmup_schedule[:4])
            + (f" (held {i.warmup_held_days} d)" if i.warmup_held_days else ""),
            f"{i.rate_factor:.0%}",
            ", ".join(i.provider_pauses) or "-",
        )
    console.print(identities)
    for note in notes:
        console.print(f"[bold]note[/bold] {note}", highlight=False)
    console.print(
        "state: sending / waiting (for its window, a delay, a limit: `outreach leads show`) / done · "
        "open = planned+queued+sending · stop = cancelled+suppressed · fail = failed+dead_lettered+uncertain "
        "(`outreach jobs list`) · bounces = rate over the last N sends · skipped = never sent to "
        "(`outreach leads skipped`) · reply = replied / leads contacted · inbox = replies and bounces "
        "nobody has handled (`outreach inbox list --unhandled`)",
        style="dim",
    )
    observability_tables(console, report)  # tenant rates, mailbox providers, queue and dead letters


def demo_tables(console: Console, summary: dict[str, Any]) -> None:
    """Ids whole at 80 columns (two northwind campaigns must not both read `northwi…`): short
    headers, folding cells (a campaign's jobs = sent + cancelled: not a column of its own)."""
    keys = {"leads": "leads", "sent": "sent", "delivered": "deliv", "bounced": "bounce",
            "complained": "compl", "replied": "replied", "suppressed": "suppr"}  # fmt: skip
    tenants = table("tenant", *keys.values(), title="Demo: per tenant", numeric=keys.values(), compact=True)
    for row in summary["tenants"]:
        tenants.add_row(row["tenant"], *(str(row[k]) for k in keys))
    console.print(tenants)
    notes: list[str] = []
    ckeys = {"sent": "sent", "delivered": "deliv", "bounced": "bounce",
             "complained": "compl", "cancelled": "cancel"}  # fmt: skip
    campaigns = table(
        "campaign",
        "status",
        *ckeys.values(),
        title="Demo: per campaign",
        numeric=ckeys.values(),
        compact=True,
        whole=("status",),
    )
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
