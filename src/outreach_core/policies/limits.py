"""Limiters: pure functions of (state, now) -> allow, or "not before T". See docs/adr/0200.

Two shapes, both exact in integer microseconds so "at most L in any window of length T" holds
without rounding slack:

- `gcra`: the Generic Cell Rate Algorithm with a burst of one. Its state is one number, the
  theoretical arrival time (TAT). Sends are spaced at least I = ceil(T / L) apart, so any half-open
  window of length T holds at most L of them. Used for the shortest period of each subject, where
  spacing is the point: an identity's per-minute rate, the account's per-second rate (SES MaxSendRate).
- `window`: a rolling-window counter in buckets. Counting every bucket the window touches is
  conservative, so it never admits more than L in any window of length T, yet lets an hour's or a
  day's allowance go out unevenly (retries do not collide with a fully booked slot grid). Used for
  hourly and daily limits and the 24-hour quota.

A `Decision` says allowed (with the new state) or the earliest instant worth trying again.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(at: datetime) -> int:
    """Integer microseconds since the epoch: exact for any aware datetime."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)


class Limit(BaseModel):
    """At most `count` sends in any window of `period_s` seconds. `count` None or 0 means no limit of
    this kind (0 would forbid everything, which is what pausing is for)."""

    model_config = ConfigDict(frozen=True)

    count: float = Field(gt=0, description="may be fractional for rates: 0.5 per second = 1 per 2 s")
    period_s: float = Field(gt=0)

    @property
    def period_us(self) -> int:
        return round(self.period_s * 1_000_000)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    state: Any  # the new state when allowed, else the unchanged one
    retry_at_us: int = 0  # when not allowed: the earliest instant worth trying again


def interval_us(limit: Limit, factor: float = 1.0) -> int:
    """GCRA spacing: ceil(T / (L * factor)); factor in (0, 1] (AIMD) only ever widens it."""
    factor = min(1.0, max(factor, 1e-6))
    return max(1, math.ceil(limit.period_us / (limit.count * factor)))


def gcra(tat_us: int | None, now_us: int, limit: Limit, factor: float = 1.0) -> Decision:
    """Allow when now >= TAT; the next TAT is max(TAT, now) + I."""
    tat = tat_us if tat_us is not None else now_us
    if now_us < tat:
        return Decision(False, tat_us, tat)
    return Decision(True, max(tat, now_us) + interval_us(limit, factor))


def gcra_undo(tat_us: int | None, now_us: int, limit: Limit, factor: float = 1.0) -> int | None:
    """Give back one send taken at or before now (the provider did not accept it)."""
    if tat_us is None:
        return None
    return max(now_us, tat_us - interval_us(limit, factor))


