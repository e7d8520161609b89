"""A corpus of real-looking replies and automatic messages (English and Russian, tests/fixtures/replies)
read by the MIME adapter and classified by the core's reply policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.inbound_mail import InboundMailError, html_to_text, new_text, parse_inbound
from outreach_core.domain.events import ReplyKind
from outreach_core.policies.replies import ReplyPolicy, classify, return_date

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
OURS = "<0100019b8e6a1c2f-5b7c3d2e-aaaa-bbbb-cccc-1234567890ab-000000@email.amazonses.com>"
FIRST = "<0100019b8e6a0000-00000000-aaaa-bbbb-cccc-000000000000-000000@email.amazonses.com>"
RECEIVED = datetime(2026, 1, 6, 9, 15, tzinfo=UTC)
H, U, A, M = ReplyKind.HUMAN, ReplyKind.UNSUBSCRIBE, ReplyKind.AUTO_REPLY, ReplyKind.AUTOMATED


def day(d: int) -> datetime:
    return datetime(2026, 1, d, tzinfo=UTC)


# file -> (kind, when the sequence may go on for an out-of-office)
EXPECTED: dict[str, tuple[ReplyKind, datetime | None]] = {
    "en_human_interested.eml": (H, None),
    "en_human_not_interested.eml": (H, None),
    "en_human_html_outlook.eml": (H, None),
    "ru_human_interested.eml": (H, None),
    "ru_human_vacation_but_interested.eml": (H, None),
    "ru_human_yandex_quote.eml": (H, None),
    "en_unsubscribe.eml": (U, None),
    "ru_unsubscribe.eml": (U, None),
    "en_ooo_exchange.eml": (A, day(13)),  # "until January 12, 2026"
    "en_ooo_gmail_vacation.eml": (A, day(20)),  # "until 2026-01-19"
    "en_ooo_subject_only.eml": (A, RECEIVED + timedelta(days=2)),  # no date: the default pause
    "en_ooo_text_only.eml": (A, day(15)),  # "until 14 January"
    "ru_ooo_yandex.eml": (A, day(20)),  # "до 19.01.2026"
    "ru_ooo_subject_only.eml": (A, day(16)),  # "Вернусь 15 января"
    "ru_ooo_x_autoreply.eml": (A, day(13)),  # "до 12 января"
    "en_dsn_bounce.eml": (M, None),
    "en_ticket_acknowledgement.eml": (M, None),
    "ru_newsletter.eml": (M, None),
}


def load(name: str) -> bytes:
    raw = (CORPUS / name).read_bytes()
    return raw.replace(b"{{MESSAGE_ID}}", OURS.encode()).replace(
        b"{{REFERENCES}}", f"{FIRST} {OURS}".encode()
    )


def test_the_corpus_is_all_covered_and_bilingual() -> None:
    assert {p.name for p in CORPUS.glob("*.eml")} == set(EXPECTED)
    for language in ("en_", "ru_"):
        kinds = {kind for name, (kind, _) in EXPECTED.items() if name.startswith(language)}
        assert kinds == {H, U, A, M}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_message_is_classified_correctly(name: str) -> None:
    reply = parse_inbound(load(name), received_at=RECEIVED)
    verdict = classify(reply.headers, reply.subject, reply.text, reply.received_at)
    kind, resume = EXPECTED[name]
    assert verdict.kind is kind, f"{name}: {verdict.reason}"
    assert verdict.resume_at == resume


@pytest.mark.parametrize("name", [n for n in sorted(EXPECTED) if "newsletter" not in n and "dsn" not in n])
def test_replies_carry_the_ids_of_our_message(name: str) -> None:
    reply = parse_inbound(load(name), received_at=RECEIVED)
    assert reply.in_reply_to == OURS
    assert reply.references == (FIRST, OURS)
    assert "@" in reply.sender and reply.sender == reply.sender.lower()


def test_quoted_history_and_our_footer_are_not_part_of_the_new_text() -> None:
    reply = parse_inbound(load("en_human_interested.eml"), received_at=RECEIVED)
    assert reply.text.startswith("Hi Ivan,")
    assert "Unsubscribe" not in reply.text and "wrote:" not in reply.text
    outlook = parse_inbound(load("en_human_html_outlook.eml"), received_at=RECEIVED)
    assert outlook.text.startswith("Please send me your pricing for 50 seats.")
    assert "Unsubscribe" not in outlook.text and "<" not in outlook.text
    russian = parse_inbound(load("ru_human_interested.eml"), received_at=RECEIVED)
    assert russian.text.startswith("Иван, добрый день!") and "Отписаться" not in russian.text
    yandex = parse_inbound(load("ru_human_yandex_quote.eml"), received_at=RECEIVED)
    assert yandex.text.endswith("Вернёмся к разговору весной.")


def test_the_subject_and_sender_are_decoded() -> None:
    reply = parse_inbound(load("ru_ooo_yandex.eml"), received_at=RECEIVED)
    assert reply.subject == "Автоответ: Re: Добрый день, Анна"
    assert reply.sender == "anna@client.example"
    assert reply.headers["auto-submitted"] == "auto-replied"


def test_the_date_header_is_the_fallback_receipt_time() -> None:
    reply = parse_inbound(load("en_human_interested.eml"))
    assert reply.received_at == RECEIVED


def test_a_reply_token_is_read_from_the_recipient_address() -> None:
    raw = load("en_human_interested.eml").replace(
        b"To: Ivan Petrov <ivan@acme.example>",
        b"To: Ivan Petrov <reply+acme.l-0123456789abcdef.a1b2c3@in.acme.example>",
    )
    reply = parse_inbound(raw, received_at=RECEIVED, envelope_recipients=["reply+other@in.acme.example"])
    assert reply.reply_tokens == ("acme.l-0123456789abcdef.a1b2c3", "other")


def test_the_same_message_gets_the_same_event_id() -> None:
    first = parse_inbound(load("en_unsubscribe.eml"), received_at=RECEIVED)
    again = parse_inbound(load("en_unsubscribe.eml"), received_at=RECEIVED + timedelta(minutes=5))
    assert first.event_id == again.event_id


def test_garbage_is_refused_with_a_reason() -> None:
    with pytest.raises(InboundMailError, match="From"):
        parse_inbound(b"Subject: hello\n\nno sender here\n", received_at=RECEIVED)
    with pytest.raises(InboundMailError, match="Date"):
        parse_inbound(b"From: a@b.example\nSubject: x\n\nbody\n")


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("I'm away until 2026-02-01.", datetime(2026, 2, 2, tzinfo=UTC)),
        ("Back on 3rd February", datetime(2026, 2, 4, tzinfo=UTC)),
        ("Вернусь 2 февраля", datetime(2026, 2, 3, tzinfo=UTC)),
        ("в отпуске с 01.01 по 10.01", datetime(2026, 1, 11, tzinfo=UTC)),
        ("out until 31.02.2026 (sic) and 10.30 is a time", None),
        ("away until 2026-06-30, far beyond any plausible pause", None),
        ("was out until 2 January", None),  # in the past
    ],
)
def test_return_dates_are_read_in_both_languages(text: str, back: datetime | None) -> None:
    assert return_date(text, RECEIVED, ReplyPolicy()) == back


def test_html_is_reduced_to_text_without_quoted_blocks() -> None:
    text = html_to_text("<p>Yes&nbsp;please</p><blockquote>Hi Ann, unsubscribe here</blockquote><br>Ann")
    assert "unsubscribe" not in text and "Yes" in text and "Ann" in text
    assert new_text("Sure.\n> quoted\nmore") == "Sure."
