"""Mailboxes and what comes back: `identity connect` (an identity's own SMTP / IMAP account), the
unified inbox (`inbox list|show|categorise|handled|poll`) and webhooks out (`webhooks add|remove|
endpoints|list|redeliver`). Secrets are given by reference (env:NAME, file:/path, ssm:/name)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from entrypoints.cli.admin import _guarded, identity_app
from entrypoints.cli.context import CliState, app_for, fail, known_tenant
from entrypoints.cli.conventions import group
from outreach_core.domain.accounts import (
    OAUTH_TOKEN_URLS,
    AuthMethod,
    ImapAccount,
    OAuthClient,
    SmtpAccount,
    TlsMode,
)
from outreach_core.domain.inbox import InboxCategory
from outreach_core.domain.webhooks import EVENT_TYPES, DeliveryStatus

console = Console()
inbox_app = group("The unified inbox: replies, auto-replies and bounces, categorised.")
webhooks_app = group("Webhooks out: signed event deliveries to a tenant's endpoints.")

Ctx = typer.Context
Tenant = Annotated[str, typer.Argument(help="tenant id")]
AsJson = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _print_json(rows: Any) -> None:
    typer.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))


# --- identity connect ----------------------------------------------------------------------------


def _oauth(
    provider: str | None,
    token_url: str | None,
    client_id: str | None,
    client_secret_ref: str,
    refresh_token_ref: str | None,
) -> OAuthClient:
    url = token_url or (OAUTH_TOKEN_URLS.get(provider or "") if provider else None)
    if not url:
        raise ValueError(
            f"xoauth2: give --oauth-provider ({', '.join(OAUTH_TOKEN_URLS)}) or --oauth-token-url"
        )
    if not client_id or not refresh_token_ref:
        raise ValueError("xoauth2: --oauth-client-id and --oauth-refresh-token-ref are needed")
    return OAuthClient(
        token_url=url,
        client_id=client_id,
        client_secret_ref=client_secret_ref,
        refresh_token_ref=refresh_token_ref,
    )


@identity_app.command("connect")
def identity_connect(
    ctx: Ctx,
    tenant_id: Tenant,
    identity_id: Annotated[str, typer.Argument(help="identity id")],
    smtp_host: Annotated[str | None, typer.Option(help="its own SMTP server (e.g. smtp.gmail.com)")] = None,
    smtp_port: Annotated[int, typer.Option(help="587 (STARTTLS) or 465 (implicit TLS)")] = 587,
    smtp_tls: Annotated[
        TlsMode, typer.Option(help="starttls, implicit, or none (local test servers only)")
    ] = TlsMode.STARTTLS,
    imap_host: Annotated[
        str | None, typer.Option(help="the mailbox replies come to (e.g. imap.gmail.com)")
    ] = None,
    imap_port: Annotated[int, typer.Option(help="993 (implicit TLS) or 143 (STARTTLS)")] = 993,
    imap_tls: Annotated[
        TlsMode, typer.Option(help="implicit, starttls, or none (local test servers only)")
    ] = TlsMode.IMPLICIT,
    imap_folder: Annotated[
        str, typer.Option(help="the folder read (never Sent, Drafts, Trash, Junk)")
    ] = "INBOX",
    username: Annotated[str, typer.Option(help="login for both (usually the address)")] = "",
    secret_ref: Annotated[
        str,
        typer.Option(help="the password's reference: env:VAR, file:/path or ssm:/name (never the password)"),
    ] = "",
    imap_username: Annotated[str, typer.Option(help="IMAP login, when it is not --username")] = "",
    imap_secret_ref: Annotated[
        str, typer.Option(help="IMAP password's reference, when it is not --secret-ref")
    ] = "",
    auth: Annotated[
        AuthMethod, typer.Option(help="password (an app password) or xoauth2")
    ] = AuthMethod.PASSWORD,
    oauth_provider: Annotated[str | None, typer.Option(help="xoauth2: google or microsoft")] = None,
    oauth_token_url: Annotated[
        str | None, typer.Option(help="xoauth2: the token endpoint (overrides the provider's)")
    ] = None,
    oauth_client_id: Annotated[str | None, typer.Option(help="xoauth2: the OAuth app's client id")] = None,
    oauth_client_secret_ref: Annotated[str, typer.Option(help="xoauth2: the client secret's reference")] = "",
    oauth_refresh_token_ref: Annotated[
        str | None, typer.Option(help="xoauth2: the mailbox's refresh token's reference")
    ] = None,
    drop_smtp: Annotated[
        bool, typer.Option("--drop-smtp", help="send through the default mailer again")
    ] = False,
    drop_imap: Annotated[bool, typer.Option("--drop-imap", help="stop reading its mailbox")] = False,
) -> None:
    """Connect an identity's own mailbox: send through its SMTP account, read replies and bounces (IMAP)."""
    with _guarded("identity connect"):
        oauth = (
            _oauth(
                oauth_provider,
                oauth_token_url,
                oauth_client_id,
                oauth_client_secret_ref,
                oauth_refresh_token_ref,
            )
            if auth is AuthMethod.XOAUTH2
            else None
        )
        common: dict[str, Any] = {
            "username": username,
            "secret_ref": secret_ref,
            "auth": auth,
            "oauth": oauth,
        }
        smtp = SmtpAccount(host=smtp_host, port=smtp_port, tls=smtp_tls, **common) if smtp_host else None
        imap_login = {
            **common,
            "username": imap_username or username,
            "secret_ref": imap_secret_ref or secret_ref,
        }
        imap = (
            ImapAccount(host=imap_host, port=imap_port, tls=imap_tls, folder=imap_folder, **imap_login)
            if imap_host
            else None
        )
        admin = app_for(ctx.obj).services.admin()
        identity = admin.connect_identity(
            tenant_id, identity_id, smtp=smtp, imap=imap, drop_smtp=drop_smtp, drop_imap=drop_imap
        )
    parts = [
        f"sends via {identity.smtp.host}:{identity.smtp.port}"
        if identity.smtp
        else "sends via the default mailer"
    ]
    parts.append(
        f"reads {identity.imap.folder} at {identity.imap.host}:{identity.imap.port}"
        if identity.imap
        else "no mailbox read"
    )
    console.print(f"identity {tenant_id}/{identity_id}: " + "; ".join(parts), markup=False)


