"""Auto-stop: sliding windows of the last N sends and the rules that pause or block on them.

The seed's rules (design.md §5): bounce rate > 5% over the last N sends of a campaign pauses it;
complaint rate > 0.1% blocks the identity at once. Per tenant, a bounce rate over its last N sends
pauses all its running campaigns (a circuit breaker above the campaigns, peers.md §4 item 5). Each
rule waits for a minimum sample; a cool-down, when set, resumes automatically after that long.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

PENDING, DELIVERED, BOUNCED, COMPLAINED = "p", "d", "b", "c"


class SlidingWindow(BaseModel):
    """Outcomes of the last `size` sends, oldest first. Later outcomes of the same job overwrite.

    A job is kept as a digest of its id (`job_tag`: 8 characters, 48 bits), all of them in one string,
    so the document stays a few kilobytes (it is read and written with every send and every outcome)
    rather than hundreds of full job ids. A document written before holds the ids in `jobs`: they
    are turned into tags on reading."""

    model_config = ConfigDict(frozen=True)

    size: int = Field(ge=1)
    tags: str = ""  # job_tag of each job in the window, concatenated, oldest first
    outcomes: str = ""  # one letter per job: p(ending) d(elivered) b(ounced) c(omplained)

    @model_validator(mode="before")
    @classmethod
    def _from_job_ids(cls, data: Any) -> Any:
        """A document written before tags: its job ids become tags."""
        if isinstance(data, Mapping) and "jobs" in data:
            jobs = data["jobs"] or ()
            data = {k: v for k, v in data.items() if k != "jobs"}
            data["tags"] = "".join(job_tag(str(job)) for job in jobs)
        return data

    def _index(self, job_id: str) -> int | None:
        tag = job_tag(job_id)
        at = self.tags.find(tag)
        while at >= 0:
            if at % TAG_LENGTH == 0:
                return at // TAG_LENGTH
            at = self.tags.find(tag, at + 1)
        return None

    def record_send(self, job_id: str) -> SlidingWindow:
        if self._index(job_id) is not None:
            return self
        tags = (self.tags + job_tag(job_id))[-self.size * TAG_LENGTH :]
        outcomes = (self.outcomes + PENDING)[-self.size :]
        return self.model_copy(update={"tags": tags, "outcomes": outcomes})

    def record_outcome(self, job_id: str, outcome: str) -> SlidingWindow:
        """Outcomes of jobs that already left the window are ignored: the window is about recent sends."""
        index = self._index(job_id)
        if index is None:
            return self
        if self.outcomes[index] == COMPLAINED:  # a complaint is the worst news; nothing overrides it
            return self
        outcomes = self.outcomes[:index] + outcome + self.outcomes[index + 1 :]
        return self.model_copy(update={"outcomes": outcomes})

    @property
    def sends(self) -> int:
        return len(self.outcomes)

    def count(self, outcome: str) -> int:
        return self.outcomes.count(outcome)

    def rate(self, outcome: str) -> float:
        return self.count(outcome) / self.sends if self.sends else 0.0


TAG_LENGTH = 8


@functools.lru_cache(maxsize=4096)  # a send looks its job up in each of its windows
def job_tag(job_id: str) -> str:
    """A job id's digest in a window: 48 bits (two jobs of a 1,000-send window share one with a
    chance of about one in 10^9), in 8 URL-safe base64 characters."""
    return base64.urlsafe_b64encode(hashlib.sha256(job_id.encode()).digest()[:6]).decode()


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
