# ruff: noqa: E501 - real provider replies are quoted whole, as parsers meet them
"""The response policy's rules one by one: precedence of text over code, permanence, stage, origin, and
what each class does. The corpus (tests/corpus, tests/integration/test_reply_corpus.py) runs ~150 real
replies through the production path; these tests pin the rules that corpus relies on."""

from __future__ import annotations

import pytest

from outreach_core.policies.responses import (
    NEVER_ATTEMPTED,
    ProviderReply,
    ReplyOrigin,
    ResponseClass,
    Retry,
    classify,
    classify_bounce,
    classify_delay,
    effect_of,
    normalised_text,
)

R = ResponseClass


def cls_of(text: str, code: int | None = None, **kw: str) -> ResponseClass:
    return classify(ProviderReply(code=code, text=text, **kw)).cls  # type: ignore[arg-type]


class TestTextDecidesWhereItIsSpecific:
    """The issue's three examples, and their mirror images."""

    def test_no_such_user_under_5_7_1_is_a_hard_bounce(self) -> None:
        assert cls_of("550 5.7.1 No such user!") is R.HARD_BOUNCE  # Yandex
        assert cls_of("550 5.7.1 This message is likely unsolicited email.") is R.SENDER_BLOCK

    def test_receive_limit_under_452_is_a_rate_limit(self) -> None:
        assert cls_of("452 4.2.2 recipient's per hour message receive limit exceeded") is R.RATE_LIMIT
        assert cls_of("452 4.2.2 The email account that you tried to reach is over quota") is R.MAILBOX_FULL

    def test_temporary_system_problem_under_421_is_transient(self) -> None:
        assert cls_of("421 4.7.0 Temporary System Problem. Try again later.") is R.TRANSIENT
        assert (
            cls_of("421 4.7.28 Gmail has detected an unusual rate of email. temporarily rate limited.")
            is R.RATE_LIMIT
        )

    def test_server_busy_is_not_a_rate_signal(self) -> None:
        assert (
            cls_of("451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714)")
            is R.TRANSIENT
        )

    def test_without_a_text_rule_the_enhanced_status_decides(self) -> None:
        assert cls_of("550 5.1.1 <x@example.net>...") is R.HARD_BOUNCE
        assert cls_of("550 5.1.8 ...") is R.SENDER_BLOCK
        assert cls_of("552 5.3.4 ...") is R.CONTENT
        assert cls_of("550 5.7.0 ...") is R.SENDER_BLOCK
        assert cls_of("450 4.7.1 ...") is R.TRANSIENT  # a 4.7.x alone says "later", nothing about rate

    def test_without_status_the_basic_code_decides(self) -> None:
        assert cls_of("Requested action aborted", code=451) is R.TRANSIENT
        assert cls_of("Transaction failed", code=554) is R.UNKNOWN


class TestPermanence:
    @pytest.mark.parametrize(
        "text",
        [
            "450 4.1.1 <x@example.net>: Recipient address rejected: User unknown in local recipient table",
            "451 4.1.1 No such user (temporary lookup failure)",
            "421 4.7.0 [TSS09] blocked",
        ],
    )
    def test_a_4xx_is_never_a_bounce_or_a_block(self, text: str) -> None:
        verdict = classify(ProviderReply(text=text))
        assert not verdict.permanent
        assert verdict.cls not in (R.HARD_BOUNCE, R.SENDER_BLOCK, R.UNKNOWN)

    def test_a_4_x_x_status_without_a_code_is_temporary(self) -> None:
        assert not classify(ProviderReply(status="4.2.2", text="mailbox full")).permanent


class TestStageAndOrigin:
    def test_a_recipient_text_before_rcpt_is_about_us(self) -> None:
        reply = ProviderReply(code=550, text="5.1.0 sender rejected: user unknown", stage="MAIL FROM")
        assert classify(reply).cls is R.SENDER_BLOCK

    def test_api_throttles_are_rate_limits_without_a_provider_cut(self) -> None:
        verdict = classify(ProviderReply(text="Maximum sending rate exceeded.", origin=ReplyOrigin.API))
        assert verdict.cls is R.RATE_LIMIT and not effect_of(verdict).rate_cut
        hinted = classify(ProviderReply(text="Rate exceeded", origin=ReplyOrigin.API, api_hint="throttled"))
        assert hinted.cls is R.RATE_LIMIT and not hinted.permanent

    def test_an_unverified_sender_is_our_configuration(self) -> None:
        reply = ProviderReply(
            text="Email address is not verified. The following identities failed the check in region EU-WEST-1: a@b.example",
            origin=ReplyOrigin.API,
            api_hint="rejected",
        )
        assert classify(reply).cls is R.AUTH_FAILURE

    def test_an_unexplained_api_rejection_is_unknown_and_ends_the_job(self) -> None:
        verdict = classify(ProviderReply(text="Illegal header", origin=ReplyOrigin.API, api_hint="rejected"))
        assert verdict.cls is R.UNKNOWN and effect_of(verdict).retry is Retry.NONE


