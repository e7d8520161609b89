from __future__ import annotations

from datetime import UTC, datetime

import pytest

from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.models import Lead, SenderIdentity, Template, Tenant
from outreach_core.rendering.compose import Thread, compose, message_id_for
from outreach_core.rendering.templating import TemplateError
from outreach_core.rendering.unsubscribe import sign, verify

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
TENANT = Tenant(
    id="acme",
    name="Acme",
    legal_name="Acme Ltd",
    postal_address="1 Main St, Springfield",
    privacy_url="https://acme.test/privacy",
    created_at=NOW,
)
IDENTITY = SenderIdentity(
    tenant_id="acme", id="ann", email="ann@acme-mail.com", display_name="Ann Lee", created_at=NOW
)
LEAD = Lead(
    tenant_id="acme",
    id="l-1",
    email="ivan@mail.ru",
    first_name="Иван",
    company="Вектор",
    source="t",
    imported_at=NOW,
)


def job(step: int = 1) -> MessageJob:
    return MessageJob(
        job_id=f"c_l-1_{step}",
        tenant_id="acme",
        campaign_id="c",
        lead_id="l-1",
        step=step,
        template_id="t",
        scheduled_at=NOW,
        idempotency_key=f"k{step}",
        updated_at=NOW,
    )


def test_first_email_carries_footer_unsubscribe_headers_and_tags() -> None:
    template = Template(
        tenant_id="acme", id="t", subject="Вопрос для {{company}}", text="Привет, {{first_name}}!"
    )
    email = compose(
        tenant=TENANT,
        identity=IDENTITY,
        lead=LEAD,
        template=template,
        job=job(),
        unsubscribe_url="https://u.test/u/tok",
        secret="compose-test-secret",
        thread=None,
    )
    assert email.subject == "Вопрос для Вектор"
    assert email.text.startswith("Привет, Иван!")
    assert "1 Main St, Springfield" in email.text and "https://u.test/u/tok" in email.text
    assert email.headers["List-Unsubscribe"] == "<https://u.test/u/tok>"
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "In-Reply-To" not in email.headers
    assert email.tags == {"tenant": "acme", "campaign": "c", "job": "c_l-1_1", "ikey": "k1"}
    assert email.message_id == message_id_for(job(), IDENTITY, "compose-test-secret")
    assert email.message_id.endswith("@acme-mail.com>") and "k1" not in email.message_id


def test_a_follow_up_replies_in_the_thread() -> None:
    template = Template(tenant_id="acme", id="t", subject="", text="Bump")
    email = compose(
        tenant=TENANT,
        identity=IDENTITY,
        lead=LEAD,
        template=template,
        job=job(2),
        unsubscribe_url="u",
        secret="compose-test-secret",
        thread=Thread(message_id="<first@x>", subject="Question"),
    )
    assert email.subject == "Re: Question"
    assert email.headers["In-Reply-To"] == "<first@x>" and email.headers["References"] == "<first@x>"


def test_a_follow_up_from_another_identity_starts_fresh_with_the_same_subject() -> None:
    template = Template(tenant_id="acme", id="t", subject="", text="Bump")
    email = compose(
        tenant=TENANT,
        identity=IDENTITY,
        lead=LEAD,
        template=template,
        job=job(2),
        unsubscribe_url="u",
        secret="compose-test-secret",
        thread=Thread(message_id=None, subject="Question"),
    )
    assert email.subject == "Question" and "In-Reply-To" not in email.headers


def test_html_gets_the_footer_inside_the_body() -> None:
    template = Template(
        tenant_id="acme", id="t", subject="S", text="T", html="<html><body><p>Hi</p></body></html>"
    )
    email = compose(
        tenant=TENANT,
        identity=IDENTITY,
        lead=LEAD,
        template=template,
        job=job(),
        unsubscribe_url="https://u.test/x",
        secret="compose-test-secret",
        thread=None,
    )
    assert email.html is not None
    assert email.html.index("Unsubscribe") < email.html.index("</body>")


def test_an_empty_subject_outside_a_thread_is_an_error() -> None:
    template = Template(tenant_id="acme", id="t", subject="", text="T")
    with pytest.raises(TemplateError, match="subject"):
        compose(
            tenant=TENANT,
            identity=IDENTITY,
            lead=LEAD,
            template=template,
            job=job(),
            unsubscribe_url="u",
            secret="compose-test-secret",
            thread=None,
        )


class TestUnsubscribeTokens:
    def test_a_signed_token_verifies_to_its_tenant_and_lead(self) -> None:
        token = sign("s1", "acme", "l-1")
        assert verify(["s1"], token) is not None
        assert verify(["s1"], token).lead_id == "l-1"  # type: ignore[union-attr]

    def test_rotation_accepts_old_secrets(self) -> None:
        assert verify(["new", "s1"], sign("s1", "acme", "l-1")) is not None

    @pytest.mark.parametrize("token", ["acme.l-2.deadbeef", "acme.l-1", "", "a.b.c.d"])
    def test_forged_or_malformed_tokens_fail(self, token: str) -> None:
        assert verify(["s1"], token) is None

    def test_a_token_for_another_lead_fails(self) -> None:
        signature = sign("s1", "acme", "l-1").split(".")[2]
        assert verify(["s1"], f"acme.l-2.{signature}") is None
