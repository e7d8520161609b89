"""Alert rate limiting and fan-out: one alert per dedupe key per window, across processes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from outreach_core.ports import Alert
from outreach_core.services.alerting import FanOutNotifier, RateLimitedNotifier
from tests.fakes import InMemoryStateStore, ManualClock


@dataclass
class RecordingNotifier:
    sent: list[Alert] = field(default_factory=list)
    fail: bool = False

    def notify(self, alert: Alert) -> None:
        if self.fail:
            raise RuntimeError("channel down")
        self.sent.append(alert)


def _alert(
    clock: ManualClock, kind: str = "campaign.paused", subject: str = "c1", tenant: str | None = "t1"
) -> Alert:
    return Alert(kind=kind, tenant_id=tenant, subject=subject, message=f"{kind} {subject}", at=clock.now())


def test_repeats_within_the_window_are_one_alert_and_the_next_one_counts_them(
    clock: ManualClock, memory_store: InMemoryStateStore
) -> None:
    inner = RecordingNotifier()
    limited = RateLimitedNotifier(inner, memory_store, clock, window=timedelta(hours=1))
    for _ in range(5):
        limited.notify(_alert(clock))
        clock.advance(timedelta(minutes=5))
    assert len(inner.sent) == 1
    clock.advance(timedelta(hours=1))
    limited.notify(_alert(clock))
    assert len(inner.sent) == 2
    assert inner.sent[1].details["suppressed_repeats"] == 4
    assert "+4 repeat(s)" in inner.sent[1].message


def test_different_keys_are_limited_separately(clock: ManualClock, memory_store: InMemoryStateStore) -> None:
    inner = RecordingNotifier()
    limited = RateLimitedNotifier(inner, memory_store, clock)
    limited.notify(_alert(clock, subject="c1"))
    limited.notify(_alert(clock, subject="c2"))
    limited.notify(_alert(clock, kind="identity.blocked", subject="c1"))
    limited.notify(_alert(clock, tenant="t2"))
    limited.notify(_alert(clock, kind="dlq.not_empty", subject="jobs queue", tenant=None))
    assert len(inner.sent) == 5


def test_the_limit_holds_across_instances_sharing_the_store(
    clock: ManualClock, memory_store: InMemoryStateStore
) -> None:
    """Two Lambda invocations = two notifier instances over one table: still one alert."""
    first, second = RecordingNotifier(), RecordingNotifier()
    RateLimitedNotifier(first, memory_store, clock).notify(_alert(clock))
    RateLimitedNotifier(second, memory_store, clock).notify(_alert(clock))
    assert len(first.sent) + len(second.sent) == 1


def test_a_racing_writer_wins_and_the_loser_does_not_send(clock: ManualClock) -> None:
    """The claim is a compare-and-set: if another invocation claims between our read and our write,
    ours fails, we read again, find the fresh claim and hold the alert back."""
    store = InMemoryStateStore()
    other = RecordingNotifier()
    racer = RateLimitedNotifier(other, store, clock)

    class RacingStore(InMemoryStateStore):
        raced = False

        def write(self, *operations):  # type: ignore[no-untyped-def]
            if not self.raced:
                self.raced = True
                racer.notify(_alert(clock))  # lands between our read and our write
            return store.write(*operations)

        def get(self, partition, sort):  # type: ignore[no-untyped-def]
            return store.get(partition, sort)

    mine = RecordingNotifier()
    RateLimitedNotifier(mine, RacingStore(), clock).notify(_alert(clock))
    assert len(other.sent) == 1
    assert mine.sent == []


def test_a_failed_delivery_gives_the_claim_back(clock: ManualClock, memory_store: InMemoryStateStore) -> None:
    inner = RecordingNotifier(fail=True)
    limited = RateLimitedNotifier(inner, memory_store, clock)
    with pytest.raises(RuntimeError):
        limited.notify(_alert(clock))
    inner.fail = False
    limited.notify(_alert(clock))  # not held back: the first one never reached anybody
    assert len(inner.sent) == 1


def test_per_kind_windows(clock: ManualClock, memory_store: InMemoryStateStore) -> None:
    inner = RecordingNotifier()
    limited = RateLimitedNotifier(
        inner, memory_store, clock, window=timedelta(hours=1), windows={"dlq.not_empty": timedelta(hours=6)}
    )
    limited.notify(_alert(clock, kind="dlq.not_empty", tenant=None))
    limited.notify(_alert(clock))
    clock.advance(timedelta(hours=2))
    limited.notify(_alert(clock, kind="dlq.not_empty", tenant=None))
    limited.notify(_alert(clock))
    assert [a.kind for a in inner.sent] == ["dlq.not_empty", "campaign.paused", "campaign.paused"]


def test_the_rate_limit_record_expires(clock: ManualClock, memory_store: InMemoryStateStore) -> None:
    RateLimitedNotifier(RecordingNotifier(), memory_store, clock).notify(_alert(clock))
    (item,) = memory_store.items.values()
    assert item.expires_at is not None
    assert item.expires_at > int((clock.now() + timedelta(hours=1)).timestamp())


def test_fan_out_delivers_to_the_others_when_one_channel_fails(clock: ManualClock) -> None:
    broken, working = RecordingNotifier(fail=True), RecordingNotifier()
    FanOutNotifier([broken, working]).notify(_alert(clock))
    assert len(working.sent) == 1


def test_fan_out_raises_when_every_channel_failed(clock: ManualClock) -> None:
    with pytest.raises(RuntimeError, match="no alert channel"):
        FanOutNotifier([RecordingNotifier(fail=True), RecordingNotifier(fail=True)]).notify(_alert(clock))
