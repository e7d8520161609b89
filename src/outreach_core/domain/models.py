"""Tenants and what they own: directions, sender identities, leads, templates and campaigns."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from outreach_core.domain.accounts import ImapAccount, SmtpAccount
from outreach_core.domain.holidays import HolidayCalendar
from outreach_core.domain.ids import Slug, stable_fraction
from outreach_core.domain.window import SendWindow


class Entity(BaseModel):
    """A stored, mutable record. `version` is the store's compare-and-set token (0 = not stored yet)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(default=0, exclude=True)


class Quotas(BaseModel):
    model_config = ConfigDict(frozen=True)

    daily: int = Field(default=1000, ge=0, description="sends per UTC day across all identities")
    hourly: int = Field(default=120, ge=0, description="sends admitted per hour by the planner")


class Overlap(StrEnum):
    """A lead that is already in another running campaign's sequence, when this one's step 1 comes due."""

    WAIT = "wait"  # one active sequence per lead: this one starts when the other is over (the default)
    SKIP = "skip"  # this campaign leaves the lead out
    PARALLEL = "parallel"  # both run at once


class Tenant(Entity):
    id: Slug
    name: str = Field(min_length=1)
    legal_name: str = ""
    postal_address: str = Field(min_length=5, description="printed in every footer (CAN-SPAM, GDPR Art. 14)")
    privacy_url: str = ""
    window: SendWindow = SendWindow()
    quotas: Quotas = Quotas()
    weight: float = Field(default=1.0, gt=0, description="fair-share weight when tenants compete")
    overlap: Overlap = Overlap.WAIT
    holidays: HolidayCalendar = HolidayCalendar()
    created_at: datetime

    @field_validator("postal_address")
    @classmethod
    def _address_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a postal address is required for the footer")
        return value.strip()


class Direction(Entity):
    """An offer or vertical a tenant sells; identities and campaigns belong to one."""

    tenant_id: Slug
    id: Slug
    name: str = Field(min_length=1)
    description: str = ""


class IdentityStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    BLOCKED = "blocked"


class SenderIdentity(Entity):
    tenant_id: Slug
    id: Slug
    email: str
    display_name: str = ""
    reply_to: str = ""
    directions: tuple[Slug, ...] = Field(default=(), description="directions it may send for; empty = all")
    daily_cap: int = Field(default=50, ge=0)
    weight: float = Field(default=1.0, gt=0)
    status: IdentityStatus = IdentityStatus.ACTIVE
    status_reason: str = ""
    created_at: datetime
    # Its own mailbox (None: the deployment's mailer, SES on AWS). References to secrets only.
    smtp: SmtpAccount | None = None
    imap: ImapAccount | None = None

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[-1]

    @property
    def transport(self) -> str:
        """How its mail goes out: its own SMTP account, or the deployment's default mailer."""
        return "smtp" if self.smtp is not None else "default"

    def serves(self, direction_id: str) -> bool:
        return not self.directions or direction_id in self.directions


class LawfulBasis(StrEnum):
    CONSENT = "consent"
    LEGITIMATE_INTEREST = "legitimate_interest"
    CONTRACT = "contract"
    OTHER = "other"


class LeadStatus(StrEnum):
    ACTIVE = "active"
    REPLIED = "replied"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    SKIPPED = "skipped"  # list hygiene: never sent to (dead or disposable domain, do-not-contact, ...)
    PAUSED = "paused"  # by a person: nothing goes out until it is resumed, its sequences wait
    FINISHED = "finished"  # by a person: done (a meeting booked, not a fit); no campaign mails it again


STANDARD_FIELDS = ("email", "first_name", "last_name", "company", "title", "country")


