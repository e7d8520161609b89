"""Observability commands: `report`, `cost`, `archive prune|export` and `alerts test|kinds`."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from entrypoints.cli.context import CliState, app_for, fail, known_tenant
from entrypoints.cli.conventions import group
from entrypoints.cli.output import JsonFlag, emit_json, table

console = Console()
archive_app = group("The 90-day archive of events and exports.")
alerts_app = group("Alert channels (log, Telegram, SNS e-mail).")

_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m`."""
    match = _DURATION.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r}: use a number and d, h or m, e.g. 90d")
    amount, unit = int(match[1]), match[2]
    return {"d": timedelta(days=amount), "h": timedelta(hours=amount), "m": timedelta(minutes=amount)}[unit]


def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="where to write the HTML file")] = Path("report.html"),
    days: Annotated[int, typer.Option(min=1, help="how many send days to chart")] = 30,
    tenant: Annotated[str | None, typer.Option(help="only this tenant")] = None,
) -> None:
    """One self-contained HTML file: sends, funnels, reply and failure figures, for reading or sending on.

    Sends and delivery / bounce / complaint rates over time; per campaign and per step: enrolled,
    contacted, delivered, replied (the reply rate), A/B variants; per identity and mailbox provider;
    every failed job with its reason."""
    from adapters.html_report import render_report
    from outreach_core.services.reporting import ReportService

    state: CliState = ctx.obj
    application = app_for(state)
    if tenant is not None:
        known_tenant(state, tenant)
    data = ReportService(application.services.records(), application.adapters.clock()).build(days, tenant)
    out.write_text(render_report(data), encoding="utf-8")
    totals = data.totals
    sent, bounce = ("accepted", "bounce (reported)") if data.smtp_mode else ("sent", "bounce")
    console.print(
        f"report written to {out} · {totals.sent:,} {sent} {data.first_day} – {data.last_day} · "
        f"delivery {totals.delivery_text()} · {bounce} {totals.bounce_rate:.1%} · "
        f"complaint {totals.complaint_rate:.2%}",
        markup=False,
    )


def cost(
    emails_per_month: Annotated[
        int, typer.Option("--emails-per-month", "-n", min=0, help="emails sent a month")
    ],
    tenants: Annotated[int, typer.Option(min=1)] = 3,
    regions: Annotated[int, typer.Option(min=1, help="SES regions (primary + failover)")] = 2,
    dedicated_ips: Annotated[int, typer.Option(min=0, help="SES dedicated IPs per region")] = 0,
    customer_kms_key: Annotated[bool, typer.Option(help="a customer-managed KMS key per region")] = False,
    free_tier: Annotated[bool, typer.Option(help="apply the always-free monthly allowances")] = True,
    ses_plan: Annotated[str, typer.Option(help="a-la-carte or essentials")] = "a-la-carte",
    per_tenant_metrics: Annotated[
        bool, typer.Option(help="price the trap: every metric again per tenant")
    ] = False,
    feedback_batch: Annotated[
        int, typer.Option(min=1, help="SES events per feedback invocation / archive object (SNS->Lambda: 1)")
    ] = 1,
    secrets_manager: Annotated[bool, typer.Option(help="the Telegram token in Secrets Manager")] = False,
    out: Annotated[Path, typer.Option(help="the CSV to write")] = Path("cost_estimate.csv"),
) -> None:
    """Itemised monthly AWS cost of a deployment -> cost_estimate.csv, plus a summary."""
    from adapters.cost_model import Deployment, estimate, summary

    if ses_plan not in ("a-la-carte", "essentials"):
        fail("--ses-plan is a-la-carte or essentials")
    plan: Literal["a-la-carte", "essentials"] = "essentials" if ses_plan == "essentials" else "a-la-carte"
    result = estimate(
        Deployment(
            emails_per_month=emails_per_month,
            tenants=tenants,
            regions=regions,
            dedicated_ips=dedicated_ips,
            customer_kms_key=customer_kms_key,
            free_tier=free_tier,
            ses_plan=plan,
            per_tenant_metrics=per_tenant_metrics,
            feedback_batch=feedback_batch,
            secrets_manager=secrets_manager,
        )
    )
    out.write_text(result.csv(), encoding="utf-8")
    console.print(summary(result), highlight=False, markup=False, soft_wrap=True)
    console.print(f"itemised in {out}")


