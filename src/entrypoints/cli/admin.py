"""Admin commands: tenants, directions, identities, templates, campaigns and lead imports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from entrypoints.cli.context import CliState, app_for, fail
from outreach_core.domain.models import MAX_STEP_DELAY, CampaignStep, IdentityStatus, LawfulBasis, Quotas
from outreach_core.domain.window import WindowSpec
from outreach_core.records import AlreadyExistsError, NotFoundError
from outreach_core.services.admin import AdminService

console = Console()
tenant_app = typer.Typer(help="Client companies.", no_args_is_help=True)
direction_app = typer.Typer(help="Offers / verticals of a tenant.", no_args_is_help=True)
identity_app = typer.Typer(help="Sender identities (verified from-addresses).", no_args_is_help=True)
template_app = typer.Typer(help="Message templates.", no_args_is_help=True)
campaign_app = typer.Typer(help="Multi-step campaigns.", no_args_is_help=True)
leads_app = typer.Typer(help="Lead lists.", no_args_is_help=True)

Ctx = typer.Context
Tenant = Annotated[str, typer.Argument(help="tenant id")]


def _admin(ctx: Ctx) -> AdminService:
    state: CliState = ctx.obj
    service: AdminService = app_for(state).services.admin()
    return service


@contextmanager
def _guarded(action: str) -> Iterator[None]:
    """Turn expected failures (validation, duplicates, missing records) into one clear line."""
    try:
        yield
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
        fail(f"{action}: {details}")
    except (ValueError, AlreadyExistsError, NotFoundError) as exc:
        fail(f"{action}: {exc.args[0] if exc.args else exc}")


# --- tenants -------------------------------------------------------------------------------------


@tenant_app.command("add")
def tenant_add(
    ctx: Ctx,
    tenant_id: Tenant,
    name: Annotated[str, typer.Option(help="display name")],
    address: Annotated[str, typer.Option(help="postal address printed in every footer")],
    legal_name: str = "",
    privacy_url: str = "",
    timezone: Annotated[str, typer.Option(help="default sending-window time zone")] = "UTC",
    days: Annotated[str, typer.Option(help="sending days")] = "mon,tue,wed,thu,fri",
    start: str = "09:00",
    end: str = "17:00",
    daily: Annotated[int, typer.Option(help="sends per UTC day")] = 1000,
    hourly: Annotated[int, typer.Option(help="sends admitted per hour")] = 120,
) -> None:
    with _guarded("tenant add"):
        window = WindowSpec(timezone=timezone, days=days.split(","), start=start, end=end).to_window()
        _admin(ctx).add_tenant(
            tenant_id,
            name,
            address,
            legal_name=legal_name,
            privacy_url=privacy_url,
            window=window,
            quotas=Quotas(daily=daily, hourly=hourly),
        )
    console.print(f"tenant {tenant_id} added")


@tenant_app.command("hygiene")
def tenant_hygiene(
    ctx: Ctx,
    tenant_id: Tenant,
    role_accounts: Annotated[
        str | None, typer.Option(help="info@, sales@, ...: allow, flag (send and show) or skip")
    ] = None,
    typos: Annotated[str | None, typer.Option(help="likely typos of big domains: flag or skip")] = None,
) -> None:
    """Show or set the tenant's list-hygiene policy (dead, disposable, do-not-contact: always skipped)."""
    from outreach_core.policies.hygiene import RolePolicy, TypoPolicy

    application = app_for(ctx.obj)
    hygiene = application.services.hygiene()
    with _guarded("tenant hygiene"):
        policy = hygiene.policy(tenant_id)
        if role_accounts is not None or typos is not None:
            policy = policy.model_copy(
                update={
                    "role_accounts": RolePolicy(role_accounts) if role_accounts else policy.role_accounts,
                    "typo_domains": TypoPolicy(typos) if typos else policy.typo_domains,
                }
            )
            hygiene.set_policy(tenant_id, policy, at=application.adapters.clock().now(), actor="operator")
    console.print(
        f"{tenant_id}: role accounts {policy.role_accounts.value}, typo domains {policy.typo_domains.value}; "
        "dead, disposable and do-not-contact domains and unattended mailboxes are always skipped"
    )