# --- inbox -----------------------------------------------------------------------------------------


def _inbox_row(m: Any) -> dict[str, Any]:
    return {
        "id": m.id,
        "received_at": m.received_at.isoformat(),
        "category": m.category.value,
        "reason": m.category_reason,
        "by": m.categorised_by,
        "handled": m.handled,
        "campaign": m.campaign_id,
        "lead": m.lead_id,
        "from": m.sender,
        "subject": m.subject,
        "source": m.source,
        "return_date": m.return_date.isoformat() if m.return_date else None,
    }


@inbox_app.command("list")
def inbox_list(
    ctx: Ctx,
    tenant_id: Tenant,
    campaign: Annotated[str | None, typer.Option(help="only this campaign")] = None,
    category: Annotated[InboxCategory | None, typer.Option(help="only this category")] = None,
    unhandled: Annotated[bool, typer.Option("--unhandled", help="only what nobody has handled yet")] = False,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 100,
    as_json: AsJson = False,
) -> None:
    """Replies, auto-replies and bounces, newest first."""
    known_tenant(ctx.obj, tenant_id)
    rows = (
        app_for(ctx.obj)
        .services.inbox()
        .list(tenant_id, campaign_id=campaign, category=category, unhandled=unhandled, limit=limit)
    )
    if as_json:
        _print_json([_inbox_row(m) for m in rows])
        return
    table = Table(
        "id", "received", "category", "handled", "campaign", "from", "subject", title=f"Inbox: {tenant_id}"
    )
    for m in rows:
        table.add_row(
            m.id,
            f"{m.received_at:%Y-%m-%d %H:%M}",
            m.category.value,
            "yes" if m.handled else "no",
            m.campaign_id or "-",
            m.sender,
            m.subject,
        )
    console.print(table)


@inbox_app.command("show")
def inbox_show(
    ctx: Ctx,
    tenant_id: Tenant,
    message_id: Annotated[str, typer.Argument(help="inbox id (from `inbox list`)")],
    as_json: AsJson = False,
) -> None:
    """One message: its category and why, and its text (read from the archive)."""
    from adapters.inbound_mail import InboundMailError, new_text, parse_inbound

    application = app_for(ctx.obj)
    with _guarded("inbox show"):
        message = application.services.inbox().get(tenant_id, message_id)
    text = ""
    if message.payload_ref:
        raw = _raw_message(application, message.payload_ref)
        if raw is None:
            text = "(the archived message is no longer there)"
        else:
            try:
                parsed = parse_inbound(raw, received_at=message.received_at).text
                text = parsed or new_text(raw.decode("utf-8", "replace"))
            except (InboundMailError, ValueError):
                text = "(the archived message cannot be read)"
    row = {**_inbox_row(message), "text": text}
    if as_json:
        _print_json(row)
        return
    for key in (
        "id",
        "received_at",
        "from",
        "subject",
        "category",
        "reason",
        "by",
        "handled",
        "campaign",
        "lead",
        "return_date",
        "source",
    ):
        console.print(f"{key:12s} {row[key] if row[key] is not None else '-'}", markup=False, highlight=False)
    console.print("")
    console.print(text or "(no text)", markup=False, highlight=False)