class Lead(Entity):
    tenant_id: Slug
    id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    title: str = ""
    timezone: str | None = None
    country: str = ""
    custom: dict[str, str] = Field(default_factory=dict)
    source: str = Field(min_length=1, description="where the address came from")
    lawful_basis: LawfulBasis = LawfulBasis.LEGITIMATE_INTEREST
    list_name: Slug = "default"
    status: LeadStatus = LeadStatus.ACTIVE
    skip_code: str = ""  # why list hygiene skipped it (policies.hygiene.SkipCode), when it did
    status_reason: str = ""  # the one-line reason, as the import report and `outreach status` show it
    flags: tuple[str, ...] = ()  # hygiene notes on a lead that is sent to (role account, likely typo)
    removed_from: tuple[str, ...] = ()  # campaigns a person took it out of: they never mail it again
    imported_at: datetime

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[-1]

    def fields(self) -> dict[str, str]:
        """The values a template may use."""
        values = {
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": self.company,
            "title": self.title,
            "country": self.country,
        }
        values.update(self.custom)
        return values


class Template(Entity):
    tenant_id: Slug
    id: Slug
    subject: str = Field(description="empty on a follow-up means 'Re: ' + the first step's subject")
    text: str = Field(min_length=1)
    html: str | None = None
    revision: int = Field(default=1, ge=1, description="1, 2, ...: each update is a new revision")
    fields: tuple[str, ...] = Field(default=(), description="custom lead columns declared for the lint")
    updated_at: datetime | None = None


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"  # every enrolled lead's sequence is over (set by the planner)
    STOPPED = "stopped"  # ended by a person: its open jobs cancelled, never resumed


MAX_STEP_DELAY = timedelta(days=365)  # a step later than a year after the previous one is a typo


MAX_VARIANTS = 5


class Variant(BaseModel):
    """One template of an A/B step and its share of the step's leads."""

    model_config = ConfigDict(frozen=True)

    template_id: Slug
    weight: int = Field(default=1, ge=1, le=100)


class CampaignStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int = Field(ge=1)
    template_id: Slug = Field(description="the template; with variants, the first variant's")
    variants: tuple[Variant, ...] = Field(default=(), description="A/B: 2 to 5 templates with weights")
    delay: timedelta = Field(
        default=timedelta(0), description="after the previous step's send (step 1: start)"
    )
    window: SendWindow | None = Field(default=None, description="overrides the tenant's window for this step")
    thread: bool = Field(default=True, description="send as a reply in the first email's thread")

    @model_validator(mode="after")
    def _variants(self) -> CampaignStep:
        if not self.variants:
            return self
        ids = [v.template_id for v in self.variants]
        if not 2 <= len(ids) <= MAX_VARIANTS:
            raise ValueError(f"step {self.number}: an A/B step has 2 to {MAX_VARIANTS} variants")
        if len(set(ids)) != len(ids):
            raise ValueError(f"step {self.number}: a variant's template appears twice")
        if self.template_id != ids[0]:
            raise ValueError(f"step {self.number}: template_id must be the first variant's")
        return self

    @property
    def template_ids(self) -> tuple[str, ...]:
        return tuple(v.template_id for v in self.variants) or (self.template_id,)

    def template_for(self, tenant_id: str, campaign_id: str, lead_id: str) -> str:
        """The lead's variant: by weight, fixed per lead (the same on every retry, edit or replay)."""
        if not self.variants:
            return self.template_id
        point = stable_fraction("variant", tenant_id, campaign_id, lead_id, str(self.number))
        total = sum(v.weight for v in self.variants)
        edge = 0.0
        for variant in self.variants:
            edge += variant.weight / total
            if point < edge:
                return variant.template_id
        return self.variants[-1].template_id


class Campaign(Entity):
    tenant_id: Slug
    id: Slug
    direction_id: Slug
    name: str = Field(min_length=1)
    lead_list: Slug = "default"
    steps: tuple[CampaignStep, ...] = Field(min_length=1)
    status: CampaignStatus = CampaignStatus.DRAFT
    status_reason: str = ""
    started_at: datetime | None = None
    created_at: datetime

    @model_validator(mode="after")
    def _steps_numbered(self) -> Campaign:
        if [s.number for s in self.steps] != list(range(1, len(self.steps) + 1)):
            raise ValueError("steps must be numbered 1, 2, 3, ... in order")
        return self

    def step(self, number: int) -> CampaignStep:
        return self.steps[number - 1]

    def has_step(self, number: int) -> bool:
        return 1 <= number <= len(self.steps)