def test_multi_line_replies_are_read_as_one_line() -> None:
    joined = (
        "5.1.1 The email account that you tried to reach does not exist. Please try\n"
        "5.1.1 double-checking the recipient's email address for typos or\n"
        "5.1.1 unnecessary spaces. - gsmtp"
    )
    assert normalised_text(joined).startswith(
        "The email account that you tried to reach does not exist. Please try double"
    )
    assert cls_of(joined, code=550) is R.HARD_BOUNCE


class TestEffects:
    @pytest.mark.parametrize(
        ("text", "retry", "cut", "suppress", "pause"),
        [
            ("421 4.7.28 temporarily rate limited", Retry.SLOWER, True, False, False),
            ("421 4.4.5 Server busy, try again later.", Retry.LATER, False, False, False),
            ("452 4.2.2 over quota", Retry.SOFT, False, False, False),
            ("550 5.1.1 user unknown", Retry.NONE, False, True, False),
            ("550 5.7.1 likely unsolicited", Retry.ELSEWHERE, False, False, True),
            ("550 5.7.26 DMARC policy", Retry.ELSEWHERE, False, False, True),
            ("421 4.7.26 unauthenticated", Retry.LATER, False, False, False),
            ("552 5.3.4 Message size exceeds fixed limit", Retry.NONE, False, False, False),
            ("554 Transaction failed", Retry.NONE, False, False, False),
        ],
    )
    def test_each_class_has_one_effect(
        self, text: str, retry: Retry, cut: bool, suppress: bool, pause: bool
    ) -> None:
        effect = effect_of(classify(ProviderReply(text=text)))
        assert (effect.retry, effect.rate_cut, effect.suppress, effect.pause_at_provider) == (
            retry,
            cut,
            suppress,
            pause,
        )

    def test_mailbox_full_suppresses_when_exhausted_only_if_permanent(self) -> None:
        assert effect_of(classify(ProviderReply(text="552 5.2.2 Mailbox full"))).suppress_when_exhausted
        assert not effect_of(classify(ProviderReply(text="452 4.2.2 Mailbox full"))).suppress_when_exhausted

    def test_auth_failures_and_content_rejections_alert(self) -> None:
        assert effect_of(classify(ProviderReply(text="550 5.7.26 DMARC"))).alert == "identity.auth_failed"
        assert (
            effect_of(classify(ProviderReply(text="552 5.3.4 message too large"))).alert == "content.rejected"
        )


class TestSesBounces:
    @pytest.mark.parametrize("subtype", sorted(NEVER_ATTEMPTED))
    def test_never_attempted_bounces_suppress_but_do_not_count(self, subtype: str) -> None:
        verdict = classify_bounce("Permanent", subtype, "5.1.1", "")
        assert verdict.suppress and not verdict.counts_as_bounce

    def test_a_policy_block_reported_as_permanent_pauses_and_counts_but_never_suppresses(self) -> None:
        verdict = classify_bounce(
            "Permanent",
            "General",
            "5.7.1",
            "smtp; 550 5.7.1 This message is likely unsolicited email. - gsmtp",
        )
        assert verdict.cls is R.SENDER_BLOCK and verdict.pause_at_provider and verdict.counts_as_bounce
        assert not verdict.suppress

    def test_a_rate_refusal_ses_gave_up_on_cuts_and_never_suppresses(self) -> None:
        verdict = classify_bounce(
            "Transient", "General", "4.7.0", "smtp; 421 4.7.0 [TSS04] temporarily deferred"
        )
        assert verdict.rate_cut and not (verdict.suppress or verdict.soft_bounce or verdict.counts_as_bounce)

    def test_mailbox_full_feeds_the_soft_bounce_rule(self) -> None:
        verdict = classify_bounce("Transient", "MailboxFull", "4.2.2", "")
        assert verdict.soft_bounce and not verdict.suppress

    def test_undetermined_does_nothing(self) -> None:
        verdict = classify_bounce("Undetermined", "Undetermined")
        assert verdict.cls is R.UNKNOWN and not (
            verdict.suppress or verdict.soft_bounce or verdict.counts_as_bounce
        )


def test_delivery_delays_are_at_most_a_rate_signal() -> None:
    assert (
        classify_delay("TransientCommunicationFailure", "4.4.2", "smtp; 421 4.4.2 timeout").cls is R.TRANSIENT
    )
    assert classify_delay("General", "4.7.0", "421 4.7.0 [TSS04] temporarily deferred").cls is R.RATE_LIMIT
    assert classify_delay("IPFailure").cls is R.RATE_LIMIT
    assert classify_delay("MailboxFull", "4.2.2", "MailboxFull").cls is R.MAILBOX_FULL
    assert not classify_delay("General", "5.1.1", "550 5.1.1 user unknown").permanent