def _raw_message(application: Any, ref: str) -> bytes | None:
    """The raw message behind an inbox entry: an archived .eml (IMAP), the SES receipt rule's object in
    the inbound bucket, or the message an SNS notification carried (a line of an archived batch)."""
    import gzip

    blob_ref, _, line = ref.partition("#")
    try:
        blob = application.adapters.archive().get(blob_ref)
    except KeyError:
        reader = application.adapters.inbound_reader()
        bucket, _, key = ref.removeprefix("s3://").partition("/")
        if reader is None or not ref.startswith("s3://"):
            return None
        try:
            data: bytes = reader(bucket, key)
        except (KeyError, ValueError, PermissionError):
            return None
        return data
    if not line:
        return bytes(blob)
    try:
        body = json.loads(gzip.decompress(blob).decode().splitlines()[int(line)])
    except (OSError, ValueError, IndexError):
        return None
    content = body.get("content") if isinstance(body, dict) else None
    return content.encode() if isinstance(content, str) else None


@inbox_app.command("categorise")
def inbox_categorise(
    ctx: Ctx,
    tenant_id: Tenant,
    message_id: Annotated[str, typer.Argument(help="inbox id")],
    category: Annotated[InboxCategory, typer.Argument(help="the new category")],
    return_date: Annotated[str | None, typer.Option(help="out of office: back on (YYYY-MM-DD)")] = None,
    reason: Annotated[str, typer.Option(help="why (kept in the audit log)")] = "",
) -> None:
    """Re-categorise a message; the new category decides what happens (stop, postpone, suppress). Audited."""
    back = None
    if return_date:
        try:
            back = datetime.fromisoformat(return_date).replace(tzinfo=UTC)
        except ValueError:
            fail(f"inbox categorise: --return-date {return_date!r}: not a date (YYYY-MM-DD)")
    with _guarded("inbox categorise"):
        message, effect = (
            app_for(ctx.obj)
            .services.inbox()
            .categorise(tenant_id, message_id, category, "operator", return_date=back, reason=reason)
        )
    console.print(f"{message.id}: {message.category.value}; {effect}", markup=False)


@inbox_app.command("handled")
def inbox_handled(
    ctx: Ctx,
    tenant_id: Tenant,
    message_id: Annotated[str, typer.Argument(help="inbox id")],
    undo: Annotated[bool, typer.Option("--undo", help="mark it unhandled again")] = False,
) -> None:
    """Mark a message handled (it leaves `inbox list --unhandled`)."""
    with _guarded("inbox handled"):
        app_for(ctx.obj).services.inbox().mark_handled(tenant_id, message_id, "operator", handled=not undo)
    console.print(f"{message_id}: {'unhandled' if undo else 'handled'}", markup=False)


@inbox_app.command("poll")
def inbox_poll(
    ctx: Ctx,
    tenant: Annotated[str | None, typer.Option(help="only this tenant's mailboxes")] = None,
    as_json: AsJson = False,
) -> None:
    """Read every connected mailbox now (`outreach run` does it every OUTREACH_IMAP_POLL_S seconds)."""
    from entrypoints.container import imap_poller

    if tenant:
        known_tenant(ctx.obj, tenant)
    application = app_for(ctx.obj)
    report = imap_poller(application).poll_all(tenant)
    figures = {
        k: getattr(report, k) for k in ("mailboxes", "fetched", "replies", "bounces", "ignored", "errors")
    }
    if as_json:
        _print_json(figures)
    else:
        console.print(
            f"mailboxes {report.mailboxes} · read {report.fetched} · replies {report.replies} · "
            f"bounces {report.bounces} · ignored {report.ignored}",
            markup=False,
        )
        for error in report.errors:
            console.print(f"error: {error}", markup=False)
    if report.errors:
        raise typer.Exit(1)


# --- webhooks --------------------------------------------------------------------------------------


