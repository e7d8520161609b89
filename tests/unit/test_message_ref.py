"""X-Outreach-Ref: opaque to anyone without the secret, and mapped back to (tenant, job) by us."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from outreach_core.domain.models import Template
from outreach_core.rendering.compose import compose
from outreach_core.rendering.message_ref import HEADER, MessageRef, open_ref, seal_ref
from tests.unit.test_compose import IDENTITY, LEAD, TENANT, job

SECRET = "ref-secret"
tenants = st.from_regex(r"[a-z0-9][a-z0-9-]{0,40}", fullmatch=True)
job_ids = st.from_regex(r"[a-z0-9-]{1,30}_l-[0-9a-f]{16}_[1-9]", fullmatch=True)


@given(tenants, job_ids)
def test_a_ref_opens_to_its_tenant_and_job_and_shows_neither(tenant: str, job_id: str) -> None:
    token = seal_ref(SECRET, tenant, job_id)
    assert open_ref([SECRET], token) == MessageRef(tenant, job_id)
    assert open_ref(["old", SECRET], token) == MessageRef(tenant, job_id)  # rotation
    campaign = job_id.partition("_")[0]
    for visible in (tenant, campaign, job_id):
        assert len(visible) < 6 or visible not in token  # shorter runs can turn up by chance
    assert seal_ref(SECRET, tenant, job_id) == token  # deterministic: a retry renders the same message


@given(tenants, job_ids, st.integers(min_value=3, max_value=60))
def test_another_secret_or_any_altered_character_opens_nothing(tenant: str, job_id: str, at: int) -> None:
    token = seal_ref(SECRET, tenant, job_id)
    assert open_ref(["someone-else"], token) is None
    at = min(at, len(token) - 1)
    flipped = "B" if token[at] != "B" else "C"
    assert open_ref([SECRET], token[:at] + flipped + token[at + 1 :]) is None


def test_garbage_is_not_a_ref() -> None:
    for token in ("", "r1.", "r1.!!!", "x" * 2000, "r1.AAAA", "k7.abc"):
        assert open_ref([SECRET], token) is None


def test_the_length_hides_how_long_the_ids_are() -> None:
    assert len(seal_ref(SECRET, "a", "c_l-0000000000000000_1")) == len(
        seal_ref(SECRET, "northwind", "spring-promo_l-0000000000000000_3")
    )


def test_the_composed_message_names_no_tenant_campaign_or_step_in_its_headers() -> None:
    template = Template(tenant_id="acme", id="t", subject="Hello {{first_name}}", text="Hi")
    token = seal_ref(SECRET, TENANT.id, job().job_id)
    email = compose(
        tenant=TENANT,
        identity=IDENTITY,
        lead=LEAD,
        template=template,
        job=job(),
        unsubscribe_url="https://u.test/u/tok",
        thread=None,
        secret=SECRET,
        message_ref=token,
    )
    assert not any(name.lower().startswith("x-outreach-") and name != HEADER for name in email.headers)
    assert email.headers[HEADER] == token
    assert open_ref([SECRET], email.headers[HEADER]) == MessageRef("acme", "c_l-1_1")
    assert email.tags == {"tenant": "acme", "campaign": "c", "job": "c_l-1_1", "ikey": "k1"}
