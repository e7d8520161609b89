"""Operator commands for the feedback loop: suppression lists (remove, global, export, erase), resolving
uncertain jobs, and the audit log. Registered on the `suppress` and `jobs` groups of cli/ops.py."""

from __future__ import annotations

import csv
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from entrypoints.cli.context import CliState, address, app_for, fail, known_tenant
from entrypoints.cli.conventions import group
from entrypoints.cli.ops import jobs_app, suppress_app
from entrypoints.cli.output import JsonFlag, emit_json, table
from outreach_core.domain.ids import lead_id_for
from outreach_core.domain.models import Lead
from outreach_core.domain.suppression import SuppressionReason, SuppressionScope
from outreach_core.records import GLOBAL, NotFoundError
from outreach_core.services.uncertain import Resolution

console = Console()
audit_app = group("The audit log: who did what, when and why.")


def _operator() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"


Actor = Annotated[
    str, typer.Option(help="who is acting (recorded in the audit log)", default_factory=_operator)
]
Reason = Annotated[str, typer.Option(help="why (recorded in the audit log)")]


@suppress_app.command("add-global")
def suppress_add_global(
    ctx: typer.Context, email: str, reason: Reason, actor: Actor, source: str = "cli"
) -> None:
    """Put an address on the cross-tenant list (never mailed by any tenant)."""
    state: CliState = ctx.obj
    application = app_for(state)
    added = application.services.suppression().add_global(
        address(email),
        SuppressionReason.MANUAL,
        source=f"{source}: {reason}"[:200],
        at=application.adapters.clock().now(),
        actor=actor,
    )
    console.print("suppressed globally" if added else "already on the global list")


@suppress_app.command("remove")
def suppress_remove(
    ctx: typer.Context,
    tenant_id: Annotated[
        str, typer.Argument(help="tenant id (GLOBAL: the cross-tenant list)", metavar="TENANT")
    ],
    email: Annotated[str, typer.Argument(help="the address", metavar="EMAIL")],
    reason: Reason,
    actor: Actor,
    reactivate: Annotated[
        bool,
        typer.Option(
            "--reactivate", help="also make the lead active again: its sequences go on where they stopped"
        ),
    ] = False,
) -> None:
    """Take an address off a suppression list; --reactivate puts its lead back in its sequences.

    Without it the lead stays stopped. A bounce, complaint or unsubscribe can be undone this way; a
    reply or list hygiene cannot. Erased addresses stay suppressed."""
    state: CliState = ctx.obj
    application = app_for(state)
    is_global = tenant_id == GLOBAL
    if not is_global:
        known_tenant(state, tenant_id)
    if is_global and reactivate:
        fail("suppress remove: --reactivate works on one tenant's lead: run it with that tenant")
    scope = SuppressionScope.GLOBAL if is_global else SuppressionScope.TENANT
    email = address(email)
    try:
        removed = application.services.suppression().remove(
            scope,
            None if is_global else tenant_id,
            email,
            at=application.adapters.clock().now(),
            actor=actor,
            reason=reason,
        )
    except ValueError as exc:
        fail(f"suppress remove: {exc}")
    where = "the global list" if is_global else f"{tenant_id}'s list"
    if not removed:
        console.print(f"{email} is not on {where}")
        return
    console.print(f"{email} removed from {where}", markup=False)
    if is_global:
        return
    lead = application.services.records().find(Lead, tenant_id, lead_id_for(tenant_id, email))
    if lead is None:
        return
    if not reactivate:
        if lead.status.value != "active":
            console.print(
                f"the lead stays {lead.status.value}: nothing more is sent to it; "
                "pass --reactivate to put it back in its sequences",
                markup=False,
            )
        return
    try:
        change = application.services.lead_actions(actor=actor).reactivate(lead, reason)
    except ValueError as exc:
        fail(f"suppress remove --reactivate: {exc}")
    where_now = ", ".join(change.campaigns) or "no running campaign"
    console.print(
        f"the lead is active again; {change.timers} next steps scheduled in {where_now}", markup=False
    )


