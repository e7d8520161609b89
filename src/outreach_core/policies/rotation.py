"""Smooth weighted round-robin (the nginx algorithm): picks follow the weights and interleave."""

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
