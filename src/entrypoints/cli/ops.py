"""Operator commands: status, dead letters, jobs that need a person, suppression."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from entrypoints.cli.context import CliState, address, app_for, fail, known_tenant
from entrypoints.cli.render import status_tables
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.suppression import SuppressionReason, SuppressionScope
from outreach_core.records import GLOBAL

console = Console()
dlq_app = typer.Typer(help="Dead letters: list and redrive.", no_args_is_help=True)
jobs_app = typer.Typer(help="Jobs that need a person.", no_args_is_help=True)
suppress_app = typer.Typer(help="Suppression lists.", no_args_is_help=True)


def _json_default(value: object) -> object:
    dump = getattr(value, "model_dump", None)  # pydantic models inside the report (QueueStats)
    return dump(mode="json") if callable(dump) else str(value)


def status(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="only this tenant")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Per tenant, campaign, identity and mailbox provider: states, counts, caps and rates; the queue."""
    state: CliState = ctx.obj
    if tenant is not None:
        known_tenant(state, tenant)
    app_for(state).services.queue_monitor().check()  # queue metrics, and the DLQ-not-empty alert
    app_for(state).services.dead_letters().reconcile()  # jobs behind dead letters show as such
    report = app_for(state).services.status().report(tenant)
    if as_json:
        console.print_json(json.dumps(asdict(report), default=_json_default))
    else:
        status_tables(console, report)


@dlq_app.command("list")
def dlq_list(ctx: typer.Context, limit: int = 100) -> None:
    state: CliState = ctx.obj
    table = Table("message id", "tenant", "job", "job status", "receives", "reason")
    service = app_for(state).services.dead_letters()
    service.reconcile()
    for row in service.list(limit):
        job = row.job
        table.add_row(
            row.letter.message_id,
            row.letter.group,
            job.job_id if job else "?",
            job.status.value if job else "(no job)",
            str(row.letter.receive_count),
            row.letter.reason,
        )
    console.print(table)


@dlq_app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    message_id: Annotated[list[str] | None, typer.Option("--id", help="redrive only these (repeat)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="redrive every dead letter")] = False,
) -> None:
    """Send dead letters back to the queue (their jobs reopen with fresh attempts)."""
    if not message_id and not all_:
        fail("name messages with --id, or pass --all")
    state: CliState = ctx.obj
    moved = app_for(state).services.dead_letters().redrive(None if all_ else message_id)
    console.print(f"redriven: {moved}")


@jobs_app.command("uncertain")
def jobs_uncertain(ctx: typer.Context, tenant: str | None = None) -> None:
    """Jobs that may or may not have been sent: never resent automatically; a person decides."""
    state: CliState = ctx.obj
    if tenant is not None:
        known_tenant(state, tenant)
    table = Table("tenant", "job", "sender", "attempts", "since", "reason")
    for job in app_for(state).services.status().jobs_in(JobStatus.UNCERTAIN, tenant):
        table.add_row(
            job.tenant_id,
            job.job_id,
            job.sender_id or "-",
            str(job.attempts),
            f"{job.updated_at:%Y-%m-%d %H:%M}",
            job.status_reason,
        )
    console.print(table)


@suppress_app.command("add")
def suppress_add(
    ctx: typer.Context,
    tenant_id: Annotated[
        str, typer.Argument(help="tenant id (GLOBAL: every tenant's list)", metavar="TENANT")
    ],
    email: Annotated[str, typer.Argument(help="the address", metavar="EMAIL")],
    reason: Annotated[str, typer.Option(metavar="TEXT", help="why (kept in the audit log)")] = "",
    kind: Annotated[
        SuppressionReason, typer.Option(help="the kind of entry, as the list shows it")
    ] = SuppressionReason.MANUAL,
) -> None:
    """Never mail this address for this tenant again (checked at send time)."""
    state: CliState = ctx.obj
    application = app_for(state)
    clock = application.adapters.clock()
    if tenant_id == GLOBAL:
        added = application.services.suppression().add_global(
            address(email),
            kind,
            source=f"cli: {reason}"[:200] if reason else "cli",
            at=clock.now(),
            actor="operator",
        )
        console.print("suppressed globally" if added else "already on the global list")
        return
    known_tenant(state, tenant_id)
    application.services.suppression().suppress(
        tenant_id,
        address(email),
        kind,
        source=f"cli: {reason}"[:200] if reason else "cli",
        at=clock.now(),
        actor="operator",
    )
    console.print(f"suppressed for {tenant_id}")


@suppress_app.command("list")
def suppress_list(ctx: typer.Context, tenant_id: Annotated[str | None, typer.Argument()] = None) -> None:
    state: CliState = ctx.obj
    records = app_for(state).services.records()
    if tenant_id:
        known_tenant(state, tenant_id)
    scope = SuppressionScope.TENANT if tenant_id else SuppressionScope.GLOBAL
    table = Table("hash", "email", "reason", "since", "source")
    for entry in records.suppressions(scope, tenant_id):
        table.add_row(
            entry.email_hash[:12],
            entry.email or "(erased)",
            entry.reason.value,
            f"{entry.created_at:%Y-%m-%d %H:%M}",
            entry.source,
        )
    console.print(table)


@suppress_app.command("add-domain")
def suppress_add_domain(
    ctx: typer.Context,
    tenant_id: str,
    domain: Annotated[str, typer.Argument(help="e.g. rival.example: it and its subdomains")],
    reason: Annotated[str, typer.Option(help="competitor, customer, partner, ...")] = "do not contact",
    note: str = "",
) -> None:
    """Never send to anyone at DOMAIN for this tenant (checked at import, before step 1, at send time)."""
    state: CliState = ctx.obj
    application = app_for(state)
    try:
        added = application.services.suppression().add_domain(
            tenant_id,
            domain,
            reason=reason,
            note=note,
            at=application.adapters.clock().now(),
            actor="operator",
        )
    except (ValueError, KeyError) as exc:
        fail(f"suppress add-domain: {exc.args[0] if exc.args else exc}")
    console.print(
        f"{domain}: do-not-contact for {tenant_id}" if added else f"{domain} was already on the list"
    )


@suppress_app.command("remove-domain")
def suppress_remove_domain(
    ctx: typer.Context, tenant_id: str, domain: str, reason: str = "removed by operator"
) -> None:
    state: CliState = ctx.obj
    application = app_for(state)
    try:
        removed = application.services.suppression().remove_domain(
            tenant_id, domain, at=application.adapters.clock().now(), actor="operator", reason=reason
        )
    except ValueError as exc:
        fail(f"suppress remove-domain: {exc}")
    if not removed:
        fail(f"{domain} is not on {tenant_id}'s do-not-contact list")
    console.print(f"{domain} removed from {tenant_id}'s do-not-contact list")


@suppress_app.command("domains")
def suppress_domains(ctx: typer.Context, tenant_id: str) -> None:
    """The tenant's do-not-contact domains."""
    state: CliState = ctx.obj
    table = Table("domain", "reason", "note", "since", "by")
    for block in app_for(state).services.records().domain_blocks(tenant_id):
        table.add_row(
            block.domain, block.reason, block.note, f"{block.created_at:%Y-%m-%d %H:%M}", block.actor
        )
    console.print(table)