def slot_interval_us(limit: Limit) -> int:
    """The spacing of planned send slots: exact below a second; a second or more rounds up to whole
    seconds, because queues delay by whole seconds and a slot between two would arrive late."""
    us = interval_us(limit)
    return us if us < 1_000_000 else -(-us // 1_000_000) * 1_000_000


def _bucket_us(limit: Limit, buckets: int) -> int:
    return _width(limit.period_s, buckets)


@functools.lru_cache(maxsize=256)
def _width(period_s: float, buckets: int) -> int:
    return max(1, math.ceil(round(period_s * 1_000_000) / buckets))


@functools.lru_cache(maxsize=1024)
def limit_of(count: float, period_s: float) -> Limit:
    """A Limit, built once per (count, period): limits are frozen, and the limiter asks for the same
    few on every send."""
    return Limit(count=count, period_s=period_s)


LOG_PERIOD_S = 60.0  # windows this short and this small keep exact send times (a sliding log)
LOG_MAX = 64


def oldest_bucket(now_us: int, limit: Limit, buckets: int = 48) -> int:
    """The first bucket still inside a bucketed window at `now_us`: what it counts changes only with
    the state or when this changes."""
    return (now_us - limit.period_us) // _bucket_us(limit, buckets)


def _dense(counts: Any, width: int, lo: int) -> tuple[int, list[int]]:
    """Bucket counts from bucket `lo` on, as (the first bucket's index, the counts of consecutive
    buckets from it).

    Stored as {"b": first, "n": [counts]}; read from the earlier forms too: {"<index>": count, ...}
    (string keys, as JSON keeps them) and a list of send times (the window was a sliding log)."""
    if isinstance(counts, Mapping):
        if "b" in counts:  # as written by `window` (whole numbers): not copied here, never changed
            first, dense = int(counts["b"]), counts["n"]
            return (first, dense) if first >= lo else (lo, dense[lo - first :])
        counts = {int(k): int(v) for k, v in counts.items() if int(v) > 0 and int(k) >= lo}
    elif isinstance(counts, list):
        counts = Counter(int(t) // width for t in counts if int(t) // width >= lo)
    else:
        return lo, []
    if not counts:
        return 0, []
    first = min(counts)
    dense = [0] * (max(counts) - first + 1)
    for index, n in counts.items():
        dense[index - first] += n
    return first, dense


def window(counts: Any, now_us: int, limit: Limit, buckets: int = 48, cap: int | None = None) -> Decision:
    """Rolling window of `limit.period_s`. `cap` overrides the count (warm-up, AIMD).

    Short, small windows (up to a minute and 64 sends: the account's per-second rate, an identity's
    minute) keep the send times themselves, so they are exact and lose no capacity: a send at t frees
    its place at exactly t + T. Larger ones count in `buckets` buckets: the window (now - T, now]
    touches buckets lo..hi and all of them are counted, so for any window of length T ending at a
    send, every earlier send inside it was counted when that send was admitted (at most one bucket of
    capacity is lost). Their state is the counts of consecutive buckets from the oldest still inside
    (`_dense`): what is used is one sum over them.
    """
    width = _bucket_us(limit, buckets)
    if limit.period_s <= LOG_PERIOD_S and int(limit.count) <= LOG_MAX:
        if isinstance(counts, Mapping):  # kept in buckets before: each send at its bucket's end
            first, dense = _dense(counts, width, (now_us - limit.period_us) // width)
            counts = [(first + i + 1) * width - 1 for i, n in enumerate(dense) for _ in range(n)]
        return sliding_log(counts, now_us, limit, cap)
    lo = (now_us - limit.period_us) // width
    first, dense = _dense(counts, width, lo)  # only the buckets still inside the window
    used = sum(dense)
    allowance = int(limit.count) if cap is None else cap
    if used + 1 <= allowance:
        key = now_us // width
        if not dense:
            first = key
        if key < first:  # earlier than the oldest send counted (clocks differ a little): its bucket
            dense, first = [0] * (first - key) + dense, key
        dense = dense + [0] * (key - first + 1 - len(dense))
        dense[key - first] += 1
        return Decision(True, {"b": first, "n": dense})
    excess = used + 1 - allowance
    if allowance <= 0:
        # Nothing may go out in this window; look again when the oldest day has passed.
        return Decision(False, counts, now_us + limit.period_us)
    dropped = 0
    for offset, n in enumerate(dense):
        dropped += n
        if dropped >= excess:
            # Bucket `first + offset` leaves the window once (now - T) // width > it.
            return Decision(False, counts, (first + offset + 1) * width + limit.period_us)
    return Decision(False, counts, now_us + width)  # unreachable: used >= excess


def first_room(
    counts: Any, now_us: int, limit: Limit, buckets: int = 48, cap: int | None = None
) -> int | None:
    """The first instant at or after `now_us` at which `window` admits one more send, if nothing else
    is sent meanwhile (a window only empties with time): now if it admits now, else the instant it
    names. None when the allowance is 0: never."""
    if (int(limit.count) if cap is None else cap) <= 0:
        return None
    decision = window(counts, now_us, limit, buckets, cap)
    return now_us if decision.allowed else decision.retry_at_us


def earliest(admits: Callable[[int], bool], lo_us: int, hi_us: int) -> int:
    """The first instant in [lo, hi] at which `admits` holds, given that it holds at `hi` and, once
    it holds, holds at every later instant (a window that only empties, an allowance that only
    grows): a binary search over microseconds."""
    while lo_us < hi_us:
        middle = (lo_us + hi_us) // 2
        if admits(middle):
            hi_us = middle
        else:
            lo_us = middle + 1
    return hi_us


def sliding_log(times: Any, now_us: int, limit: Limit, cap: int | None = None) -> Decision:
    """At most `count` (or `cap`) send times in (now - T, now]; the state is the list of those times."""
    start = now_us - limit.period_us
    live = sorted(int(t) for t in times if int(t) > start) if isinstance(times, list) else []
    allowance = int(limit.count) if cap is None else cap
    if len(live) + 1 <= allowance:
        return Decision(True, [*live, now_us])
    if allowance <= 0:
        return Decision(False, times, now_us + limit.period_us)
    # The oldest `excess` sends must leave the window first; the last of them leaves at t + T.
    excess = len(live) + 1 - allowance
    return Decision(False, times, live[excess - 1] + limit.period_us)


def window_used(counts: Any, now_us: int, limit: Limit, buckets: int = 48) -> int:
    if isinstance(counts, list):
        return sum(1 for t in counts if int(t) > now_us - limit.period_us)
    width = _bucket_us(limit, buckets)
    return sum(_dense(counts, width, (now_us - limit.period_us) // width)[1])


def window_undo(counts: Any, taken_us: int, limit: Limit, buckets: int = 48) -> Any:
    """Give back one send counted at `taken_us` (the provider did not accept it)."""
    if isinstance(counts, list):
        kept = [int(t) for t in counts]
        if taken_us in kept:
            kept.remove(taken_us)
        return kept
    width = _bucket_us(limit, buckets)
    first, dense = _dense(counts, width, taken_us // width - buckets - 1)
    dense = list(dense)
    index = taken_us // width - first
    if 0 <= index < len(dense) and dense[index] > 0:
        dense[index] -= 1
    return {"b": first, "n": dense}