@archive_app.command("prune")
def archive_prune(
    ctx: typer.Context,
    older_than: Annotated[str, typer.Option(help="age by the day in the key, e.g. 90d")] = "90d",
    dry_run: Annotated[bool, typer.Option(help="list what would go, delete nothing")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete archived events and exports older than the retention (S3 does this by lifecycle rule)."""
    from adapters.filesystem_archive import FilesystemArchive

    state: CliState = ctx.obj
    application = app_for(state)
    archive = application.adapters.archive()
    if not isinstance(archive, FilesystemArchive):
        fail("prune works on the local archive; on AWS the bucket's lifecycle rule expires objects")
    removed = archive.prune(parse_duration(older_than), application.adapters.clock().now(), dry_run=dry_run)
    if as_json:
        emit_json({"dry_run": dry_run, "older_than": older_than, "keys": removed})
        return
    verb = "would remove" if dry_run else "removed"
    console.print(f"{verb} {len(removed)} archived object(s) older than {older_than}")
    for key in removed[:20]:
        console.print(f"  {key}")
    if len(removed) > 20:
        console.print(f"  ... and {len(removed) - 20} more")


@archive_app.command("export")
def archive_export(
    ctx: typer.Context,
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: yesterday)")] = None,
    tenant: Annotated[str | None, typer.Option(help="only this tenant")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Archive the jobs that changed on a day: one gzip JSON-lines object per tenant."""
    from adapters.archive_export import export_day

    state: CliState = ctx.obj
    application = app_for(state)
    now = application.adapters.clock().now()
    try:
        when = date.fromisoformat(day) if day else (now - timedelta(days=1)).date()
    except ValueError:
        fail(f"--day {day!r} is not YYYY-MM-DD")
    results = export_day(
        application.services.records(), application.adapters.archive(), when, [tenant] if tenant else None
    )
    if as_json:
        emit_json([{"tenant": r.tenant_id, "jobs": r.jobs, "key": r.key} for r in results])
        return
    for result in results:
        console.print(f"{result.tenant_id}: {result.jobs} job(s) -> {result.key}")
    if not results:
        console.print(f"no job changed on {when}")


@alerts_app.command("test")
def alerts_test(
    ctx: typer.Context,
    message: Annotated[str, typer.Option(help="the text to send")] = "test alert from `outreach alerts test`",
) -> None:
    """Send one info alert through every configured channel (check the Telegram chat / inbox)."""
    from outreach_core.ports import Alert

    state: CliState = ctx.obj
    application = app_for(state)
    now: datetime = application.adapters.clock().now()
    alert = Alert(kind="test", severity="info", subject=f"test {now:%H%M%S}", message=message, at=now)
    try:
        application.adapters.notifier().notify(alert)
    except Exception as exc:
        fail(f"no channel delivered the test alert: {exc}")
    channels = ["log"]
    if state.settings.telegram_chat_id:
        channels.append("telegram")
    if state.settings.alert_topic_arn and state.settings.backend == "aws":
        channels.append("sns")
    console.print(f"test alert sent via {', '.join(channels)}")


@alerts_app.command("kinds")
def alerts_kinds(as_json: JsonFlag = False) -> None:
    """The alert kinds the engine emits, and who emits each."""
    from outreach_core.telemetry import ALERT_KINDS

    if as_json:
        emit_json([{"kind": k, "when": w} for k, w in ALERT_KINDS.items()])
        return
    grid = table("kind", "when")
    for kind, when in ALERT_KINDS.items():
        grid.add_row(kind, when)
    console.print(grid)