@tenant_app.command("list")
def tenant_list(ctx: Ctx) -> None:
    table = Table("id", "name", "window", "daily", "hourly")
    for t in _admin(ctx).tenants():
        w = t.window
        table.add_row(
            t.id,
            t.name,
            f"{w.timezone} {w.start:%H:%M}-{w.end:%H:%M}",
            str(t.quotas.daily),
            str(t.quotas.hourly),
        )
    console.print(table)


# --- directions ----------------------------------------------------------------------------------


@direction_app.command("add")
def direction_add(
    ctx: Ctx,
    tenant_id: Tenant,
    direction_id: str,
    name: Annotated[str, typer.Option()],
    description: str = "",
) -> None:
    with _guarded("direction add"):
        _admin(ctx).add_direction(tenant_id, direction_id, name, description)
    console.print(f"direction {tenant_id}/{direction_id} added")


@direction_app.command("list")
def direction_list(ctx: Ctx, tenant_id: Tenant) -> None:
    table = Table("id", "name", "description")
    with _guarded("direction list"):
        for d in _admin(ctx).directions(tenant_id):
            table.add_row(d.id, d.name, d.description)
    console.print(table)


# --- identities ----------------------------------------------------------------------------------


@identity_app.command("add")
def identity_add(
    ctx: Ctx,
    tenant_id: Tenant,
    identity_id: str,
    email: Annotated[str, typer.Option(help="verified from-address")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    direction: Annotated[
        list[str] | None, typer.Option(help="direction it sends for (repeat); none = all")
    ] = None,
    daily_cap: int = 50,
    weight: float = 1.0,
    reply_to: str = "",
) -> None:
    with _guarded("identity add"):
        _admin(ctx).add_identity(
            tenant_id,
            identity_id,
            email,
            display_name=name,
            directions=tuple(direction or ()),
            daily_cap=daily_cap,
            weight=weight,
            reply_to=reply_to,
        )
    console.print(f"identity {tenant_id}/{identity_id} added")


@identity_app.command("list")
def identity_list(ctx: Ctx, tenant_id: Tenant) -> None:
    table = Table("id", "email", "directions", "cap", "weight", "status")
    with _guarded("identity list"):
        for i in _admin(ctx).identities(tenant_id):
            table.add_row(
                i.id,
                i.email,
                ",".join(i.directions) or "all",
                str(i.daily_cap),
                f"{i.weight:g}",
                i.status.value + (f" ({i.status_reason})" if i.status_reason else ""),
            )
    console.print(table)


def _set_identity(ctx: Ctx, tenant_id: str, identity_id: str, status: IdentityStatus, reason: str) -> None:
    with _guarded(f"identity {status.value}"):
        _admin(ctx).set_identity_status(tenant_id, identity_id, status, reason)
    console.print(f"identity {tenant_id}/{identity_id} is {status.value}")


@identity_app.command("block")
def identity_block(
    ctx: Ctx, tenant_id: Tenant, identity_id: str, reason: str = "blocked by operator"
) -> None:
    _set_identity(ctx, tenant_id, identity_id, IdentityStatus.BLOCKED, reason)


@identity_app.command("pause")
def identity_pause(ctx: Ctx, tenant_id: Tenant, identity_id: str, reason: str = "paused by operator") -> None:
    _set_identity(ctx, tenant_id, identity_id, IdentityStatus.PAUSED, reason)


@identity_app.command("unblock")
def identity_unblock(ctx: Ctx, tenant_id: Tenant, identity_id: str) -> None:
    _set_identity(ctx, tenant_id, identity_id, IdentityStatus.ACTIVE, "")


@identity_app.command("resume-at")
def identity_resume_at(
    ctx: Ctx,
    tenant_id: Tenant,
    identity_id: str,
    provider: Annotated[str, typer.Argument(help="receiving provider, as `outreach status` shows it")],
) -> None:
    """End an identity's pause at one receiving provider (a sender block) before its cool-down."""
    from outreach_core.policies.providers import Provider

    with _guarded("identity resume-at"):
        guard = app_for(ctx.obj).services.guard()
        if not guard.resume_at_provider(tenant_id, identity_id, Provider(provider), "operator"):
            raise NotFoundError(f"identity {tenant_id}/{identity_id} is not paused at {provider}")
    console.print(f"identity {tenant_id}/{identity_id} sends to {provider} again")


# --- templates -----------------------------------------------------------------------------------


@template_app.command("add")
def template_add(
    ctx: Ctx,
    tenant_id: Tenant,
    template_id: str,
    subject: Annotated[str, typer.Option(help="empty on a follow-up: 'Re: ' + the first email's subject")],
    text_file: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="plain-text body (UTF-8)")],
    html_file: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
) -> None:
    with _guarded("template add"):
        html = html_file.read_text(encoding="utf-8") if html_file else None
        _admin(ctx).add_template(tenant_id, template_id, subject, text_file.read_text(encoding="utf-8"), html)
    console.print(f"template {tenant_id}/{template_id} added")