@suppress_app.command("export")
def suppress_export(
    ctx: typer.Context,
    tenant_id: Annotated[str | None, typer.Argument(help="tenant (omit for the global list)")] = None,
    out: Annotated[Path | None, typer.Option(help="CSV file to write (default: standard output)")] = None,
) -> None:
    """The list as CSV: email (empty once erased), hash, scope, reason, source, since."""
    state: CliState = ctx.obj
    scope = SuppressionScope.TENANT if tenant_id else SuppressionScope.GLOBAL
    if tenant_id:
        known_tenant(state, tenant_id)
    entries = app_for(state).services.suppression().export(scope, tenant_id)
    handle = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
    try:
        writer = csv.writer(handle)
        writer.writerow(["email", "email_hash", "scope", "tenant", "reason", "source", "created_at"])
        for e in entries:
            writer.writerow(
                [e.email or "", e.email_hash, e.scope.value, e.tenant_id or "", e.reason.value, e.source,
                 e.created_at.isoformat()]
            )  # fmt: skip
    finally:
        if out:
            handle.close()
    if out:
        console.print(f"{len(entries)} entries written to {out}")


@suppress_app.command("erase")
def suppress_erase(ctx: typer.Context, tenant_id: str, email: str, reason: Reason, actor: Actor) -> None:
    """Erase-on-request: delete the lead's personal data and keep only the address's hash, suppressed."""
    state: CliState = ctx.obj
    application = app_for(state)
    known_tenant(state, tenant_id)
    report = application.services.suppression().erase(
        tenant_id, address(email), at=application.adapters.clock().now(), actor=actor, reason=reason
    )
    console.print(
        f"erased: lead deleted={report.lead_erased}, entries scrubbed={report.entries_scrubbed}, "
        f"jobs cancelled={report.jobs_cancelled}, jobs scrubbed (subject, reasons)={report.jobs_scrubbed}"
    )


@jobs_app.command("resolve")
def jobs_resolve(
    ctx: typer.Context,
    tenant_id: str,
    job_id: str,
    reason: Reason,
    actor: Actor,
    sent: Annotated[
        bool, typer.Option("--sent", help="it did go out: record it, the sequence goes on")
    ] = False,
    failed: Annotated[
        bool, typer.Option("--failed", help="it did not go out: close it, never resend")
    ] = False,
) -> None:
    """Resolve an `uncertain` job after checking (the provider's console, the recipient)."""
    if sent == failed:
        fail("say --sent or --failed")
    state: CliState = ctx.obj
    try:
        job = (
            app_for(state)
            .services.uncertain()
            .resolve(
                tenant_id, job_id, Resolution.SENT if sent else Resolution.FAILED, actor=actor, reason=reason
            )
        )
    except (ValueError, NotFoundError) as exc:
        fail(str(exc.args[0] if exc.args else exc))
    console.print(f"{job.job_id}: {job.status.value}")


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument(help="tenant id (GLOBAL for the global list's log)")],
    since: Annotated[str | None, typer.Option(help="from this UTC date or time (ISO 8601)")] = None,
    action: Annotated[
        str | None, typer.Option(help="only actions starting with this (e.g. suppression.)")
    ] = None,
    limit: int = 200,
    as_json: JsonFlag = False,
) -> None:
    """Who did what, when and why, newest last (GLOBAL: the global suppression list's log)."""
    state: CliState = ctx.obj
    start = None
    if since:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            fail(f"--since {since!r} is not an ISO date or time")
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    known_tenant(state, tenant_id, allow_global=True)
    entries = app_for(state).services.audit_log().entries(tenant_id, since=start, action=action, limit=limit)
    if as_json:
        emit_json([entry.model_dump(mode="json") for entry in entries])
        return
    grid = table("when (UTC)", "actor", "action", "target", "reason", "details")
    for e in entries:
        details = ", ".join(f"{k}={v}" for k, v in e.details.items() if v not in ("", None))
        grid.add_row(
            f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.target[:24], e.reason[:60], details[:80]
        )
    console.print(grid)


@audit_app.command("archive")
def audit_archive(
    ctx: typer.Context,
    tenant_id: Annotated[str | None, typer.Argument(help="tenant id (omit: every tenant and GLOBAL)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Copy complete days of the log to the archive (JSON lines per tenant per day). Safe to repeat."""
    state: CliState = ctx.obj
    application = app_for(state)
    if tenant_id:
        known_tenant(state, tenant_id, allow_global=True)
    tenants = (
        [tenant_id] if tenant_id else [t.id for t in application.services.records().tenants()] + ["GLOBAL"]
    )
    log = application.services.audit_log()
    done = [(tenant, day) for tenant in tenants for day in log.archive_pending(tenant)]
    if as_json:
        emit_json([{"tenant": t, "day": d.day, "entries": d.entries, "ref": d.ref} for t, d in done])
        return
    for tenant, day in done:
        console.print(f"{tenant} {day.day}: {day.entries} entries -> {day.ref}")
