"""The MIME wire form: our header writer gives exactly the bytes compat32's generator gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import mime
from outreach_core.domain.mail import Address, OutboundEmail

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def _email(**changes: object) -> OutboundEmail:
    fields: dict[str, object] = {
        "sender": Address(email="ann@acme-mail.com", name="Ann Example"),
        "recipient": Address(email="bob@corp.example", name="Bob"),
        "reply_to": "r+token@acme-mail.com",
        "subject": "A question for Corp",
        "text": "Hi Bob,\none question.\n",
        "message_id": "<m1@acme-mail.com>",
        "headers": {
            "List-Unsubscribe": "<https://u.example/unsubscribe/abc>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Outreach-Ref": "x" * 80,
        },
    }
    fields.update(changes)
    return OutboundEmail.model_validate(fields)


CASES = {
    "plain": _email(),
    "cyrillic subject and names": _email(
        subject="Вопрос для компании «Вектор» — коротко", sender=Address(email="a@b.ru", name="Иван Петров")
    ),
    "double spaces and tabs": _email(subject="Two  spaces\\tand a tab", text="x"),
    "long subject": _email(subject=" ".join(["word"] * 150)),
    "quoted display name": _email(recipient=Address(email="bob@corp.example", name='Bob "the" Builder, Jr.')),
    "html alternative": _email(html="<p>Hi</p>"),
    "trailing space": _email(subject="ends with a space "),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_fast_header_writer_matches_compat32(name: str) -> None:
    message = mime.to_mime(CASES[name], AT)
    if message.is_multipart():
        message.set_boundary("===============0000000000000000000==")  # else random per flatten
    assert mime.wire_bytes(message) == message.as_bytes(policy=mime._WIRE)


def test_to_bytes_is_the_wire_form() -> None:
    email = CASES["cyrillic subject and names"]
    assert mime.to_bytes(email, AT) == mime.to_mime(email, AT).as_bytes(policy=mime._WIRE)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_direct_plain_form_is_the_wire_form_or_steps_aside(name: str) -> None:
    email = CASES[name]
    direct = mime._plain_wire(email, AT)
    assert (direct is None) == (name not in ("plain", "quoted display name", "long subject"))
    if direct is not None:
        assert direct == mime.to_mime(email, AT).as_bytes(policy=mime._WIRE)


_WORD = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400)
    | st.lists(st.sampled_from(["Hi", "=", ".", " ", "\t", "\n", "\r\n", "\r", "x" * 90, "é", "—"])).map(
        "".join
    ),
    subject=st.lists(_WORD, min_size=1, max_size=8).map(" ".join),
    name=st.one_of(st.just(""), st.lists(_WORD, min_size=1, max_size=3).map(" ".join)),
)
def test_the_direct_plain_form_matches_compat32_for_any_body(text: str, subject: str, name: str) -> None:
    email = _email(text=text, subject=subject, sender=Address(email="ann@acme-mail.com", name=name))
    direct = mime._plain_wire(email, AT)
    if direct is not None:
        assert direct == mime.to_mime(email, AT).as_bytes(policy=mime._WIRE)
    assert mime.to_bytes(email, AT) == mime.to_mime(email, AT).as_bytes(policy=mime._WIRE)
