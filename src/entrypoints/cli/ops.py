"""Operator commands: status, dead letters, jobs that need a person, suppression."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console

from entrypoints.cli.context import CliState, address, app_for, fail, known_tenant
from entrypoints.cli.conventions import group
from entrypoints.cli.output import JsonFlag, emit_json, rows_json, table
from entrypoints.cli.render import status_tables
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.suppression import SuppressionReason, SuppressionScope
from outreach_core.records import GLOBAL

console = Console()
dlq_app = group("Dead letters: list and redrive.")
jobs_app = group("Jobs that need a person.")
suppress_app = group("Suppression lists.")


def _json_default(value: object) -> object:
    dump = getattr(value, "model_dump", None)  # pydantic models inside the report (QueueStats)
    return dump(mode="json") if callable(dump) else str(value)


def status(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="only this tenant")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Per tenant, campaign, identity and mailbox provider: states, counts, caps and rates; the queue.

    A campaign says whether it is sending, waiting (and for what, when next) or done; its A/B steps
    show each variant's figures."""
    state: CliState = ctx.obj
    if tenant is not None:
        known_tenant(state, tenant)
    app_for(state).services.queue_monitor().check()  # queue metrics, and the DLQ-not-empty alert
    app_for(state).services.dead_letters().reconcile()  # jobs behind dead letters show as such
    report = app_for(state).services.status().report(tenant)
    if as_json:
        data = asdict(report)
        for row, campaign in zip(data["campaigns"], report.campaigns, strict=True):
            row.update(state=campaign.state, reply_rate=campaign.reply_rate)
        emit_json(data)
    else:
        status_tables(console, report)


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Dead letters with their job and why they died (`dlq redrive` sends them back)."""
    state: CliState = ctx.obj
    service = app_for(state).services.dead_letters()
    service.reconcile()
    rows = [
        (
            row.letter.message_id,
            row.letter.group,
            row.job.job_id if row.job else "?",
            row.job.status.value if row.job else "(no job)",
            row.letter.receive_count,
            row.letter.reason,
        )
        for row in service.list(limit)
    ]
    columns = ("message_id", "tenant", "job", "job_status", "receives", "reason")
    if as_json:
        emit_json(rows_json(columns, rows))
        return
    grid = table("message id", "tenant", "job", "job status", "receives", "reason", numeric=("receives",))
    for r in rows:
        grid.add_row(*map(str, r))
    console.print(grid)


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
def jobs_uncertain(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="only this tenant")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Jobs that may or may not have been sent: never resent automatically; a person decides."""
    state: CliState = ctx.obj
    if tenant is not None:
        known_tenant(state, tenant)
    jobs = app_for(state).services.status().jobs_in(JobStatus.UNCERTAIN, tenant)
    if as_json:
        emit_json([j.model_dump(mode="json") for j in jobs])
        return
    grid = table("tenant", "job", "sender", "attempts", "since", "reason", numeric=("attempts",))
    for job in jobs:
        grid.add_row(
            job.tenant_id,
            job.job_id,
            job.sender_id or "-",
            str(job.attempts),
            f"{job.updated_at:%Y-%m-%d %H:%M}",
            job.status_reason,
        )
    console.print(grid)


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
def suppress_list(
    ctx: typer.Context,
    tenant_id: Annotated[
        str | None,
        typer.Argument(help="tenant id (omit, or GLOBAL: the cross-tenant list)", metavar="TENANT"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """A suppression list: the tenant's, or the global one."""
    state: CliState = ctx.obj
    records = app_for(state).services.records()
    tenant_id = None if tenant_id == GLOBAL else tenant_id
    if tenant_id:
        known_tenant(state, tenant_id)
    scope = SuppressionScope.TENANT if tenant_id else SuppressionScope.GLOBAL
    entries = records.suppressions(scope, tenant_id)
    if as_json:
        emit_json([e.model_dump(mode="json") for e in entries])
        return
    grid = table("hash", "email", "reason", "since", "source")
    for entry in entries:
        grid.add_row(
            entry.email_hash[:12],
            entry.email or "(erased)",
            entry.reason.value,
            f"{entry.created_at:%Y-%m-%d %H:%M}",
            entry.source,
        )
    console.print(grid)


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
    ctx: typer.Context,
    tenant_id: str,
    domain: str,
    reason: Annotated[str, typer.Option(help="why (kept in the audit log)")] = "removed by operator",
) -> None:
    """Take a domain off the tenant's do-not-contact list."""
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
def suppress_domains(ctx: typer.Context, tenant_id: str, as_json: JsonFlag = False) -> None:
    """The tenant's do-not-contact domains."""
    state: CliState = ctx.obj
    known_tenant(state, tenant_id)
    blocks = app_for(state).services.records().domain_blocks(tenant_id)
    if as_json:
        emit_json([b.model_dump(mode="json") for b in blocks])
        return
    grid = table("domain", "reason", "note", "since", "by")
    for block in blocks:
        grid.add_row(
            block.domain, block.reason, block.note, f"{block.created_at:%Y-%m-%d %H:%M}", block.actor
        )
    console.print(grid)
