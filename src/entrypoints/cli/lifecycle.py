"""Steering a running engine: campaign stop, step edits and forecast; one lead's timeline and its
pause, resume, removal or finish; failed jobs; tenant and identity updates and holiday calendars.
Registered on the groups of cli/admin.py and cli/ops.py."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import typer

from entrypoints.cli.admin import (
    STEP_SPEC,
    Tenant,
    campaign_app,
    guarded,
    identity_app,
    leads_app,
    parse_step,
    tenant_app,
)
from entrypoints.cli.context import CliState, app_for, fail, known_tenant
from entrypoints.cli.ops import jobs_app
from entrypoints.cli.output import JsonFlag, console, emit_json, table, when
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import Overlap, Quotas
from outreach_core.domain.window import WindowSpec
from outreach_core.services.lifecycle import LeadChange

CampaignId = Annotated[str, typer.Argument(help="campaign id", metavar="CAMPAIGN")]
Email = Annotated[str, typer.Argument(help="the lead's address", metavar="EMAIL")]
ReasonOption = Annotated[str, typer.Option(metavar="TEXT", help="why (kept in the audit log)")]


# --- campaigns ------------------------------------------------------------------------------------------


@campaign_app.command("stop")
def campaign_stop(
    ctx: typer.Context, tenant_id: Tenant, campaign_id: CampaignId, reason: ReasonOption = ""
) -> None:
    """End a campaign for good: planned and queued messages are cancelled, nothing more is sent.

    `campaign pause` stops it for now; a stopped campaign cannot be resumed."""
    with guarded("campaign stop"):
        _, cancelled = app_for(ctx.obj).services.admin().stop_campaign(tenant_id, campaign_id, reason)
    console.print(
        f"campaign {tenant_id}/{campaign_id} stopped; {cancelled} planned or queued messages cancelled"
    )


@campaign_app.command("edit-step")
def campaign_edit_step(
    ctx: typer.Context,
    tenant_id: Tenant,
    campaign_id: CampaignId,
    number: Annotated[int, typer.Argument(help="the step's number (1 = the first email)", metavar="STEP")],
    spec: Annotated[
        str, typer.Argument(help=f"{STEP_SPEC}, e.g. bump-v2:4 or intro-a,intro-b", metavar="SPEC")
    ],
) -> None:
    """Change a step's template(s), weights or delay, in a draft, running or paused campaign.

    What is not sent yet uses the change; a new delay moves the step timers not yet due."""
    with guarded("campaign edit-step"):
        step = parse_step(number, spec)
        app_for(ctx.obj).services.admin().edit_step(tenant_id, campaign_id, step)
    console.print(f"campaign {tenant_id}/{campaign_id}: step {number} is now {spec}")


@campaign_app.command("add-step")
def campaign_add_step(
    ctx: typer.Context,
    tenant_id: Tenant,
    campaign_id: CampaignId,
    spec: Annotated[str, typer.Argument(help=f"{STEP_SPEC}, e.g. breakup:5", metavar="SPEC")],
) -> None:
    """Append a step. Leads who already got the old last step get it too, its delay after that send."""
    with guarded("campaign add-step"):
        campaign, enrolled = (
            app_for(ctx.obj).services.admin().add_step(tenant_id, campaign_id, parse_step(1, spec))
        )
    console.print(
        f"campaign {tenant_id}/{campaign_id}: step {len(campaign.steps)} added; "
        f"{enrolled} leads who had finished the sequence will get it"
    )


@campaign_app.command("forecast")
def campaign_forecast(
    ctx: typer.Context,
    tenant_id: Tenant,
    campaign_id: CampaignId,
    days: Annotated[int, typer.Option(min=1, metavar="N", help="how many sending days to list")] = 14,
    as_json: JsonFlag = False,
) -> None:
    """When the campaign will be done, day by day under every limit, window and warm-up.

    What is left is laid out under the tenant's quotas, its window and holidays, each identity's
    warm-up ramp and limits (shared with the tenant's other running campaigns). A draft or paused
    campaign is forecast as if started now."""
    with guarded("campaign forecast"):
        result = app_for(ctx.obj).services.forecast().campaign(tenant_id, campaign_id)
    plan = result.plan
    finish = result.finish
    if as_json:
        emit_json(
            {
                "tenant": tenant_id,
                "campaign": campaign_id,
                "status": result.campaign.status.value,
                "today": result.today,
                "remaining_messages": result.remaining,
                "finish": finish,
                "not_placed": plan.left_over,
                "paused_leads": result.paused_leads,
                "holidays": [{"day": d, "name": n} for d, n in result.holidays],
                "calendar_ends": result.calendar_ends,
                "days": [
                    {
                        "day": d.day,
                        "sent": d.sent,
                        "this_campaign": d.per_campaign.get(campaign_id, 0),
                        "capacity": d.capacity,
                        "binding": d.binding,
                        "closed": d.closed,
                    }
                    for d in plan.days
                ],
                "assumptions": list(plan.assumptions),
            }
        )
        return
    if not result.remaining:
        console.print(f"{tenant_id}/{campaign_id}: nothing left to send ({result.campaign.status.value})")
        return
    verdict = f"done on {finish:%a %Y-%m-%d}" if finish else "not done within a year at these limits"
    console.print(
        f"{tenant_id}/{campaign_id}: {result.remaining} messages left, {verdict} "
        f"({(finish - result.today).days if finish else '-'} days from today)",
        highlight=False,
    )
    grid = table("day", "this", "all", "room", "bounded by", numeric=("this", "all", "room"))
    shown = 0
    for d in plan.days:
        if shown >= days:
            break
        if d.closed:
            if d.closed != "not a sending day":
                grid.add_row(f"{d.day:%a %m-%d}", "-", "-", "-", f"closed: {d.closed}")
            continue
        shown += 1
        grid.add_row(
            f"{d.day:%a %m-%d}",
            str(d.per_campaign.get(campaign_id, 0)),
            str(d.sent),
            str(d.capacity),
            d.binding,
        )
    console.print(grid)
    if result.paused_leads:
        console.print(
            f"{result.paused_leads} paused leads are not counted (nothing goes to them until resumed)"
        )
    if result.calendar_ends:
        console.print(
            f"note: the holiday table ends {result.calendar_ends}: "
            f"run `outreach tenant holidays {tenant_id}` again to extend it"
        )
    console.print("assumes: " + "; ".join(plan.assumptions), style="dim")


# --- one lead --------------------------------------------------------------------------------------------


@leads_app.command("show")
def leads_show(ctx: typer.Context, tenant_id: Tenant, email: Email, as_json: JsonFlag = False) -> None:
    """One lead's timeline: each step, when the next may go and what holds it back.

    Per campaign and step: planned, waiting, sent, delivered, ...; for the next step, the limits and
    windows holding it back now, with their numbers (window, holiday, quotas, warm-up, pauses)."""
    with guarded("leads show"):
        view = app_for(ctx.obj).services.timeline().show(tenant_id, email)
    lead = view.lead
    if as_json:
        emit_json(
            {
                "lead": lead.model_dump(mode="json"),
                "suppressed": view.suppressed,
                "campaigns": [
                    {"campaign": c.campaign, "status": c.status, "steps": [s.__dict__ for s in c.steps]}
                    for c in view.campaigns
                ],
            }
        )
        return
    console.print(
        f"{lead.email} · {lead.status.value}"
        + (f" ({lead.status_reason})" if lead.status_reason else "")
        + f" · list {lead.list_name} · {lead.timezone or 'tenant time zone'}"
        + (f" · {lead.country}" if lead.country else "")
        + (f" · suppressed ({view.suppressed})" if view.suppressed else ""),
        markup=False,
        highlight=False,
    )
    if not view.campaigns:
        console.print("in no campaign (no campaign targets its list)")
    for line in view.campaigns:
        grid = table(
            "step", "template", "state", "when (UTC)", "detail", title=f"{line.campaign} ({line.status})"
        )
        for step in line.steps:
            detail = "; ".join(x for x in (step.detail, *step.holds) if x)
            grid.add_row(str(step.step), step.template, step.state, when(step.at), detail)
        console.print(grid)


def _said(change: LeadChange, verb: str) -> str:
    parts = [f"{change.lead.email} {verb}"]
    if change.cancelled:
        parts.append(f"{change.cancelled} planned or queued messages cancelled")
    if change.reopened:
        parts.append(f"{change.reopened} messages planned again")
    if change.timers and verb in ("resumed", "active again"):
        parts.append(f"{change.timers} next steps scheduled")
    return "; ".join(parts)


@leads_app.command("pause")
def leads_pause(ctx: typer.Context, tenant_id: Tenant, email: Email, reason: ReasonOption = "") -> None:
    """Hold one lead: nothing goes to it until `leads resume`; its sequences wait (campaigns do not end)."""
    with guarded("leads pause"):
        change = app_for(ctx.obj).services.lead_actions().pause(tenant_id, email, reason)
    console.print(_said(change, "paused"), markup=False)


@leads_app.command("resume")
def leads_resume(ctx: typer.Context, tenant_id: Tenant, email: Email) -> None:
    """Go on with a paused lead: its sequences continue where they stopped."""
    with guarded("leads resume"):
        change = app_for(ctx.obj).services.lead_actions().resume(tenant_id, email)
    console.print(_said(change, "resumed"), markup=False)


@leads_app.command("remove")
def leads_remove(
    ctx: typer.Context,
    tenant_id: Tenant,
    email: Email,
    campaign: Annotated[
        str | None,
        typer.Option(metavar="CAMPAIGN", help="only this campaign (default: every campaign of its list)"),
    ] = None,
    reason: ReasonOption = "",
) -> None:
    """Take a lead out of a campaign for good (the lead stays; other campaigns may still mail it)."""
    with guarded("leads remove"):
        change = app_for(ctx.obj).services.lead_actions().remove(tenant_id, email, campaign, reason)
    console.print(_said(change, f"removed from {', '.join(change.campaigns)}"), markup=False)


@leads_app.command("finish")
def leads_finish(ctx: typer.Context, tenant_id: Tenant, email: Email, reason: ReasonOption = "") -> None:
    """Done with a lead (meeting booked, not a fit): every sequence ends and no campaign mails it again."""
    with guarded("leads finish"):
        change = app_for(ctx.obj).services.lead_actions().finish(tenant_id, email, reason)
    console.print(_said(change, "finished"), markup=False)


@leads_app.command("columns")
def leads_columns(as_json: JsonFlag = False) -> None:
    """The CSV columns `leads import` reads, their aliases, and what happens to any other column."""
    from outreach_core.services.leads import ALIASES, COLUMN_HELP, KNOWN_COLUMNS

    rows = [
        (name, ", ".join(sorted(a for a, target in ALIASES.items() if target == name)), COLUMN_HELP[name])
        for name in KNOWN_COLUMNS
    ]
    if as_json:
        emit_json([{"column": c, "aliases": a.split(", ") if a else [], "meaning": m} for c, a, m in rows])
        return
    grid = table("column", "aliases", "meaning")
    for row in rows:
        grid.add_row(*row)
    console.print(grid)
    console.print(
        "Any other column is kept as a custom field a template can name ({{industry}}). Headers are matched "
        "case-insensitively, spaces as underscores. Comma, semicolon, tab or pipe separated; UTF-8 (with or "
        "without BOM) or UTF-16 with BOM; --encoding cp1252 or latin-1 for older exports. Sample: "
        "docs/samples/leads.csv"
    )


# --- jobs ------------------------------------------------------------------------------------------------


@jobs_app.command("list")
def jobs_list(
    ctx: typer.Context,
    status: Annotated[
        list[JobStatus] | None,
        typer.Option(help="these statuses (repeat; default: failed, dead_lettered, uncertain)"),
    ] = None,
    tenant: Annotated[str | None, typer.Option(metavar="TENANT", help="only this tenant")] = None,
    campaign: Annotated[str | None, typer.Option(metavar="CAMPAIGN", help="only this campaign")] = None,
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="at most this many")] = 200,
    as_json: JsonFlag = False,
) -> None:
    """Jobs by status with their recipient and reason (default: failed, dead-lettered, uncertain)."""
    from outreach_core.services.reporting import FAILED_STATUSES

    state: CliState = ctx.obj
    if tenant is not None:
        known_tenant(state, tenant)
    statuses = frozenset(status) if status else FAILED_STATUSES
    rows = app_for(state).services.status().job_rows(statuses, tenant, campaign)[:limit]
    if as_json:
        emit_json(
            [
                {
                    "tenant": r.tenant_id,
                    "campaign": r.campaign_id,
                    "step": r.step,
                    "job": j.job_id,
                    "recipient": r.email,
                    "status": r.status,
                    "reason": r.reason,
                    "updated_at": j.updated_at,
                    "attempts": j.attempts,
                }
                for j, r in rows
            ]
        )
        return
    grid = table(
        "campaign",
        "step",
        "recipient",
        "status",
        "when (UTC)",
        "reason",
        numeric=("step",),
        whole=("recipient",),
    )
    for job, row in rows:
        grid.add_row(f"{row.tenant_id}/{row.campaign_id}", str(row.step), row.email, row.status,
                     when(job.updated_at), row.reason)  # fmt: skip
    console.print(grid)
    if not rows:
        console.print(f"no jobs {', '.join(sorted(s.value for s in statuses))}")


# --- tenants and identities ----------------------------------------------------------------------------


@tenant_app.command("update")
def tenant_update(
    ctx: typer.Context,
    tenant_id: Tenant,
    name: Annotated[str | None, typer.Option(metavar="TEXT", help="display name")] = None,
    address: Annotated[
        str | None, typer.Option(metavar="TEXT", help="postal address printed in every footer")
    ] = None,
    legal_name: Annotated[str | None, typer.Option(metavar="TEXT")] = None,
    privacy_url: Annotated[str | None, typer.Option(metavar="URL")] = None,
    timezone: Annotated[str | None, typer.Option(metavar="TZ", help="sending-window time zone")] = None,
    days: Annotated[str | None, typer.Option(metavar="DAYS", help="sending days: mon,tue,... or all")] = None,
    start: Annotated[str | None, typer.Option(metavar="HH:MM", help="window opens")] = None,
    end: Annotated[str | None, typer.Option(metavar="HH:MM", help="window closes (= start: all day)")] = None,
    daily: Annotated[int | None, typer.Option(metavar="N", help="sends per UTC day")] = None,
    hourly: Annotated[int | None, typer.Option(metavar="N", help="sends admitted per hour")] = None,
    weight: Annotated[float | None, typer.Option(metavar="W", help="fair-share weight")] = None,
    overlap: Annotated[
        Overlap | None,
        typer.Option(
            help="a lead in another running sequence: wait for it to end (default), skip, or parallel"
        ),
    ] = None,
) -> None:
    """Change a tenant: what is given changes, the rest stays (the window's parts too)."""
    application = app_for(ctx.obj)
    with guarded("tenant update"):
        tenant = application.services.records().tenant(tenant_id)
        changes: dict[str, object] = {
            k: v
            for k, v in {
                "name": name, "postal_address": address, "legal_name": legal_name, "privacy_url": privacy_url,
                "weight": weight, "overlap": overlap,
            }.items()
            if v is not None
        }  # fmt: skip
        w = tenant.window
        if any(v is not None for v in (timezone, days, start, end)):
            from outreach_core.domain.window import WEEKDAYS

            changes["window"] = WindowSpec(
                timezone=timezone or w.timezone,
                days=days.split(",") if days else [WEEKDAYS[d] for d in w.days],
                start=start or f"{w.start:%H:%M}",
                end=end or f"{w.end:%H:%M}",
            ).to_window()
        if daily is not None or hourly is not None:
            q = tenant.quotas
            changes["quotas"] = Quotas(
                daily=q.daily if daily is None else daily, hourly=q.hourly if hourly is None else hourly
            )
        updated = application.services.admin().update_tenant(tenant_id, **changes)
    console.print(
        f"tenant {tenant_id} updated: window {updated.window.describe()}, {updated.quotas.hourly}/hour, "
        f"{updated.quotas.daily}/day, overlap {updated.overlap.value}",
        markup=False,
    )


@tenant_app.command("holidays")
def tenant_holidays(
    ctx: typer.Context,
    tenant_id: Tenant,
    country: Annotated[
        list[str] | None,
        typer.Option(
            metavar="CODE", help="the tenant's own country: no lead is mailed on its holidays (repeat)"
        ),
    ] = None,
    lead_country: Annotated[
        list[str] | None,
        typer.Option(
            metavar="CODE", help="a lead whose country column is this is not mailed on its holidays (repeat)"
        ),
    ] = None,
    add: Annotated[
        list[str] | None,
        typer.Option(metavar="YYYY-MM-DD[=NAME]", help="a custom closed day for every lead (repeat)"),
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option(metavar="YYYY-MM-DD", help="drop a custom day (repeat)")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="no holidays at all")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show or set the tenant's holiday calendar: no lead is mailed on its days.

    Dates come from the `holidays` package for this year and the next two, and are stored with the
    tenant (the planner and the sender need no package); run it again to renew."""
    from adapters.holiday_calendar import build_calendar

    application = app_for(ctx.obj)
    with guarded("tenant holidays"):
        tenant = application.services.records().tenant(tenant_id)
        calendar = tenant.holidays
        if clear or country is not None or lead_country is not None or add or remove:
            custom = {} if clear else dict(calendar.custom)
            for spec in add or ():
                day, _, name = spec.partition("=")
                custom[date.fromisoformat(day.strip()).isoformat()] = name.strip() or "closed"
            for day in remove or ():
                custom.pop(date.fromisoformat(day.strip()).isoformat(), None)
            calendar = build_calendar(
                () if clear else (calendar.countries if country is None else country),
                () if clear else (calendar.lead_countries if lead_country is None else lead_country),
                custom,
                application.adapters.clock().now().date(),
            )
            application.services.admin().update_tenant(tenant_id, holidays=calendar)
    if as_json:
        emit_json(calendar.model_dump(mode="json", exclude={"aliases"}))
        return
    today = application.adapters.clock().now().date()
    console.print(
        f"{tenant_id}: own countries {', '.join(calendar.countries) or '-'}; lead countries "
        f"{', '.join(calendar.lead_countries) or '-'}; {len(calendar.custom)} custom days; covers "
        f"{', '.join(map(str, calendar.years)) or '-'}",
        markup=False,
    )
    upcoming = sorted(
        (d, name, code)
        for code, days in calendar.days.items()
        for d, name in days.items()
        if today.isoformat() <= d <= (today + timedelta(days=120)).isoformat()
    ) + sorted((d, name, "custom") for d, name in calendar.custom.items() if d >= today.isoformat())
    if upcoming:
        grid = table("day", "holiday", "where")
        for d, name, code in sorted(upcoming)[:30]:
            grid.add_row(d, name, code)
        console.print(grid)


@identity_app.command("update")
def identity_update(
    ctx: typer.Context,
    tenant_id: Tenant,
    identity_id: Annotated[str, typer.Argument(help="identity id", metavar="IDENTITY")],
    name: Annotated[str | None, typer.Option(metavar="TEXT", help="display name")] = None,
    daily_cap: Annotated[int | None, typer.Option(metavar="N", help="sends per day once warmed up")] = None,
    weight: Annotated[float | None, typer.Option(metavar="W", help="rotation weight")] = None,
    direction: Annotated[
        list[str] | None,
        typer.Option(metavar="DIRECTION", help="the directions it sends for (repeat; replaces)"),
    ] = None,
    all_directions: Annotated[
        bool, typer.Option("--all-directions", help="send for every direction")
    ] = False,
    reply_to: Annotated[
        str | None, typer.Option(metavar="EMAIL", help="Reply-To ({reply_token} allowed)")
    ] = None,
) -> None:
    """Change an identity's name, cap, weight, directions or Reply-To (the address is the identity)."""
    changes: dict[str, object] = {
        k: v
        for k, v in {
            "display_name": name,
            "daily_cap": daily_cap,
            "weight": weight,
            "reply_to": reply_to,
        }.items()
        if v is not None
    }
    if direction and all_directions:
        fail("identity update: --direction or --all-directions, not both")
    if direction or all_directions:
        changes["directions"] = tuple(direction or ())
    with guarded("identity update"):
        updated = app_for(ctx.obj).services.admin().update_identity(tenant_id, identity_id, **changes)
    console.print(
        f"identity {tenant_id}/{identity_id} updated: cap {updated.daily_cap}, weight {updated.weight:g}, "
        f"directions {','.join(updated.directions) or 'all'}",
        markup=False,
    )
