"""Records writes models as their JSON text (pydantic-core's model_dump_json) and builds them back from
the stored text in one pass (model_validate_json). Both must agree exactly with the dict path they
replace: the document holds what model_dump(mode="json") gives, and the model read back from the text
is the model read back from the dicts, with the store's version, whatever the text holds (any unicode,
zones, optional fields)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import Lead, LeadStatus
from outreach_core.ports import JsonDocument, StoredItem
from outreach_core.records import Timer, TimerKind, _build, _data

texts = st.text(max_size=12)
slugs = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
moments = st.builds(
    lambda at, hours: at.replace(tzinfo=timezone(timedelta(hours=hours))).astimezone(UTC),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(-12, 12),
)
leads = st.builds(
    Lead,
    tenant_id=slugs,
    id=texts,
    email=st.emails(),
    first_name=texts,
    company=texts,
    timezone=st.none() | st.sampled_from(["Europe/Berlin", "America/New_York"]),
    custom=st.dictionaries(texts, texts, max_size=3),
    source=texts.filter(bool),
    list_name=slugs,
    status=st.sampled_from(LeadStatus),
    flags=st.lists(texts, max_size=2).map(tuple),
    removed_from=st.lists(slugs, max_size=2).map(tuple),
    imported_at=moments,
    version=st.integers(0, 10**6),
)
jobs = st.builds(
    MessageJob,
    job_id=texts,
    tenant_id=slugs,
    campaign_id=slugs,
    lead_id=texts,
    step=st.integers(1, 9),
    template_id=slugs,
    sender_id=st.none() | texts,
    scheduled_at=moments,
    idempotency_key=texts,
    status=st.sampled_from(JobStatus),
    status_reason=texts,
    lease_until=st.none() | moments,
    subject=texts,
    updated_at=moments,
    version=st.integers(0, 10**6),
)
timers = st.builds(
    Timer,
    tenant_id=slugs,
    at=moments,
    kind=st.sampled_from(TimerKind),
    job_id=texts,
    campaign_id=slugs,
    lead_id=texts,
    step=st.integers(1, 9),
    for_room=st.booleans(),
)


def _stored(document: JsonDocument, version: int) -> StoredItem:
    return StoredItem(partition="p", sort="s", data=JsonDocument(document.text), version=version)


@given(model=leads | jobs, stored_version=st.integers(1, 10**6))
def test_an_entity_read_from_its_text_is_the_one_read_from_its_dicts(
    model: Lead | MessageJob, stored_version: int
) -> None:
    document = _data(model)
    assert json.loads(document.text) == model.model_dump(mode="json")
    from_text = _build(type(model), _stored(document, stored_version), versioned=True)
    parsed = json.loads(document.text)
    from_dicts = type(model).model_validate({**parsed, "version": stored_version})
    assert from_text == from_dicts and from_text.version == stored_version


@given(timer=timers)
def test_a_timer_read_from_its_text_is_the_timer_written(timer: Timer) -> None:
    from_text = _build(Timer, _stored(_data(timer), 1), versioned=False)
    assert from_text == timer and from_text.sort == timer.sort


def test_a_document_already_looked_at_is_built_from_its_dicts_and_writes_keep_the_text() -> None:
    lead = Lead(
        tenant_id="t",
        id="l",
        email="zoë@corp.example",
        source="s",
        imported_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    document = _data(lead)
    assert document["email"] == "zoë@corp.example" and document.parsed  # a Mapping like the dict
    item = StoredItem(partition="p", sort="s", data=document, version=3)
    assert _build(Lead, item, versioned=True) == lead.model_copy(update={"version": 3})
