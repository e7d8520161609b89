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

from entrypoints.cli.context import CliState, app_for, fail
from entrypoints.cli.conventions import group
from entrypoints.cli.output import JsonFlag, emit_json, table
from outreach_core.domain.models import (
    MAX_STEP_DELAY,
    CampaignStep,
    IdentityStatus,
    LawfulBasis,
    Quotas,
    Variant,
)
from outreach_core.domain.window import WindowSpec
from outreach_core.policies.config import TenantPolicy
from outreach_core.records import AlreadyExistsError, NotFoundError
from outreach_core.services.admin import AdminService

console = Console()  # the one of cli.output: plain stdout
tenant_app = group("Client companies.")
direction_app = group("Offers / verticals of a tenant.")
identity_app = group("Sender identities (verified from-addresses).")
template_app = group("Message templates.")
campaign_app = group("Multi-step campaigns.")
leads_app = group("Lead lists.")

Ctx = typer.Context
Tenant = Annotated[str, typer.Argument(help="tenant id")]


def _admin(ctx: Ctx) -> AdminService:
    state: CliState = ctx.obj
    service: AdminService = app_for(state).services.admin()
    return service


@contextmanager
def guarded(action: str) -> Iterator[None]:
    """Turn expected failures (validation, duplicates, missing records) into one clear line."""
    try:
        yield
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
        fail(f"{action}: {details}")
    except (ValueError, AlreadyExistsError, NotFoundError) as exc:
        fail(f"{action}: {exc.args[0] if exc.args else exc}")


_guarded = guarded


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
    days: Annotated[str, typer.Option(help="sending days: mon,tue,... or all")] = "mon,tue,wed,thu,fri",
    start: Annotated[str, typer.Option(help="the window opens (the lead's local time)")] = "09:00",
    end: Annotated[str, typer.Option(help="the window closes; = start: all day")] = "17:00",
    daily: Annotated[int, typer.Option(help="sends per UTC day")] = 1000,
    hourly: Annotated[int, typer.Option(help="sends admitted per hour")] = 120,
) -> None:
    """Add a client company: its footer address, sending window and quotas.

    --days all --start 00:00 --end 00:00 sends at any hour (to try a campaign now)."""
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
    as_json: JsonFlag = False,
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
    if as_json:
        emit_json(policy.model_dump(mode="json"))
        return
    console.print(
        f"{tenant_id}: role accounts {policy.role_accounts.value}, typo domains {policy.typo_domains.value}; "
        "dead, disposable and do-not-contact domains and unattended mailboxes are always skipped"
    )


@tenant_app.command("policy")
def tenant_policy(
    ctx: Ctx,
    tenant_id: Tenant,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="JSON of the overrides (identity, providers, warmup, aimd, autostop); omit to show "
            "the effective policy",
        ),
    ] = None,
) -> None:
    """Show the tenant's effective sending policy, or replace its overrides from a JSON file."""
    services = app_for(ctx.obj).services
    with _guarded("tenant policy"):
        if file is not None:
            try:
                text = file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"{file}: {exc.strerror}") from exc
            policy = TenantPolicy.model_validate_json(text)
            _admin(ctx).set_tenant_policy(tenant_id, policy, services.limiter())
            overrides = ", ".join(sorted(policy.model_fields_set)) or "none"
            console.print(f"tenant {tenant_id}: sending policy overrides set ({overrides})")
            return
        services.records().tenant(tenant_id)
        typer.echo(services.limiter().policy_for(tenant_id).model_dump_json(indent=2))


@tenant_app.command("list")
def tenant_list(ctx: Ctx, as_json: JsonFlag = False) -> None:
    """The tenants, their windows and quotas."""
    tenants = _admin(ctx).tenants()
    if as_json:
        emit_json([t.model_dump(mode="json", exclude={"holidays"}) for t in tenants])
        return
    grid = table("id", "name", "window", "daily", "hourly", "overlap", numeric=("daily", "hourly"))
    for t in tenants:
        grid.add_row(
            t.id, t.name, t.window.describe(), str(t.quotas.daily), str(t.quotas.hourly), t.overlap.value
        )
    console.print(grid)


# --- directions ----------------------------------------------------------------------------------


@direction_app.command("add")
def direction_add(
    ctx: Ctx,
    tenant_id: Tenant,
    direction_id: str,
    name: Annotated[str, typer.Option()],
    description: str = "",
) -> None:
    """Add an offer or vertical of a tenant (identities and campaigns belong to one)."""
    with _guarded("direction add"):
        _admin(ctx).add_direction(tenant_id, direction_id, name, description)
    console.print(f"direction {tenant_id}/{direction_id} added")


