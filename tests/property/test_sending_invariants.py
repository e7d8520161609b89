"""Property tests of the rules that must always hold, over arbitrary interleavings of planner ticks,
time, duplicate and lost deliveries, concurrent senders, crashes, refusals, suppressions and pauses:

- no duplicate sends: each idempotency key reaches the provider at most once;
- suppressed means never sent: no message reaches the provider after its address was suppressed;
- limits hold: no identity sends more than its daily cap in a UTC day;
- nothing is lost: once the run drains, every job is in a terminal state.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from outreach_core.domain.jobs import TERMINAL
from outreach_core.domain.mail import MailThrottled, MailTransientError, OutboundEmail, SendReceipt
from outreach_core.domain.models import CampaignStatus
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.ports import Delete, Put
from outreach_core.services.jobs import day_key
from outreach_core.services.sender import SenderService
from tests.harness import Harness, harness, seed_tenant

LEADS = [f"lead{n}@corp-{n % 3}.com" for n in range(8)]
CAP = 3


class Crash(BaseException):
    pass


ORDER = itertools.count()  # causal order of sends and suppressions (several can share one clock instant)


class RecordingMailer:
    """Accepts everything unless told otherwise; records what it accepted, when and in which order."""

    name = "recording"

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.accepted: list[tuple[datetime, OutboundEmail]] = []
        self.order: list[int] = []
        self.next_action: str | None = None

    def send(self, email: OutboundEmail) -> SendReceipt:
        action, self.next_action = self.next_action, None
        if action == "crash_before":
            raise Crash
        if action == "throttle":
            raise MailThrottled("slow down")
        if action == "transient":
            raise MailTransientError("451 4.3.0 try later")
        self.accepted.append((self.now(), email))
        self.order.append(next(ORDER))
        if action == "crash_after":
            raise Crash
        local = email.message_id.strip("<>").split("@", 1)[0]
        return SendReceipt(provider_message_id=local, rfc_message_id=email.message_id)


class InterleavingStore:
    """Runs another worker's step in the middle of this one's: just before the n-th write commits."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.hook: Callable[[], None] | None = None
        self.countdown = -1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _maybe_interleave(self) -> None:
        if self.hook is not None:
            self.countdown -= 1
            if self.countdown == 0:
                hook, self.hook = self.hook, None
                hook()

    def write(self, *operations: Put | Delete) -> None:
        self._maybe_interleave()
        self.inner.write(*operations)

    def write_many(self, groups: Any) -> Any:
        self._maybe_interleave()
        return self.inner.write_many(groups)


class SendingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._tmp = TemporaryDirectory()
        self.h: Harness = harness(Path(self._tmp.name))
        from dependency_injector import providers

        self.store = InterleavingStore(self.h.store)
        self.mailer = RecordingMailer(self.h.clock.now)
        self.h.app.adapters.store.override(providers.Object(self.store))
        self.h.app.adapters.mailer.override(providers.Object(self.mailer))
        seed_tenant(self.h, identities=2, cap=CAP, steps=2, leads=LEADS, hourly=3600)
        services = self.h.app.services
        self.other_sender = SenderService(
            self.h.records,
            self.h.queue,
            self.mailer,
            self.h.clock,
            services.guard(),
            services.suppression(),
            self.h.sender.config,
        )
        self.suppressed_at: dict[str, int] = {}

    def teardown(self) -> None:
        self._tmp.cleanup()

    def _handle(self, sender: SenderService, message: Any) -> bool:
        """Handle one delivery like a worker would; False if the worker 'died'."""
        try:
            result = sender.handle(message)
        except Crash:
            return False
        if not result.redeliver:
            self.h.queue.ack(message.receipt)
        return True

    @rule()
    def tick(self) -> None:
        self.h.planner.tick()

    @rule(seconds=st.sampled_from([1, 30, 300, 3600, 6 * 3600, 26 * 3600]))
    def advance(self, seconds: int) -> None:
        self.h.clock.advance(timedelta(seconds=seconds))

    def _receive(self, count: int) -> list[Any]:
        """What is visible now; if nothing, what the planner makes visible within its horizon."""
        messages = self.h.queue.receive(count)
        if not messages:
            self.h.planner.tick()
            self.h.clock.advance(self.h.planner.config.horizon + timedelta(seconds=1))
            messages = self.h.queue.receive(count)
        return messages

    @rule(
        duplicate=st.booleans(),
        lose_ack=st.booleans(),
        action=st.sampled_from([None, None, "crash_before", "crash_after", "throttle", "transient"]),
    )
    def deliver(self, duplicate: bool, lose_ack: bool, action: str | None) -> None:
        messages = self._receive(1)
        if not messages:
            return
        [message] = messages
        self.mailer.next_action = action
        try:
            result = self.h.sender.handle(message)
        except Crash:
            return  # the message comes back after its visibility timeout
        if duplicate:  # SQS delivered the same message twice
            self.h.sender.handle(message)
        if not lose_ack and not result.redeliver:
            self.h.queue.ack(message.receipt)

    @rule(at_write=st.integers(min_value=1, max_value=6), same_message=st.booleans())
    def deliver_concurrently(self, at_write: int, same_message: bool) -> None:
        """Two workers at once: the second runs in the middle of the first's writes."""
        messages = self._receive(2)
        if not messages:
            return
        first = messages[0]
        second = first if same_message or len(messages) == 1 else messages[1]
        self.store.hook = lambda: self._handle(self.other_sender, second)
        self.store.countdown = at_write
        self._handle(self.h.sender, first)
        self.store.hook = None
        if second is not first:
            self.h.queue.ack(second.receipt)

    @rule(index=st.integers(min_value=0, max_value=len(LEADS) - 1))
    def suppress(self, index: int) -> None:
        email = LEADS[index]
        self.h.app.services.suppression().suppress(
            "acme", email, SuppressionReason.UNSUBSCRIBE, source="test", at=self.h.clock.now()
        )
        self.suppressed_at.setdefault(email, next(ORDER))

    @rule()
    def pause(self) -> None:
        self.h.admin.pause_campaign("acme", "spring", "test")

    @precondition(lambda self: self.h.admin.campaigns("acme")[0].status is CampaignStatus.PAUSED)
    @rule()
    def resume(self) -> None:
        self.h.admin.resume_campaign("acme", "spring")

    @invariant()
    def no_duplicate_sends(self) -> None:
        keys = Counter(email.tags["ikey"] for _, email in self.mailer.accepted)
        assert all(n == 1 for n in keys.values()), keys.most_common(3)

    @invariant()
    def nothing_reaches_a_suppressed_address(self) -> None:
        for (_, email), sent in zip(self.mailer.accepted, self.mailer.order, strict=True):
            since = self.suppressed_at.get(email.recipient.email)
            assert since is None or sent < since, (email.recipient.email, sent, since)

    @invariant()
    def daily_caps_hold(self) -> None:
        per_day = Counter((email.sender.email, day_key(at)) for at, email in self.mailer.accepted)
        assert max(per_day.values(), default=0) <= CAP, per_day

    def drain_to_the_end(self) -> None:
        campaign = self.h.admin.campaigns("acme")[0]
        if campaign.status is CampaignStatus.PAUSED:
            self.h.admin.resume_campaign("acme", "spring")
        for _ in range(60):
            self.h.planner.tick()
            self.h.clock.advance(timedelta(hours=6))
            while messages := self.h.queue.receive(10):
                for message in messages:
                    self._handle(self.h.sender, message)


@pytest.mark.timeout(900)  # a failure's shrinking may take minutes; a clear counterexample is worth it
class TestSendingInvariants(SendingMachine.TestCase):  # type: ignore[name-defined]
    settings = settings(
        max_examples=150,
        stateful_step_count=50,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@pytest.mark.timeout(900)
def test_nothing_is_lost_when_the_run_drains() -> None:
    """Drive random runs, then let time pass: every job ends terminal (a person can list the rest)."""
    from hypothesis import given

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(st.sampled_from(["tick", "advance", "deliver", "crash", "suppress", "pause"]), max_size=30)
    )
    def run(steps: list[str]) -> None:
        machine = SendingMachine()
        try:
            for step in steps:
                if step == "tick":
                    machine.tick()
                elif step == "advance":
                    machine.advance(3600)
                elif step == "deliver":
                    machine.deliver(duplicate=True, lose_ack=False, action=None)
                elif step == "crash":
                    machine.deliver(duplicate=False, lose_ack=False, action="crash_after")
                elif step == "suppress":
                    machine.suppress(len(steps) % len(LEADS))
                else:
                    machine.pause()
            machine.drain_to_the_end()
            jobs = machine.h.records.jobs("acme")
            assert jobs and all(job.status in TERMINAL for job in jobs), Counter(j.status for j in jobs)
            machine.no_duplicate_sends()
            machine.nothing_reaches_a_suppressed_address()
            machine.daily_caps_hold()
        finally:
            machine.teardown()

    run()
