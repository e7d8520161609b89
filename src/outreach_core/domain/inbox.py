"""The unified inbox: every reply, auto-reply and bounce that came back, with the category that
decided what happened to the lead's sequence (a person can re-categorise; each change is audited)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from outreach_core.domain.events import ReplyKind
from outreach_core.domain.ids import Slug
from outreach_core.domain.models import Entity


class InboxCategory(StrEnum):
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    OUT_OF_OFFICE = "out_of_office"
    UNSUBSCRIBE = "unsubscribe"
    WRONG_PERSON = "wrong_person"  # not the right contact, or a referral to someone else
    BOUNCE = "bounce"
    OTHER = "other"


class InboxEffect(StrEnum):
    """What a category does to the lead (policies.inbox.effect_of)."""

    STOP = "stop"  # the sequence ends: a person answered
    POSTPONE = "postpone"  # the next step waits for the return date
    SUPPRESS = "suppress"  # never mailed again (unsubscribe, hard bounce)
    NONE = "none"  # machine mail that says nothing about the lead


class InboxMessage(Entity):
    """One message in the inbox. Its text is not stored here: `outreach inbox show` reads the raw
    message from the archive (`payload_ref`), so the state store holds no message bodies."""

    tenant_id: Slug
    id: str  # <received yyyymmddThhmmss>-<hash of the event id>: the inbox lists in time order
    event_id: str
    received_at: datetime
    source: str = Field(description="imap:<identity> or ses-inbound")
    identity_id: str = ""
    campaign_id: str = ""
    lead_id: str = ""
    job_id: str = ""
    sender: str = ""  # the From address (the lead's, usually)
    subject: str = ""
    kind: ReplyKind | None = None  # what the reply rules made of it (None: a bounce report)
    category: InboxCategory
    category_reason: str = ""
    categorised_by: str = "rules"  # rules | operator:<name>
    return_date: datetime | None = None  # out of office: when the sequence goes on
    handled: bool = False
    payload_ref: str = ""
