"""AIMD: deferrals and throttles cut a rate multiplicatively; quiet time wins it back additively.

The factor scales a limit's allowance (an identity's minute and hour, its hour at one provider) and
the planner's pace toward that provider. It stays within [floor, ceiling]: it can never raise a rate
above the configured limit. A cut waits out a cool-down, so one burst of deferrals about the same
sends halves the rate once, not ten times. Recovery is a function of time since the last cut (like
TCP's additive increase per round trip), so a rate cut to the floor comes back even when it is so
low that few sends go out: the state is only (factor at the last cut, when).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AimdConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    decrease: float = Field(default=0.5, gt=0, lt=1, description="factor *= decrease on a signal")
    increase_per_min: float = Field(
        default=0.01, gt=0, le=1, description="factor += this per minute without a cut"
    )
    floor: float = Field(default=0.05, gt=0, le=1)
    ceiling: float = Field(default=1.0, gt=0, le=1)
    cooldown_s: float = Field(default=300, ge=0, description="no second cut within this time")


def factor_of(state: Mapping[str, Any] | None, config: AimdConfig, now_s: float | None = None) -> float:
    """The factor at `now_s`: the one set by the last cut plus the additive recovery since; without
    `now_s`, as set by the last cut (what the stored document says)."""
    if not state or "factor" not in state:
        return config.ceiling
    factor = float(state["factor"])
    if now_s is not None and "cut_at" in state:
        factor += config.increase_per_min * max(0.0, now_s - float(state["cut_at"])) / 60.0
    return _clamp(factor, config)


def cut(state: Mapping[str, Any] | None, now_s: float, config: AimdConfig) -> tuple[dict[str, Any], bool]:
    """Multiplicative decrease, unless a cut happened within the cool-down. Returns (state, cut?)."""
    last = float((state or {}).get("cut_at", -1e18))
    if now_s - last < config.cooldown_s:
        return dict(state or {}), False
    factor = factor_of(state, config, now_s)
    return {"factor": _clamp(factor * config.decrease, config), "cut_at": now_s}, True


def _clamp(factor: float, config: AimdConfig) -> float:
    """Rounded for a compact document, then clamped: rounding must not cross the ceiling or floor."""
    return min(config.ceiling, max(config.floor, round(factor, 6)))