@direction_app.command("list")
def direction_list(ctx: Ctx, tenant_id: Tenant, as_json: JsonFlag = False) -> None:
    """A tenant's directions."""
    with _guarded("direction list"):
        directions = _admin(ctx).directions(tenant_id)
    if as_json:
        emit_json([d.model_dump(mode="json") for d in directions])
        return
    grid = table("id", "name", "description")
    for d in directions:
        grid.add_row(d.id, d.name, d.description)
    console.print(grid)


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
    daily_cap: Annotated[int, typer.Option(help="sends per day once warmed up")] = 50,
    weight: Annotated[float, typer.Option(help="rotation weight among the tenant's identities")] = 1.0,
    reply_to: Annotated[
        str, typer.Option(help="Reply-To; {reply_token} in it matches replies by token")
    ] = "",
) -> None:
    """Add a sender identity (a verified from-address); it warms up from 20 a day to its cap."""
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
def identity_list(ctx: Ctx, tenant_id: Tenant, as_json: JsonFlag = False) -> None:
    """A tenant's identities: address, directions, cap, status and how each sends and reads mail."""
    with _guarded("identity list"):
        identities = _admin(ctx).identities(tenant_id)
    rows = [
        {
            **i.model_dump(mode="json", exclude={"smtp", "imap"}),
            # hosts and users only: a secret is a reference, and references are not shown here either
            "sends_via": f"smtp {i.smtp.host}:{i.smtp.port}" if i.smtp else "default",
            "mailbox": f"imap {i.imap.host}:{i.imap.port}/{i.imap.folder}" if i.imap else "",
        }
        for i in identities
    ]
    if as_json:
        emit_json(rows)
        return
    grid = table(
        "id",
        "email",
        "directions",
        "cap",
        "weight",
        "status",
        "sends via",
        "mailbox",
        numeric=("cap", "weight"),
    )
    for row in rows:
        grid.add_row(
            str(row["id"]),
            str(row["email"]),
            ",".join(row["directions"]) or "all",
            str(row["daily_cap"]),
            f"{row['weight']:g}",
            str(row["status"]) + (f" ({row['status_reason']})" if row["status_reason"] else ""),
            str(row["sends_via"]),
            str(row["mailbox"]) or "-",
        )
    console.print(grid)


def _set_identity(ctx: Ctx, tenant_id: str, identity_id: str, status: IdentityStatus, reason: str) -> None:
    with _guarded(f"identity {status.value}"):
        _admin(ctx).set_identity_status(tenant_id, identity_id, status, reason)
    console.print(f"identity {tenant_id}/{identity_id} is {status.value}")


@identity_app.command("block")
def identity_block(
    ctx: Ctx, tenant_id: Tenant, identity_id: str, reason: str = "blocked by operator"
) -> None:
    """Stop an identity sending, for good until unblocked (what a complaint spike does)."""
    _set_identity(ctx, tenant_id, identity_id, IdentityStatus.BLOCKED, reason)


@identity_app.command("pause")
def identity_pause(ctx: Ctx, tenant_id: Tenant, identity_id: str, reason: str = "paused by operator") -> None:
    """Hold an identity: its follow-ups wait, other identities take new first emails."""
    _set_identity(ctx, tenant_id, identity_id, IdentityStatus.PAUSED, reason)


@identity_app.command("unblock")
def identity_unblock(ctx: Ctx, tenant_id: Tenant, identity_id: str) -> None:
    """Let a blocked or paused identity send again."""
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
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="a custom lead column the leads will bring, not imported yet (repeat)"),
    ] = None,
) -> None:
    """Add a template, linted first (line and column of every problem).

    Refused: an unclosed {{ or {, spintax errors, and placeholders naming no lead field (the standard
    ones, the columns of the tenant's leads, --field)."""
    with _guarded("template add"):
        html = html_file.read_text(encoding="utf-8") if html_file else None
        _admin(ctx).add_template(
            tenant_id, template_id, subject, text_file.read_text(encoding="utf-8"), html, tuple(field or ())
        )
    console.print(f"template {tenant_id}/{template_id} added")


@template_app.command("list")
def template_list(ctx: Ctx, tenant_id: Tenant, as_json: JsonFlag = False) -> None:
    """A tenant's templates and their current revision."""
    with _guarded("template list"):
        templates = _admin(ctx).templates(tenant_id)
    if as_json:
        emit_json([t.model_dump(mode="json") for t in templates])
        return
    grid = table("id", "rev", "subject", "html", numeric=("rev",))
    for t in templates:
        grid.add_row(t.id, str(t.revision), t.subject or "(reply in thread)", "yes" if t.html else "no")
    console.print(grid)


# --- campaigns -----------------------------------------------------------------------------------


STEP_SPEC = "TEMPLATE[=WEIGHT][,TEMPLATE[=WEIGHT]...][:DAYS]"


