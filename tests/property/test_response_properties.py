"""Properties of the response policy, over arbitrary replies (codes, statuses, stages, the corpus's
words in any order):

- a 4xx never suppresses, never bounces, never blocks: not in the verdict, and not on the production
  path (the real sender handling it at any attempt, with the soft-bounce rule's count run out);
- at most one rate cut per reply, and none for a transient reply or an API throttle;
- the classifier is total: every reply gets a class, and the same reply always the same one.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach_core.domain.mail import MailRefused
from outreach_core.policies.responses import (
    ProviderReply,
    ReplyOrigin,
    ResponseClass,
    classify,
    effect_of,
)
from tests.harness import harness, seed_tenant

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "replies"
WORDS = sorted(
    {
        word
        for path in CORPUS.glob("*.toml")
        for entry in tomllib.loads(path.read_text(encoding="utf-8"))["reply"]
        for word in entry["reply"].split()
    }
)
STAGES = st.sampled_from(["", "connect", "MAIL FROM", "RCPT TO", "DATA", "end of DATA"])
texts = st.lists(st.sampled_from(WORDS), max_size=25).map(" ".join) | st.text(max_size=80)
statuses = st.builds(
    lambda c, s, d: f"{c}.{s}.{d}", st.sampled_from("245"), st.integers(0, 7), st.integers(0, 999)
) | st.just("")
temporary_codes = st.integers(400, 499)
any_codes = st.none() | st.integers(200, 599)


@st.composite
def temporary_replies(draw: st.DrawFn) -> ProviderReply:
    status = draw(statuses)
    if status.startswith("5."):
        status = "4" + status[1:]  # a 4xx reply says 4.x.x when it says anything
    return ProviderReply(code=draw(temporary_codes), status=status, text=draw(texts), stage=draw(STAGES))


@st.composite
def any_replies(draw: st.DrawFn) -> ProviderReply:
    origin = draw(st.sampled_from(ReplyOrigin))
    return ProviderReply(
        code=draw(any_codes),
        status=draw(statuses),
        text=draw(texts),
        stage=draw(STAGES),
        origin=origin,
        api_hint=draw(st.sampled_from(["", "throttled", "rejected", "unavailable"])),
    )


@given(temporary_replies())
def test_a_4xx_never_suppresses_bounces_or_blocks(reply: ProviderReply) -> None:
    verdict = classify(reply)
    effect = effect_of(verdict)
    assert not verdict.permanent
    assert verdict.cls not in (ResponseClass.HARD_BOUNCE, ResponseClass.SENDER_BLOCK, ResponseClass.UNKNOWN)
    assert not (effect.suppress or effect.suppress_when_exhausted or effect.pause_at_provider)


@given(any_replies())
def test_at_most_one_rate_cut_and_only_for_a_provider_rate_limit(reply: ProviderReply) -> None:
    verdict = classify(reply)
    assert verdict == classify(reply)  # deterministic
    effect = effect_of(verdict)
    if effect.rate_cut:
        assert verdict.cls is ResponseClass.RATE_LIMIT and verdict.origin is ReplyOrigin.MTA
    if verdict.cls is ResponseClass.TRANSIENT:
        assert not effect.rate_cut


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(temporary_replies(), st.integers(0, 6))
def test_on_the_production_path_a_4xx_never_suppresses_and_cuts_at_most_once(
    reply: ProviderReply, earlier_attempts: int
) -> None:
    """The real sender, with the attempt count anywhere up to and past the soft-bounce rule's limit."""
    with TemporaryDirectory() as tmp:
        h = harness(Path(tmp), policy=None)
        [email] = seed_tenant(h, identities=1, steps=1, leads=["ann@gmail.com"])
        h.planner.tick()
        [job] = h.records.jobs("acme")
        h.records.save_job(job.model_copy(update={"attempts": earlier_attempts}))
        h.mailer.fail_next(
            email,
            MailRefused(
                reply.text, smtp_code=reply.code, status=reply.status, text=reply.text, stage=reply.stage
            ),
        )
        h.clock.advance(timedelta(minutes=6))
        for message in h.queue.receive(10):
            h.sender.handle(message)
            h.queue.ack(message.receipt)
        assert h.records.suppression_for("acme", email) is None
        limiter = h.app.services.limiter()
        docs = [limiter.identity_state("acme", "id0")] + [d for _, d in limiter.provider_state("acme", "id0")]
        cuts = sum(1 for d in docs if "aimd" in d and float(d["aimd"].get("factor", 1.0)) < 1.0)
        assert cuts <= 1
        [after] = h.records.jobs("acme")
        assert after.status.value not in ("bounced", "suppressed")