@template_app.command("list")
def template_list(ctx: Ctx, tenant_id: Tenant) -> None:
    table = Table("id", "subject", "html")
    with _guarded("template list"):
        for t in _admin(ctx).templates(tenant_id):
            table.add_row(t.id, t.subject or "(reply in thread)", "yes" if t.html else "no")
    console.print(table)


# --- campaigns -----------------------------------------------------------------------------------


def _parse_step(number: int, spec: str) -> CampaignStep:
    template_id, _, delay = spec.partition(":")
    try:
        days = float(delay) if delay else 0.0
    except ValueError as exc:
        raise ValueError(f"step {number}: delay {delay!r} is not a number of days (TEMPLATE[:DAYS])") from exc
    if not 0 <= days <= MAX_STEP_DELAY.days:  # also NaN and inf, which compare false
        raise ValueError(f"step {number}: delay {delay!r} must be 0 to {MAX_STEP_DELAY.days} days")
    return CampaignStep(number=number, template_id=template_id, delay=timedelta(days=days))


@campaign_app.command("add")
def campaign_add(
    ctx: Ctx,
    tenant_id: Tenant,
    campaign_id: str,
    direction: Annotated[str, typer.Option(help="direction id")],
    step: Annotated[
        list[str], typer.Option(help="TEMPLATE[:DAYS after the previous step], in order; repeat")
    ],
    lead_list: Annotated[str, typer.Option("--list", help="lead list it targets")] = "default",
    name: str = "",
) -> None:
    with _guarded("campaign add"):
        steps = [_parse_step(n, spec) for n, spec in enumerate(step, start=1)]
        _admin(ctx).add_campaign(tenant_id, campaign_id, direction, steps, name=name, lead_list=lead_list)
    console.print(
        f"campaign {tenant_id}/{campaign_id} added ({len(step)} steps); start it with "
        f"'outreach campaign start {tenant_id} {campaign_id}'"
    )


@campaign_app.command("list")
def campaign_list(ctx: Ctx, tenant_id: Tenant) -> None:
    table = Table("id", "direction", "list", "steps", "status")
    with _guarded("campaign list"):
        for c in _admin(ctx).campaigns(tenant_id):
            table.add_row(
                c.id,
                c.direction_id,
                c.lead_list,
                str(len(c.steps)),
                c.status.value + (f" ({c.status_reason})" if c.status_reason else ""),
            )
    console.print(table)


