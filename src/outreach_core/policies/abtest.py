"""A/B variants of a step: which one leads, and whether the figures can say so yet.

No winner is named below `MIN_SAMPLE` sends per variant, nor while the difference could be chance: a
two-proportion z-test on the reply rate at 95% (|z| >= 1.96). Nothing is switched automatically:
the operator reads the verdict and edits the step (`outreach campaign edit-step`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_SAMPLE = 100  # sends per variant before any verdict
Z_95 = 1.96


@dataclass(frozen=True)
class VariantFigures:
    template: str
    sent: int
    replied: int
    bounced: int = 0
    unsubscribed: int = 0

    @property
    def reply_rate(self) -> float:
        return self.replied / self.sent if self.sent else 0.0


def z_score(a: VariantFigures, b: VariantFigures) -> float:
    """Two-proportion z statistic of a's reply rate over b's (0 when it cannot be computed)."""
    if not a.sent or not b.sent:
        return 0.0
    pooled = (a.replied + b.replied) / (a.sent + b.sent)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / a.sent + 1 / b.sent))
    return (a.reply_rate - b.reply_rate) / spread if spread else 0.0


def verdict(variants: Sequence[VariantFigures], min_sample: int = MIN_SAMPLE) -> str:
    """One line: the leader by reply rate when the figures support it, else why there is none."""
    if len(variants) < 2:
        return ""
    short = [v.template for v in variants if v.sent < min_sample]
    if short:
        return f"no winner yet: fewer than {min_sample} sends for {', '.join(short)}"
    ranked = sorted(variants, key=lambda v: (-v.reply_rate, v.template))
    best, second = ranked[0], ranked[1]
    z = z_score(best, second)
    if z < Z_95:
        return f"no winner yet: {best.template} leads but the difference could be chance (z={z:.2f} < {Z_95})"
    return (
        f"{best.template} leads: reply {best.reply_rate:.1%} vs {second.reply_rate:.1%} "
        f"({second.template}), z={z:.2f}"
    )
