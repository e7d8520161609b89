"""Token bucket: a rate with a burst, refilled from elapsed time. State is a small document."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class TokenBucket:
    rate_per_s: float
    burst: float
    tokens: float
    at: datetime

    @classmethod
    def restore(
        cls, doc: Mapping[str, Any], *, rate_per_s: float, burst: float, now: datetime
    ) -> TokenBucket:
        """The bucket as stored, refilled up to `now`. A new bucket starts full."""
        if not doc:
            return cls(rate_per_s, burst, burst, now)
        last = datetime.fromisoformat(doc["at"])
        elapsed = max(0.0, (now - last).total_seconds())
        tokens = min(burst, float(doc["tokens"]) + elapsed * rate_per_s)
        return cls(rate_per_s, burst, tokens, max(now, last))

    def take(self, amount: float = 1.0) -> bool:
        if self.tokens + 1e-9 < amount:
            return False
        self.tokens -= amount
        return True

    def dump(self) -> dict[str, Any]:
        return {"tokens": round(self.tokens, 6), "at": self.at.isoformat()}
