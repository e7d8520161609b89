"""Compose the outbound message for one job: personalised, footed, threaded and tagged.

Internal ids travel as provider tags, never as visible headers; the one header reference is opaque
(rendering/message_ref.py).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from outreach_core.domain.addresses import single_line
from outreach_core.domain.ids import stable_seed
from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.mail import Address, OutboundEmail
from outreach_core.domain.models import Lead, SenderIdentity, Template, Tenant
from outreach_core.rendering.message_ref import HEADER as REF_HEADER
from outreach_core.rendering.reply_token import reply_address
from outreach_core.rendering.templating import TemplateError, parse, render


@dataclass(frozen=True)
class Thread:
    """The first email of the sequence, for a follow-up. With a message id the follow-up replies under
    it ("Re: ..."); without one (another identity sends it) it goes out fresh with the same subject."""

    message_id: str | None
    subject: str


def message_id_for(job: MessageJob, identity: SenderIdentity, secret: str) -> str:
    """Keyed: a reply's In-Reply-To names a job only if we made the id, so nobody who knows a tenant,
    campaign and address can craft one (the idempotency key is a plain hash of those)."""
    mac = hmac.new(secret.encode(), f"message-id\x1f{job.idempotency_key}".encode(), hashlib.sha256)
    return f"<{mac.hexdigest()[:32]}@{identity.domain}>"


def render_subject(template: Template, lead: Lead, idempotency_key: str) -> str:
    """One header line: lead values with line breaks (a multi-line company) are folded to spaces."""
    subject = render(
        parse("subject", template.subject), lead.fields(), stable_seed(idempotency_key, "subject")
    )
    return single_line(subject)


def footer_text(tenant: Tenant, unsubscribe_url: str) -> str:
    lines = ["", "--", tenant.legal_name or tenant.name, tenant.postal_address]
    if tenant.privacy_url:
        lines.append(f"Privacy: {tenant.privacy_url}")
    lines.append(f"Unsubscribe: {unsubscribe_url}")
    return "\n".join(lines)


def _footer_html(tenant: Tenant, unsubscribe_url: str) -> str:
    from html import escape

    privacy = f' · <a href="{escape(tenant.privacy_url)}">Privacy</a>' if tenant.privacy_url else ""
    return (
        f'<hr><p style="font-size:12px;color:#666">{escape(tenant.legal_name or tenant.name)}, '
        f'{escape(tenant.postal_address)}{privacy} · <a href="{escape(unsubscribe_url)}">Unsubscribe</a></p>'
    )


def compose(
    *,
    tenant: Tenant,
    identity: SenderIdentity,
    lead: Lead,
    template: Template,
    job: MessageJob,
    unsubscribe_url: str,
    thread: Thread | None,
    secret: str,
    reply_token: str = "",
    message_ref: str = "",
) -> OutboundEmail:
    """Raises TemplateError when the template cannot be rendered for this lead (e.g. a missing field)."""
    values = lead.fields()
    seed = stable_seed(job.idempotency_key, "body")
    if template.subject.strip():
        subject = render_subject(template, lead, job.idempotency_key)
    elif thread is not None and thread.message_id:
        subject = thread.subject if thread.subject.lower().startswith("re:") else f"Re: {thread.subject}"
        subject = single_line(subject)
    elif thread is not None:
        subject = single_line(thread.subject)
    else:
        raise TemplateError("subject", "empty subject on a message that does not reply in a thread")
    text = (
        render(parse("text", template.text), values, seed).rstrip()
        + "\n"
        + footer_text(tenant, unsubscribe_url)
    )
    html = None
    if template.html:
        body = render(parse("html", template.html, spintax=False), values, seed)
        html = (
            body.replace("</body>", _footer_html(tenant, unsubscribe_url) + "</body>")
            if "</body>" in body
            else (body + _footer_html(tenant, unsubscribe_url))
        )
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if message_ref:
        headers[REF_HEADER] = message_ref
    if thread is not None and thread.message_id:
        headers["In-Reply-To"] = thread.message_id
        headers["References"] = thread.message_id
    return OutboundEmail(
        sender=Address(email=identity.email, name=single_line(identity.display_name)),
        recipient=Address(email=lead.email, name=single_line(f"{lead.first_name} {lead.last_name}")),
        reply_to=reply_address(identity.reply_to, reply_token) if reply_token else identity.reply_to,
        subject=subject,
        text=text,
        html=html,
        message_id=message_id_for(job, identity, secret),
        headers=headers,
        tags={
            "tenant": tenant.id,
            "campaign": job.campaign_id,
            "job": job.job_id,
            "ikey": job.idempotency_key,
        },
        account=identity.smtp,
    )
