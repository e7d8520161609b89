"""FailoverMailer's rules, with two hand-written regional mailers and the in-memory store."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from adapters.aws.failover import BreakerState, FailoverMailer
from adapters.log_notifier import LogNotifier
from outreach_core.domain.mail import (
    Address,
    MailError,
    MailOutcomeUnknown,
    MailRejected,
    MailSendingPaused,
    MailThrottled,
    MailTransientError,
    OutboundEmail,
    SendReceipt,
)
from tests.fakes import InMemoryStateStore, ManualClock

COOL_DOWN = timedelta(minutes=5)


@dataclass
class RegionMailer:
    """One SES region: accepts, or raises whatever `failure` makes; `during_send` runs inside a send."""

    name: str
    failure: Callable[[], MailError] | None = None
    during_send: Callable[[], None] | None = None
    sent: list[str] = field(default_factory=list)
    calls: int = 0

    def send(self, email: OutboundEmail) -> SendReceipt:
        self.calls += 1
        if self.during_send is not None:
            hook, self.during_send = self.during_send, None
            hook()
        if self.failure is not None:
            raise self.failure()
        self.sent.append(email.subject)
        return SendReceipt(provider_message_id=f"{self.name}-{len(self.sent)}", rfc_message_id="<x@y>")


def mail(n: int) -> OutboundEmail:
    return OutboundEmail(
        sender=Address(email="a@n.test"), recipient=Address(email="b@c.test"), subject=f"m{n}", text=".",
        message_id=f"<m{n}@n.test>",
    )  # fmt: skip


def down() -> MailError:
    return MailTransientError("SES eu-west-1 unreachable: connection refused")


class World:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.store = InMemoryStateStore()
        self.notifier = LogNotifier()
        self.primary = RegionMailer("ses:eu-west-1")
        self.secondary = RegionMailer("ses:eu-central-1")
        self.mailer = self.lambda_instance()

    def lambda_instance(self) -> FailoverMailer:
        """Another process with its own mailer object: only the store is shared."""
        return FailoverMailer(
            self.primary,
            self.secondary,
            self.store,
            self.clock,
            self.notifier,
            threshold=3,
            cool_down=COOL_DOWN,
        )

    def alerts(self) -> list[str]:
        return [a.kind for a in self.notifier.sent]


@pytest.fixture
def world() -> World:
    return World()


def test_a_healthy_primary_takes_every_send(world: World) -> None:
    for n in range(5):
        world.mailer.send(mail(n))
    assert len(world.primary.sent) == 5 and world.secondary.calls == 0
    assert world.mailer.breaker().state is BreakerState.CLOSED and world.alerts() == []


def test_consecutive_regional_failures_open_the_breaker_and_the_message_moves(world: World) -> None:
    world.primary.failure = down
    for n in range(2):
        with pytest.raises(MailTransientError):
            world.mailer.send(mail(n))  # below the threshold: the sender retries later
    receipt = world.mailer.send(mail(2))  # the third opens it: never accepted, so sent on the secondary
    assert receipt.provider_message_id == "ses:eu-central-1-1"
    assert world.secondary.sent == ["m2"] and world.primary.sent == []
    assert world.mailer.breaker().state is BreakerState.OPEN
    assert world.alerts() == ["failover.engaged"]
    world.mailer.send(mail(3))
    assert world.primary.calls == 3 and world.secondary.sent == ["m2", "m3"]  # open: primary untouched


def test_an_answer_between_failures_resets_the_count(world: World) -> None:
    for n in range(6):
        world.primary.failure = down if n % 3 != 2 else None
        if world.primary.failure:
            with pytest.raises(MailTransientError):
                world.mailer.send(mail(n))
        else:
            world.mailer.send(mail(n))
    assert world.mailer.breaker().state is BreakerState.CLOSED and world.secondary.calls == 0


@pytest.mark.parametrize(
    "refusal",
    [
        lambda: MailThrottled("Maximum sending rate exceeded."),
        lambda: MailThrottled("Daily message quota exceeded.", retry_after=timedelta(hours=1)),
        lambda: MailRejected("SES MessageRejected: Email address is not verified."),
        lambda: MailSendingPaused("SES SendingPausedException: Sending is paused for this account."),
    ],
    ids=["throttled", "daily-quota", "rejected", "sending-paused"],
)
def test_throttling_rejection_and_paused_sending_never_fail_over(
    world: World, refusal: Callable[[], MailError]
) -> None:
    world.primary.failure = refusal
    for n in range(6):
        with pytest.raises(type(refusal())):
            world.mailer.send(mail(n))
    assert world.secondary.calls == 0
    assert world.mailer.breaker().state is BreakerState.CLOSED and world.alerts() == []


def test_a_maybe_accepted_message_counts_but_is_never_resent_elsewhere(world: World) -> None:
    world.primary.failure = lambda: MailOutcomeUnknown("SES eu-west-1 call interrupted: read timeout")
    for n in range(3):
        with pytest.raises(MailOutcomeUnknown):
            world.mailer.send(mail(n))
    assert world.mailer.breaker().state is BreakerState.OPEN
    assert world.secondary.calls == 0  # the third opened the breaker but its message stays uncertain
    world.mailer.send(mail(3))
    assert world.secondary.sent == ["m3"]


def open_breaker(world: World) -> None:
    world.primary.failure = down
    for n in range(3):
        with contextlib.suppress(MailTransientError):
            world.mailer.send(mail(100 + n))
    assert world.mailer.breaker().state is BreakerState.OPEN


def test_after_the_cool_down_a_probe_returns_traffic_to_the_primary(world: World) -> None:
    open_breaker(world)
    world.primary.failure = None  # the region recovers
    world.clock.advance(COOL_DOWN - timedelta(seconds=1))
    world.mailer.send(mail(1))
    assert world.secondary.sent[-1] == "m1"  # still cooling down
    world.clock.advance(timedelta(seconds=1))
    world.mailer.send(mail(2))  # the probe
    assert world.primary.sent == ["m2"]
    assert world.mailer.breaker().state is BreakerState.CLOSED
    world.mailer.send(mail(3))
    assert world.primary.sent == ["m2", "m3"]
    assert world.alerts() == ["failover.engaged", "failover.returned"]


def test_a_failed_probe_opens_the_breaker_again_without_a_second_alert(world: World) -> None:
    open_breaker(world)
    world.clock.advance(COOL_DOWN)
    world.mailer.send(mail(1))  # probe fails (not accepted) -> re-open -> this message on the secondary
    breaker = world.mailer.breaker()
    assert breaker.state is BreakerState.OPEN and breaker.opened_at == world.clock.now()
    assert world.secondary.sent[-1] == "m1"
    assert world.alerts() == ["failover.engaged"]
    world.clock.advance(COOL_DOWN - timedelta(seconds=1))
    calls = world.primary.calls
    world.mailer.send(mail(2))
    assert world.primary.calls == calls  # the new cool-down runs from the failed probe


def test_the_breaker_is_shared_by_every_lambda_through_the_store(world: World) -> None:
    other = world.lambda_instance()
    open_breaker(world)
    other.send(mail(1))
    assert world.secondary.sent[-1] == "m1" and world.primary.calls == 3


def test_only_one_sender_probes_while_the_others_stay_on_the_secondary(world: World) -> None:
    other = world.lambda_instance()
    open_breaker(world)
    world.primary.failure = None
    world.clock.advance(COOL_DOWN)
    world.primary.during_send = lambda: other.send(mail(2))  # another Lambda sends mid-probe
    world.mailer.send(mail(1))
    assert world.primary.sent == ["m1"] and world.secondary.sent[-1] == "m2"
    assert world.mailer.breaker().state is BreakerState.CLOSED


def test_a_probe_abandoned_by_a_dead_lambda_is_taken_over_after_the_cool_down(world: World) -> None:
    open_breaker(world)
    world.clock.advance(COOL_DOWN)

    def crash() -> None:
        raise RuntimeError("the Lambda was killed mid-probe")

    world.primary.during_send = crash
    with pytest.raises(RuntimeError):
        world.mailer.send(mail(1))
    assert world.mailer.breaker().state is BreakerState.HALF_OPEN
    world.primary.failure = None
    world.mailer.send(mail(2))
    assert world.secondary.sent[-1] == "m2"  # the probe is still someone else's
    world.clock.advance(COOL_DOWN)
    world.mailer.send(mail(3))
    assert world.primary.sent == ["m3"] and world.mailer.breaker().state is BreakerState.CLOSED
