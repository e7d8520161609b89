"""Templates: lint at add and update, revisions, a preview of the real message, a test send.

The lint knows what parsing cannot: which fields the tenant's leads have. A placeholder naming none of
them ({{frist_name}}) is refused with its line and column, so a typo never reaches a send (where it
would fail every job of the step, or render its fallback for every lead).

An update stores a new revision and keeps the old one: a job records the revision that rendered it
when it is handed over, so what was sent can always be shown as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from outreach_core.domain.addresses import AddressError, canonical_email
from outreach_core.domain.ids import idempotency_key, job_id_for, lead_id_for
from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.mail import OutboundEmail, SendReceipt
from outreach_core.domain.models import (
    STANDARD_FIELDS,
    Campaign,
    IdentityStatus,
    Lead,
    SenderIdentity,
    Template,
)
from outreach_core.ports import Clock, MailProvider
from outreach_core.records import NotFoundError, Records
from outreach_core.rendering.compose import Thread, compose
from outreach_core.rendering.message_ref import seal_ref
from outreach_core.rendering.reply_token import sign_reply
from outreach_core.rendering.templating import TemplateError, lint
from outreach_core.rendering.unsubscribe import sign
from outreach_core.services.audit import AuditTrail

PREVIEW_CAMPAIGN = "preview"


class TemplateLintError(TemplateError):
    """Every problem of a template at once, each with its field, line and column, on one line."""

    def __init__(self, problems: Sequence[str]) -> None:
        ValueError.__init__(self, "; ".join(problems))
        self.field = "template"
        self.problems = list(problems)


@dataclass(frozen=True)
class Preview:
    email: OutboundEmail
    lead: Lead
    identity: SenderIdentity
    template: Template
    sample: bool  # True: no such lead, rendered for a blank one (fallbacks shown)


def known_fields(records: Records, tenant_id: str, declared: Iterable[str] = ()) -> set[str]:
    """What a template may name: the standard lead fields, every custom column of the tenant's leads,
    and the columns declared for leads not imported yet."""
    known = set(STANDARD_FIELDS) | set(declared)
    for lead in records.all(Lead, tenant_id):
        known.update(lead.custom)
    return known


def check(subject: str, text: str, html: str | None, known: set[str]) -> None:
    """Raises TemplateError: a syntax error (parse's own), or every unknown field at once."""
    problems = [f"subject: {p}" for p in lint("subject", subject, known)]
    problems += [f"text: {p}" for p in lint("text", text, known)]
    if html:
        problems += [f"html: {p}" for p in lint("html", html, known, spintax=False)]
    if problems:
        raise TemplateLintError(problems)


class TemplateService:
    def __init__(
        self,
        records: Records,
        clock: Clock,
        unsubscribe_base_url: str = "http://127.0.0.1:8025/unsubscribe",
        secret: str = "change-me",
        actor: str = "operator",
    ) -> None:
        self.records = records
        self.clock = clock
        self.unsubscribe_base_url = unsubscribe_base_url
        self.secret = secret
        self.actor = actor
        self.audit = AuditTrail(records)

    def add(
        self,
        tenant_id: str,
        template_id: str,
        subject: str,
        text: str,
        html: str | None = None,
        fields: Sequence[str] = (),
    ) -> Template:
        """Linted first: a broken template is refused before any campaign uses it."""
        self.records.tenant(tenant_id)
        check(subject, text, html, known_fields(self.records, tenant_id, fields))
        now = self.clock.now()
        created = self.records.create(
            Template(
                tenant_id=tenant_id,
                id=template_id,
                subject=subject,
                text=text,
                html=html,
                fields=tuple(sorted(set(fields))),
                updated_at=now,
            )
        )
        self.audit.record(tenant_id, now, self.actor, "template.create", template_id, revision=1)
        return created

    def update(
        self,
        tenant_id: str,
        template_id: str,
        *,
        subject: str | None = None,
        text: str | None = None,
        html: str | None = None,
        fields: Sequence[str] | None = None,
    ) -> Template:
        """A new revision; the current one is kept. Jobs not yet sent render the new one."""
        current = self.records.get(Template, tenant_id, template_id)
        declared = tuple(sorted(set(current.fields if fields is None else fields)))
        new_subject = current.subject if subject is None else subject
        new_text = current.text if text is None else text
        new_html = current.html if html is None else (html or None)
        check(new_subject, new_text, new_html, known_fields(self.records, tenant_id, declared))
        if (new_subject, new_text, new_html, declared) == (
            current.subject,
            current.text,
            current.html,
            current.fields,
        ):
            return current
        now = self.clock.now()
        updated = current.model_copy(
            update={
                "subject": new_subject,
                "text": new_text,
                "html": new_html,
                "fields": declared,
                "revision": current.revision + 1,
                "updated_at": now,
            }
        )
        self.records.store.write(
            self.records.template_revision_put(current),
            self.records.replace_op(updated),
        )
        self.audit.record(
            tenant_id, now, self.actor, "template.update", template_id, revision=updated.revision
        )
        return updated.model_copy(update={"version": current.version + 1})

    # --- seeing the real message ---------------------------------------------------------------------

    def preview(
        self,
        tenant_id: str,
        template_id: str,
        lead_email: str | None = None,
        *,
        identity_id: str | None = None,
        campaign_id: str | None = None,
        step: int = 1,
        revision: int | None = None,
        to: str | None = None,
    ) -> Preview:
        """The message as the sender would compose it for this lead (same spintax choice as in the
        campaign when one is named, same footer, headers and links). No job, no limiter, no send."""
        tenant = self.records.tenant(tenant_id)
        template = self.records.template_at(tenant_id, template_id, revision)
        lead, sample = self._lead(tenant_id, lead_email or to)
        identity = self._identity(tenant_id, identity_id, campaign_id)
        campaign = campaign_id or PREVIEW_CAMPAIGN
        if campaign_id is not None:
            self.records.get(Campaign, tenant_id, campaign_id)
        job = MessageJob(
            job_id=job_id_for(campaign, lead.id, step),
            tenant_id=tenant_id,
            campaign_id=campaign,
            lead_id=lead.id,
            step=step,
            template_id=template.id,
            scheduled_at=self.clock.now(),
            idempotency_key=idempotency_key(tenant_id, campaign, lead.id, step),
            updated_at=self.clock.now(),
        )
        thread = None
        if not template.subject.strip():  # a follow-up: shown as the reply it would be
            thread = Thread(
                message_id=f"<first-email@{identity.domain}>", subject="(the first email's subject)"
            )
        if to is not None:
            lead = lead.model_copy(update={"email": canonical_email(to)})
        token = sign(self.secret, tenant_id, lead.id)
        email = compose(
            tenant=tenant,
            identity=identity,
            lead=lead,
            template=template,
            job=job,
            unsubscribe_url=f"{self.unsubscribe_base_url.rstrip('/')}/{token}",
            thread=thread,
            secret=self.secret,
            reply_token=sign_reply(self.secret, tenant_id, lead.id),
            message_ref=seal_ref(self.secret, tenant_id, job.job_id),
        )
        return Preview(email=email, lead=lead, identity=identity, template=template, sample=sample)

    def test_send(
        self,
        mailer: MailProvider,
        tenant_id: str,
        template_id: str,
        to: str,
        lead_email: str | None = None,
        *,
        identity_id: str | None = None,
        campaign_id: str | None = None,
    ) -> tuple[Preview, SendReceipt]:
        """Send the preview to `to` (a colleague, a seed inbox) through the configured mailer. Outside
        every campaign: no job, no limiter, no sequence; refused for a suppressed address."""
        try:
            address = canonical_email(to)
        except AddressError as exc:
            raise ValueError(f"--to: {exc}") from exc
        if self.records.suppression_for(tenant_id, address) is not None:
            raise ValueError(f"{address} is suppressed for {tenant_id}: a test is not sent there either")
        preview = self.preview(
            tenant_id, template_id, lead_email, identity_id=identity_id, campaign_id=campaign_id, to=address
        )
        receipt = mailer.send(preview.email)
        self.audit.record(
            tenant_id,
            self.clock.now(),
            self.actor,
            "template.test_send",
            template_id,
            revision=preview.template.revision,
            recipient_domain=address.rsplit("@", 1)[-1],
        )
        return preview, receipt

    def _lead(self, tenant_id: str, email: str | None) -> tuple[Lead, bool]:
        now: datetime = self.clock.now()
        if email:
            try:
                address = canonical_email(email)
            except AddressError as exc:
                raise ValueError(f"--lead: {exc}") from exc
            found = self.records.find(Lead, tenant_id, lead_id_for(tenant_id, address))
            if found is not None:
                return found, False
        else:
            address = "lead@example.com"
        blank = Lead(
            tenant_id=tenant_id,
            id=lead_id_for(tenant_id, address),
            email=address,
            source="preview",
            imported_at=now,
        )
        return blank, True

    def _identity(self, tenant_id: str, identity_id: str | None, campaign_id: str | None) -> SenderIdentity:
        if identity_id is not None:
            return self.records.get(SenderIdentity, tenant_id, identity_id)
        direction = self.records.get(Campaign, tenant_id, campaign_id).direction_id if campaign_id else None
        identities = [
            i
            for i in self.records.all(SenderIdentity, tenant_id)
            if i.status is IdentityStatus.ACTIVE and (direction is None or i.serves(direction))
        ] or self.records.all(SenderIdentity, tenant_id)
        if not identities:
            raise NotFoundError(f"tenant {tenant_id!r} has no sender identity to send it from")
        return identities[0]
