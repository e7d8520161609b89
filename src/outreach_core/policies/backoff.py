"""Retry delays: exponential with deterministic jitter, so a replay computes the same delay."""

from __future__ import annotations

from datetime import timedelta

from outreach_core.domain.ids import stable_fraction


def retry_delay(attempt: int, key: str, *, base_s: float = 60.0, cap_s: float = 4 * 3600.0) -> timedelta:
    """Delay before attempt `attempt + 1`: base * 2^(attempt-1), capped, then +-25% jitter."""
    raw = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    jitter = 0.75 + 0.5 * stable_fraction("retry", key, str(attempt))
    return timedelta(seconds=round(raw * jitter))