@campaign_app.command("start")
def campaign_start(
    ctx: Ctx,
    tenant_id: Tenant,
    campaign_id: str,
    override_domain_check: Annotated[
        str, typer.Option(help="start although SPF / DKIM / DMARC fail: the reason, kept in the audit log")
    ] = "",
) -> None:
    """Start a draft campaign, after checking every domain it may send from (`outreach domain check`)."""
    from entrypoints.cli.domains import print_report
    from outreach_core.services.domain_health import DomainCheckFailed

    application = app_for(ctx.obj)
    with _guarded("campaign start"):
        try:
            reports = application.services.domain_health().gate(
                tenant_id, campaign_id, override=override_domain_check
            )
        except DomainCheckFailed as exc:
            for report in exc.reports:
                print_report(report)
            fail(
                f"campaign start: {exc}. Fix the DNS and run it again, or start it with "
                "--override-domain-check REASON (audited)"
            )
        for report in reports:
            if report.failing or override_domain_check:
                print_report(report)
        enrolled = _admin(ctx).start_campaign(tenant_id, campaign_id)
    console.print(f"campaign {tenant_id}/{campaign_id} running; {enrolled} leads enrolled")


@campaign_app.command("pause")
def campaign_pause(ctx: Ctx, tenant_id: Tenant, campaign_id: str, reason: str = "paused by operator") -> None:
    with _guarded("campaign pause"):
        _admin(ctx).pause_campaign(tenant_id, campaign_id, reason)
    console.print(f"campaign {tenant_id}/{campaign_id} paused")


@campaign_app.command("resume")
def campaign_resume(ctx: Ctx, tenant_id: Tenant, campaign_id: str) -> None:
    with _guarded("campaign resume"):
        reopened = _admin(ctx).resume_campaign(tenant_id, campaign_id)
    console.print(f"campaign {tenant_id}/{campaign_id} running again; {reopened} paused jobs reopened")


# --- leads ---------------------------------------------------------------------------------------


@leads_app.command("import")
def leads_import(
    ctx: Ctx,
    tenant_id: Tenant,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with an email column")],
    lead_list: Annotated[str, typer.Option("--list", help="list the leads join")] = "default",
    source: Annotated[
        str, typer.Option(help="where the addresses came from (if the CSV has no source column)")
    ] = "",
    basis: Annotated[
        LawfulBasis, typer.Option(help="lawful basis (if the CSV has no lawful_basis column)")
    ] = (LawfulBasis.LEGITIMATE_INTEREST),
) -> None:
    state: CliState = ctx.obj
    with _guarded("leads import"), file.open("rb") as rows:  # streamed: a big list is never held whole
        report = (
            app_for(state)
            .services.leads()
            .import_csv(
                tenant_id,
                rows,
                list_name=lead_list,
                source=source or f"csv:{file.name}",
                lawful_basis=basis,
            )
        )
    console.print(
        f"imported {report.imported} leads ({report.enrolled} enrolled in running campaigns); "
        f"{len(report.skipped)} skipped by list hygiene; {report.rejected} rows rejected"
    )
    for title, rows in (
        ("Rejected rows (not imported)", report.problems),
        ("Skipped by list hygiene (kept, never sent to)", report.skipped),
        ("Flagged (imported and sent to)", report.flagged),
    ):
        if rows:
            table = Table("line", "reason", "email", title=title)
            for p in rows:
                table.add_row(str(p.line), p.reason, p.email)
            console.print(table)


@leads_app.command("skipped")
def leads_skipped(
    ctx: Ctx,
    tenant_id: Tenant,
    lead_list: Annotated[str | None, typer.Option("--list", help="only this list")] = None,
) -> None:
    """Leads list hygiene skipped (at import or just before step 1), each with its reason."""
    from outreach_core.domain.models import Lead, LeadStatus

    state: CliState = ctx.obj
    with _guarded("leads skipped"):
        leads = app_for(state).services.records().all(Lead, tenant_id)
    table = Table("email", "list", "why", "reason")
    for lead in leads:
        if lead.status is LeadStatus.SKIPPED and (lead_list is None or lead.list_name == lead_list):
            table.add_row(lead.email, lead.list_name, lead.skip_code, lead.status_reason)
    console.print(table)