def parse_step(number: int, spec: str) -> CampaignStep:
    """`first`, `bump:3` (3 days after the previous step), `intro-a,intro-b:0` (an A/B step, even split),
    `intro-a=3,intro-b=1` (75% / 25%)."""
    templates, _, delay = spec.partition(":")
    try:
        days = float(delay) if delay else 0.0
    except ValueError as exc:
        raise ValueError(f"step {number}: delay {delay!r} is not a number of days ({STEP_SPEC})") from exc
    if not 0 <= days <= MAX_STEP_DELAY.days:  # also NaN and inf, which compare false
        raise ValueError(f"step {number}: delay {delay!r} must be 0 to {MAX_STEP_DELAY.days} days")
    variants: list[Variant] = []
    for part in templates.split(","):
        template_id, _, weight = part.strip().partition("=")
        try:
            variants.append(Variant(template_id=template_id, weight=int(weight) if weight else 1))
        except ValueError as exc:
            raise ValueError(f"step {number}: {part!r} is not TEMPLATE[=WEIGHT 1-100] ({STEP_SPEC})") from exc
    first = variants[0].template_id
    return CampaignStep(
        number=number,
        template_id=first,
        variants=tuple(variants) if len(variants) > 1 else (),
        delay=timedelta(days=days),
    )


_parse_step = parse_step


@campaign_app.command("add")
def campaign_add(
    ctx: Ctx,
    tenant_id: Tenant,
    campaign_id: str,
    direction: Annotated[str, typer.Option(help="direction id")],
    step: Annotated[
        list[str],
        typer.Option(help=f"{STEP_SPEC}: days after the previous step; A/B variants with commas; repeat"),
    ],
    lead_list: Annotated[str, typer.Option("--list", help="lead list it targets")] = "default",
    name: Annotated[str, typer.Option(help="display name (default: the id)")] = "",
) -> None:
    """Add a draft campaign: a direction, a lead list and its steps (A/B variants with commas)."""
    with _guarded("campaign add"):
        steps = [_parse_step(n, spec) for n, spec in enumerate(step, start=1)]
        _admin(ctx).add_campaign(tenant_id, campaign_id, direction, steps, name=name, lead_list=lead_list)
    console.print(
        f"campaign {tenant_id}/{campaign_id} added ({len(step)} steps); start it with "
        f"'outreach campaign start {tenant_id} {campaign_id}'"
    )


@campaign_app.command("list")
def campaign_list(ctx: Ctx, tenant_id: Tenant, as_json: JsonFlag = False) -> None:
    """A tenant's campaigns, their steps and status."""
    with _guarded("campaign list"):
        campaigns = _admin(ctx).campaigns(tenant_id)
    if as_json:
        emit_json([c.model_dump(mode="json") for c in campaigns])
        return
    grid = table("id", "direction", "list", "steps", "status")
    for c in campaigns:
        steps = " ".join(
            ",".join(s.template_ids) + (f":{s.delay.total_seconds() / 86400:g}" if s.number > 1 else "")
            for s in c.steps
        )
        grid.add_row(
            c.id,
            c.direction_id,
            c.lead_list,
            steps,
            c.status.value + (f" ({c.status_reason})" if c.status_reason else ""),
        )
    console.print(grid)


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
    """Hold a running campaign: queued messages are cancelled and reopened by `campaign resume`."""
    with _guarded("campaign pause"):
        _admin(ctx).pause_campaign(tenant_id, campaign_id, reason)
    console.print(f"campaign {tenant_id}/{campaign_id} paused")


@campaign_app.command("resume")
def campaign_resume(ctx: Ctx, tenant_id: Tenant, campaign_id: str) -> None:
    """Run a paused campaign again: its held messages and next steps are planned again."""
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
    encoding: Annotated[
        str | None,
        typer.Option(help="the file's encoding when not UTF-8 or UTF-16 with BOM: cp1252, latin-1, ..."),
    ] = None,
) -> None:
    """Import leads from a CSV: every good row in, every bad row reported with its line.

    `outreach leads columns` lists the columns; docs/samples/leads.csv is one. The separator is
    detected (comma, semicolon, tab, pipe)."""
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
                encoding=encoding,
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
            grid = table("line", "reason", "email", title=title, numeric=("line",))
            for p in rows:
                grid.add_row(str(p.line), p.reason, p.email)
            console.print(grid)


@leads_app.command("skipped")
def leads_skipped(
    ctx: Ctx,
    tenant_id: Tenant,
    lead_list: Annotated[str | None, typer.Option("--list", help="only this list")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Leads list hygiene skipped (at import or just before step 1), each with its reason."""
    from outreach_core.domain.models import Lead, LeadStatus

    state: CliState = ctx.obj
    with _guarded("leads skipped"):
        leads = app_for(state).services.records().all(Lead, tenant_id)
    chosen = [
        lead
        for lead in leads
        if lead.status is LeadStatus.SKIPPED and (lead_list is None or lead.list_name == lead_list)
    ]
    if as_json:
        emit_json(
            [
                {"email": x.email, "list": x.list_name, "why": x.skip_code, "reason": x.status_reason}
                for x in chosen
            ]
        )
        return
    grid = table("email", "list", "why", "reason")  # the email column (first) is never broken
    for lead in chosen:
        grid.add_row(lead.email, lead.list_name, lead.skip_code, lead.status_reason)
    console.print(grid)
