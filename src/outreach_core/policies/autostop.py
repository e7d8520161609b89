"""Auto-stop: sliding windows of the last N sends and the rules that pause or block on them.

The seed's rules (design.md §5): bounce rate > 5% over the last N sends of a campaign pauses it;
complaint rate > 0.1% blocks the identity at once. Per tenant, a bounce rate over its last N sends
pauses all its running campaigns (a circuit breaker above the campaigns, peers.md §4 item 5). Each
rule waits for a minimum sample; a cool-down, when set, resumes automatically after that long.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

PENDING, DELIVERED, BOUNCED, COMPLAINED = "p", "d", "b", "c"


class SlidingWindow(BaseModel):
    """Outcomes of the last `size` sends, oldest first. Later outcomes of the same job overwrite."""

    model_config = ConfigDict(frozen=True)

    size: int = Field(ge=1)
    jobs: tuple[str, ...] = ()
    outcomes: str = ""  # one letter per job: p(ending) d(elivered) b(ounced) c(omplained)

    def record_send(self, job_id: str) -> SlidingWindow:
        if job_id in self.jobs:
            return self
        jobs = (*self.jobs, job_id)[-self.size :]
        outcomes = (self.outcomes + PENDING)[-self.size :]
        return self.model_copy(update={"jobs": jobs, "outcomes": outcomes})

    def record_outcome(self, job_id: str, outcome: str) -> SlidingWindow:
        """Outcomes of jobs that already left the window are ignored: the window is about recent sends."""
        try:
            index = self.jobs.index(job_id)
        except ValueError:
            return self
        if self.outcomes[index] == COMPLAINED:  # a complaint is the worst news; nothing overrides it
            return self
        outcomes = self.outcomes[:index] + outcome + self.outcomes[index + 1 :]
        return self.model_copy(update={"outcomes": outcomes})

    @property
    def sends(self) -> int:
        return len(self.jobs)

    def count(self, outcome: str) -> int:
        return self.outcomes.count(outcome)

    def rate(self, outcome: str) -> float:
        return self.count(outcome) / self.sends if self.sends else 0.0


class Metric(StrEnum):
    BOUNCE_RATE = "bounce_rate"
    COMPLAINT_RATE = "complaint_rate"


_LETTER = {Metric.BOUNCE_RATE: BOUNCED, Metric.COMPLAINT_RATE: COMPLAINED}


class RateRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: Metric
    max_rate: float = Field(ge=0, le=1)
    min_sample: int = Field(ge=1, description="no verdict before this many sends in the window")
    window: int = Field(ge=1, description="N: the last N sends")


class AutoStopRules(BaseModel):
    """Defaults from the seed. A tenant may override any of them."""

    model_config = ConfigDict(frozen=True)

    campaign: RateRule = RateRule(metric=Metric.BOUNCE_RATE, max_rate=0.05, min_sample=100, window=500)
    identity: RateRule = RateRule(metric=Metric.COMPLAINT_RATE, max_rate=0.001, min_sample=1, window=1000)
    tenant: RateRule = RateRule(metric=Metric.BOUNCE_RATE, max_rate=0.05, min_sample=200, window=500)
    campaign_cooldown_s: float | None = Field(default=None, ge=0, description="None: resume by hand")
    identity_cooldown_s: float | None = Field(default=None, ge=0, description="None: unblock by hand")


class Breach(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: Metric
    rate: float
    threshold: float
    count: int
    sample: int

    def describe(self) -> str:
        return (
            f"{self.metric.value} {self.rate:.2%} > {self.threshold:.2%} "
            f"({self.count} of the last {self.sample} sends)"
        )


def evaluate(window: SlidingWindow, rule: RateRule) -> Breach | None:
    """A breach when the window holds at least `min_sample` sends and the rate exceeds the maximum."""
    if window.sends < rule.min_sample:
        return None
    letter = _LETTER[rule.metric]
    rate = window.rate(letter)
    if rate <= rule.max_rate:
        return None
    return Breach(
        metric=rule.metric,
        rate=rate,
        threshold=rule.max_rate,
        count=window.count(letter),
        sample=window.sends,
    )
