"""AIMD: deferrals and throttles cut a rate multiplicatively; clean sends win it back additively.

The factor scales a limit's rate (policies.limits: the GCRA interval widens by 1 / factor). It stays
within [floor, ceiling]: it can never raise a rate above the configured limit. A cut waits out a
cool-down, so one burst of deferrals about the same sends halves the rate once, not ten times.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AimdConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    decrease: float = Field(default=0.5, gt=0, lt=1, description="factor *= decrease on a signal")
    increase: float = Field(default=0.02, gt=0, le=1, description="factor += increase per clean send")
    floor: float = Field(default=0.05, gt=0, le=1)
    ceiling: float = Field(default=1.0, gt=0, le=1)
    cooldown_s: float = Field(default=300, ge=0, description="no second cut within this time")


def factor_of(state: Mapping[str, Any] | None, config: AimdConfig) -> float:
    if not state or "factor" not in state:
        return config.ceiling
    return min(config.ceiling, max(config.floor, float(state["factor"])))


def cut(state: Mapping[str, Any] | None, now_s: float, config: AimdConfig) -> tuple[dict[str, Any], bool]:
    """Multiplicative decrease, unless a cut happened within the cool-down. Returns (state, cut?)."""
    factor = factor_of(state, config)
    last = float((state or {}).get("cut_at", -1e18))
    if now_s - last < config.cooldown_s:
        return dict(state or {"factor": factor}), False
    return {"factor": _clamp(factor * config.decrease, config), "cut_at": now_s}, True


def recover(state: Mapping[str, Any] | None, config: AimdConfig) -> dict[str, Any]:
    """Additive increase after a clean send, up to the ceiling."""
    new = dict(state or {})
    new["factor"] = _clamp(factor_of(state, config) + config.increase, config)
    return new


def _clamp(factor: float, config: AimdConfig) -> float:
    """Rounded for a compact document, then clamped: rounding must not cross the ceiling or floor."""
    return min(config.ceiling, max(config.floor, round(factor, 6)))