@webhooks_app.command("add")
def webhooks_add(
    ctx: Ctx,
    tenant_id: Tenant,
    endpoint_id: Annotated[str, typer.Argument(help="a name for the endpoint (e.g. crm)")],
    url: Annotated[str, typer.Option(help="where events are POSTed (https)")],
    secret_ref: Annotated[
        str, typer.Option(help="the signing secret's reference: env:VAR, file:/path or ssm:/name")
    ],
    event: Annotated[
        list[str] | None, typer.Option(help=f"event type (repeat; none = all): {', '.join(EVENT_TYPES)}")
    ] = None,
) -> None:
    """Send a tenant's events to a URL, signed with HMAC-SHA256 over timestamp + body."""
    with _guarded("webhooks add"):
        service = _webhooks(ctx)
        service.add_endpoint(tenant_id, endpoint_id, url, secret_ref, tuple(event or ()))
    console.print(f"webhook {tenant_id}/{endpoint_id} added", markup=False)


@webhooks_app.command("remove")
def webhooks_remove(
    ctx: Ctx, tenant_id: Tenant, endpoint_id: Annotated[str, typer.Argument(help="endpoint id")]
) -> None:
    """Stop sending to an endpoint (its pending deliveries are dead-lettered as they come up)."""
    with _guarded("webhooks remove"):
        _webhooks(ctx).remove_endpoint(tenant_id, endpoint_id)
    console.print(f"webhook {tenant_id}/{endpoint_id} removed", markup=False)


@webhooks_app.command("endpoints")
def webhooks_endpoints(ctx: Ctx, tenant_id: Tenant, as_json: AsJson = False) -> None:
    """A tenant's endpoints and the events each takes."""
    with _guarded("webhooks endpoints"):
        rows = _webhooks(ctx).endpoints(tenant_id)
    data = [
        {
            "id": e.id,
            "url": e.url,
            "events": list(e.events) or ["all"],
            "secret_ref": e.secret_ref,
            "enabled": e.enabled,
        }
        for e in rows
    ]
    if as_json:
        _print_json(data)
        return
    table = Table("id", "url", "events", "secret", title=f"Webhook endpoints: {tenant_id}")
    for row in data:
        table.add_row(row["id"], row["url"], ",".join(row["events"]), row["secret_ref"])
    console.print(table)


@webhooks_app.command("list")
def webhooks_list(
    ctx: Ctx,
    tenant_id: Tenant,
    status: Annotated[DeliveryStatus | None, typer.Option(help="pending, delivered or dead_lettered")] = None,
    limit: Annotated[int, typer.Option(help="at most this many, newest last")] = 100,
    as_json: AsJson = False,
) -> None:
    """The delivery log: every delivery, its attempts (HTTP status, when) and where it stands."""
    with _guarded("webhooks list"):
        rows = _webhooks(ctx).deliveries(tenant_id, status, limit)
    data = [
        {
            "id": d.id,
            "endpoint": d.endpoint_id,
            "event": d.event_type,
            "event_id": d.event_id,
            "status": d.status.value,
            "attempts": len(d.attempts),
            "redeliveries": d.redeliveries,
            "last_status": d.last.status_code if d.last else None,
            "last_detail": d.last.detail if d.last else "",
            "created_at": d.created_at.isoformat(),
            "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
            "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
            "history": [
                {"attempt": a.number, "at": a.at.isoformat(), "status": a.status_code, "detail": a.detail}
                for a in d.attempts
            ],
        }
        for d in rows
    ]
    if as_json:
        _print_json(data)
        return
    table = Table(
        "delivery",
        "endpoint",
        "event",
        "status",
        "attempts",
        "last",
        "redelivered",
        title=f"Webhook deliveries: {tenant_id}",
    )
    for row in data:
        last = f"{row['last_status']} {row['last_detail']}".strip() if row["last_status"] is not None else "-"
        table.add_row(
            row["id"],
            row["endpoint"],
            row["event"],
            row["status"],
            str(row["attempts"]),
            last,
            str(row["redeliveries"]),
        )
    console.print(table)


@webhooks_app.command("redeliver")
def webhooks_redeliver(
    ctx: Ctx,
    tenant_id: Tenant,
    delivery_id: Annotated[list[str] | None, typer.Option("--id", help="redeliver these (repeat)")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="redeliver every dead-lettered delivery")] = False,
) -> None:
    """Send deliveries again: the same delivery id (a receiver knows the repeat), freshly signed."""
    if not delivery_id and not dead:
        fail("webhooks redeliver: name deliveries with --id, or pass --dead")
    with _guarded("webhooks redeliver"):
        moved = _webhooks(ctx).redeliver(tenant_id, delivery_id or None)
    console.print(f"redelivering: {moved}", markup=False)


def _webhooks(ctx: Ctx) -> Any:
    state: CliState = ctx.obj
    service = app_for(state).services.webhooks()
    if service is None:
        fail("webhooks are off in this deployment (no OUTREACH_WEBHOOK_QUEUE_URL)")
    return service
