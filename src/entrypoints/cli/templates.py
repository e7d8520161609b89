"""`outreach template update|show|preview|test-send`: edit with revisions, see the real message, send a
test. Registered on the `template` group of cli/admin.py (add and list live there)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from entrypoints.cli.admin import Tenant, guarded, template_app
from entrypoints.cli.context import CliState, app_for, fail
from entrypoints.cli.output import JsonFlag, console, emit_json, table, when
from entrypoints.settings import BuiltInSecretError
from outreach_core.domain.models import Template

TemplateId = Annotated[str, typer.Argument(help="template id", metavar="TEMPLATE")]
LeadOption = Annotated[
    str | None,
    typer.Option(
        "--lead", metavar="EMAIL", help="render for this lead (default: a blank lead: fallbacks shown)"
    ),
]
IdentityOption = Annotated[
    str | None,
    typer.Option("--identity", metavar="IDENTITY", help="send from this identity (default: the first)"),
]
CampaignOption = Annotated[
    str | None,
    typer.Option(
        "--campaign", metavar="CAMPAIGN", help="as in this campaign (its spintax choice, its identities)"
    ),
]


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


@template_app.command("update")
def template_update(
    ctx: typer.Context,
    tenant_id: Tenant,
    template_id: TemplateId,
    subject: Annotated[str | None, typer.Option(metavar="TEXT", help="new subject")] = None,
    text_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, metavar="FILE", help="new plain-text body (UTF-8)"),
    ] = None,
    html_file: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, metavar="FILE", help="new HTML body (an empty file removes it)"
        ),
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option("--field", metavar="COLUMN", help="a custom lead column not imported yet (repeat)"),
    ] = None,
) -> None:
    """Change a template: linted like `add`, stored as a new revision (the old one is kept).

    Messages not yet sent use the new revision; those sent keep the one they used (`template show
    --revision N`, `leads show` name it)."""
    with guarded("template update"):
        updated = (
            app_for(ctx.obj)
            .services.templates()
            .update(
                tenant_id,
                template_id,
                subject=subject,
                text=_read(text_file),
                html=_read(html_file),
                fields=field,
            )
        )
    console.print(f"template {tenant_id}/{template_id} is at revision {updated.revision}")


@template_app.command("show")
def template_show(
    ctx: typer.Context,
    tenant_id: Tenant,
    template_id: TemplateId,
    revision: Annotated[int | None, typer.Option(metavar="N", help="an earlier revision")] = None,
    history: Annotated[bool, typer.Option("--history", help="list every revision")] = False,
    as_json: JsonFlag = False,
) -> None:
    """A template's subject and bodies (the current revision, or --revision N), or its revisions."""
    records = app_for(ctx.obj).services.records()
    with guarded("template show"):
        if history:
            revisions = records.template_revisions(tenant_id, template_id)
            if as_json:
                emit_json([_template_json(t) for t in revisions])
                return
            grid = table("revision", "updated (UTC)", "subject", numeric=("revision",))
            for t in revisions:
                grid.add_row(str(t.revision), when(t.updated_at), t.subject or "(reply in thread)")
            console.print(grid)
            return
        template = records.template_at(tenant_id, template_id, revision)
    if as_json:
        emit_json(_template_json(template))
        return
    console.print(f"revision {template.revision} · fields declared: {', '.join(template.fields) or '-'}")
    console.print(f"Subject: {template.subject or '(reply in thread)'}", markup=False, highlight=False)
    console.print(template.text, markup=False, highlight=False)
    if template.html:
        console.print("--- html ---", markup=False)
        console.print(template.html, markup=False, highlight=False)


def _template_json(t: Template) -> dict[str, object]:
    return t.model_dump(mode="json")


@template_app.command("preview")
def template_preview(
    ctx: typer.Context,
    tenant_id: Tenant,
    template_id: TemplateId,
    lead: LeadOption = None,
    identity: IdentityOption = None,
    campaign: CampaignOption = None,
    revision: Annotated[int | None, typer.Option(metavar="N", help="an earlier revision")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="the wire form as is (bodies quoted-printable)")] = False,
    as_json: JsonFlag = False,
) -> None:
    """The message as it would go out for a lead: headers, body, footer and links.

    The bodies are shown decoded; --raw prints the MIME source byte for byte."""
    from adapters.mime import to_bytes

    application = app_for(ctx.obj)
    with guarded("template preview"):
        preview = application.services.templates().preview(
            tenant_id, template_id, lead, identity_id=identity, campaign_id=campaign, revision=revision
        )
    wire = to_bytes(preview.email, application.adapters.clock().now()).decode("ascii")
    if as_json:
        emit_json(
            {
                "subject": preview.email.subject,
                "from": preview.email.sender.email,
                "to": preview.email.recipient.email,
                "text": preview.email.text,
                "html": preview.email.html,
                "revision": preview.template.revision,
                "sample_lead": preview.sample,
                "mime": wire,
            }
        )
        return
    if preview.sample:
        console.print(
            f"note: no lead {lead or ''} in {tenant_id}: rendered for a blank lead (fallbacks shown)"
        )
    typer.echo(wire.replace("\r\n", "\n") if raw else _readable(wire))


def _readable(wire: str) -> str:
    """The headers as sent, then each text part decoded (quoted-printable is unreadable for Cyrillic)."""
    from email import message_from_string

    message = message_from_string(wire)
    head = wire.split("\r\n\r\n", 1)[0].replace("\r\n", "\n")
    parts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            body = part.get_payload(decode=True)
            text = body.decode(part.get_content_charset() or "utf-8") if isinstance(body, bytes) else ""
            parts.append(f"--- {part.get_content_type()} ---\n{text}")
    return head + "\n\n" + "\n\n".join(parts)


@template_app.command("test-send")
def template_test_send(
    ctx: typer.Context,
    tenant_id: Tenant,
    template_id: TemplateId,
    to: Annotated[
        str, typer.Option("--to", metavar="EMAIL", help="where the test goes (a colleague, a seed inbox)")
    ],
    lead: LeadOption = None,
    identity: IdentityOption = None,
    campaign: CampaignOption = None,
) -> None:
    """Send the rendered template to one address through the configured mailer.

    Outside any campaign: no job, no limits, no sequence. Refused for a suppressed address. Audited."""
    state: CliState = ctx.obj
    application = app_for(state)
    try:
        secret = state.settings.sending_secret()
    except BuiltInSecretError as exc:
        fail(f"template test-send: {exc}")
    with guarded("template test-send"):
        service = application.services.templates(secret=secret)
        try:
            preview, receipt = service.test_send(
                application.adapters.mailer(),
                tenant_id,
                template_id,
                to,
                lead,
                identity_id=identity,
                campaign_id=campaign,
            )
        except Exception as exc:
            from outreach_core.domain.mail import MailError

            if not isinstance(exc, MailError):
                raise
            raise ValueError(f"the mailer refused it: {type(exc).__name__}: {exc}") from exc
    console.print(
        f"test of {tenant_id}/{template_id} r{preview.template.revision} sent to "
        f"{preview.email.recipient.email} from {preview.identity.email} via {state.settings.mailer} "
        f"(message id {receipt.provider_message_id})",
        markup=False,
        highlight=False,
    )
