"""Smooth weighted round-robin (the nginx algorithm): picks follow the weights and interleave.

Weights come from `rotation_weight`: the identity's configured weight times its reputation score
times its warm-up headroom. Blocked, paused or capped identities have weight 0 and are never picked.
"""

from __future__ import annotations

from collections.abc import Mapping


def pick_weighted(
    current: Mapping[str, float], weights: Mapping[str, float]
) -> tuple[str | None, dict[str, float]]:
    """Choose among `weights` (id -> weight > 0) given the running `current` scores.

    Returns the chosen id (None if nothing is eligible) and the new scores. Ids absent from `weights`
    (blocked, paused, at cap) are dropped from the state, so they are never chosen.
    """
    eligible = {k: w for k, w in weights.items() if w > 0}
    if not eligible:
        return None, {}
    scores = {k: current.get(k, 0.0) + w for k, w in eligible.items()}
    chosen = max(sorted(scores), key=lambda k: scores[k])
    scores[chosen] -= sum(eligible.values())
    return chosen, scores


def reputation_score(outcomes: Mapping[str, float], prior: float = 20.0) -> float:
    """1.0 for a clean record, lower with bounces, complaints and deferrals among recent sends.

    `prior` clean sends are assumed, so a new identity starts near 1 and one early bounce does not
    starve it. Complaints weigh most (Gmail's 0.1% line), then bounces, then deferrals.
    """
    sent = float(outcomes.get("sent", 0)) + prior
    penalty = (
        50.0 * float(outcomes.get("complained", 0))
        + 5.0 * float(outcomes.get("bounced", 0))
        + 1.0 * float(outcomes.get("deferred", 0))
    ) / sent
    return max(0.05, min(1.0, 1.0 - penalty))


def rotation_weight(base: float, score: float, used_today: int, cap_today: int) -> float:
    """Weight for SWRR: zero without headroom; otherwise scaled by reputation and headroom left."""
    if cap_today <= 0 or used_today >= cap_today:
        return 0.0
    headroom = (cap_today - used_today) / cap_today
    return base * score * (0.25 + 0.75 * headroom)
