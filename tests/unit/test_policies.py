from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from outreach_core.domain.jobs import ALLOWED, MAYBE_SENT, TERMINAL, JobStatus, MessageJob, TransitionError
from outreach_core.policies.admission import TokenBucket
from outreach_core.policies.autostop import AutoStopRules, Metric, RateRule, SlidingWindow, evaluate, job_tag
from outreach_core.policies.backoff import retry_delay
from outreach_core.policies.responses import ProviderReply, ResponseClass, classify
from outreach_core.policies.rotation import pick_weighted

NOW = datetime(2026, 1, 5, tzinfo=UTC)


class TestJobStatusMachine:
    def test_every_status_has_a_rule(self) -> None:
        assert set(ALLOWED) == set(JobStatus)

    def test_nothing_that_may_have_been_sent_can_be_sent_again(self) -> None:
        for status in MAYBE_SENT:
            assert JobStatus.SENDING not in ALLOWED[status]
            assert JobStatus.QUEUED not in ALLOWED[status] or status is JobStatus.SENDING

    def test_sending_goes_back_to_queued_only_from_sending(self) -> None:
        # SENDING -> QUEUED is the provider's explicit refusal (nothing accepted); no other sent-ish state.
        assert [s for s in MAYBE_SENT if JobStatus.QUEUED in ALLOWED[s]] == [JobStatus.SENDING]

    def test_non_terminal_states_are_exactly_the_open_ones(self) -> None:
        assert set(JobStatus) - TERMINAL == {JobStatus.PLANNED, JobStatus.QUEUED, JobStatus.SENDING}

    def test_a_disallowed_move_raises(self) -> None:
        job = MessageJob(
            job_id="j",
            tenant_id="t",
            campaign_id="c",
            lead_id="l",
            step=1,
            template_id="x",
            scheduled_at=NOW,
            idempotency_key="k",
            status=JobStatus.SENT,
            updated_at=NOW,
        )
        with pytest.raises(TransitionError, match="sent -> sending"):
            job.moved(JobStatus.SENDING, NOW)
        assert job.moved(JobStatus.DELIVERED, NOW).status is JobStatus.DELIVERED


class TestRotation:
    def test_picks_follow_weights_and_interleave(self) -> None:
        state: dict[str, float] = {}
        picks = []
        for _ in range(6):
            chosen, state = pick_weighted(state, {"a": 3, "b": 2, "c": 1})
            picks.append(chosen)
        assert Counter(picks) == {"a": 3, "b": 2, "c": 1}
        assert picks[:3] != ["a", "a", "a"]  # smooth: no bursts on the heaviest

    def test_an_ineligible_identity_is_never_chosen(self) -> None:
        state = {"blocked": 100.0}
        chosen, state = pick_weighted(state, {"ok": 1})
        assert chosen == "ok" and "blocked" not in state

    def test_nothing_eligible(self) -> None:
        assert pick_weighted({}, {}) == (None, {})


class TestSlidingWindow:
    def test_outcomes_update_the_send_they_belong_to(self) -> None:
        w = SlidingWindow(size=3)
        for job in "abc":
            w = w.record_send(job)
        w = w.record_outcome("b", "b").record_outcome("c", "d")
        assert (w.sends, w.count("b"), w.count("d")) == (3, 1, 1)

    def test_old_sends_leave_the_window(self) -> None:
        w = SlidingWindow(size=2).record_send("a").record_send("b").record_send("c")
        assert w.tags == job_tag("b") + job_tag("c") and w.sends == 2
        assert w.record_outcome("a", "b") == w  # gone: ignored

    def test_a_window_is_kept_as_short_tags_and_one_written_with_job_ids_still_reads(self) -> None:
        jobs = [f"fleet-q1_l-{n:016x}_1" for n in range(500)]
        w = SlidingWindow(size=500)
        for job in jobs:
            w = w.record_send(job)
        assert len(json.dumps(w.model_dump(mode="json"))) < 5_000  # not 500 job ids (~16 KB)
        legacy = SlidingWindow.model_validate({"size": 3, "jobs": ["a", "b", "c"], "outcomes": "pdp"})
        assert legacy.record_outcome("c", "b").outcomes == "pdb"
        assert legacy.record_send("d").record_outcome("a", "b") == legacy.record_send("d")  # a left

    def test_a_complaint_is_never_overwritten(self) -> None:
        w = SlidingWindow(size=2).record_send("a").record_outcome("a", "c").record_outcome("a", "d")
        assert w.count("c") == 1

    def test_recording_a_send_twice_counts_once(self) -> None:
        assert SlidingWindow(size=5).record_send("a").record_send("a").sends == 1

    def test_no_verdict_below_the_minimum_sample(self) -> None:
        rule = RateRule(metric=Metric.BOUNCE_RATE, max_rate=0.05, min_sample=10, window=100)
        w = SlidingWindow(size=100)
        for n in range(9):
            w = w.record_send(str(n)).record_outcome(str(n), "b")
        assert evaluate(w, rule) is None
        w = w.record_send("9").record_outcome("9", "b")
        breach = evaluate(w, rule)
        assert breach is not None and breach.count == 10 and breach.sample == 10
        assert "bounce_rate 100.00% > 5.00%" in breach.describe()

    def test_the_seed_defaults(self) -> None:
        rules = AutoStopRules()
        assert rules.campaign.max_rate == 0.05 and rules.identity.max_rate == 0.001


class TestBackoffAndBuckets:
    def test_retry_delay_grows_and_is_capped(self) -> None:
        delays = [retry_delay(a, "job").total_seconds() for a in range(1, 12)]
        assert delays[1] > delays[0] and max(delays) <= 4 * 3600 * 1.25
        assert retry_delay(3, "job") == retry_delay(3, "job")  # deterministic jitter

    def test_a_bucket_refills_with_time_up_to_its_burst(self) -> None:
        bucket = TokenBucket.restore({}, rate_per_s=1.0, burst=2.0, now=NOW)
        assert bucket.take() and bucket.take() and not bucket.take()
        later = TokenBucket.restore(bucket.dump(), rate_per_s=1.0, burst=2.0, now=NOW + timedelta(seconds=1))
        assert later.take() and not later.take()
        full = TokenBucket.restore(bucket.dump(), rate_per_s=1.0, burst=2.0, now=NOW + timedelta(hours=1))
        assert full.tokens == 2.0


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (421, "421 4.7.0 Try again later, closing connection", ResponseClass.TRANSIENT),
        (
            550,
            "550 5.1.1 The email account that you tried to reach does not exist",
            ResponseClass.HARD_BOUNCE,
        ),
        (550, "550 5.2.1 The email account that you tried to reach is disabled", ResponseClass.HARD_BOUNCE),
        (552, "552 5.2.2 Mailbox full", ResponseClass.MAILBOX_FULL),
        (
            550,
            "550 5.7.26 Unauthenticated email from example.com is not accepted",
            ResponseClass.AUTH_FAILURE,
        ),
        (554, "554 5.6.0 Message content rejected", ResponseClass.CONTENT),
    ],
)
def test_response_classes(code: int, text: str, expected: ResponseClass) -> None:
    assert classify(ProviderReply(code=code, text=text)).cls is expected
