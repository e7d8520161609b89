"""FailoverMailer: a circuit breaker over the primary and the secondary region's SES (aws.md §4.2).

    closed     every send goes to the primary. A regional failure (the call never reached SES, a 5xx,
               a timeout) counts; `threshold` of them in a row open the breaker.
    open       sends go to the secondary. After `cool_down` the next send is a probe.
    half-open  one sender (claimed by compare-and-set) probes the primary; the others keep using the
               secondary. Success closes the breaker; a regional failure opens it again.

Throttling, rejections and sending-paused never count and never fail over: they are about us, not
the region, and moving traffic would spread a reputation problem. A message that failed on the
primary without reaching it is sent on the secondary at once when that failure opens the breaker;
one that may have reached it (MailOutcomeUnknown) is never re-sent anywhere.

The breaker lives in the StateStore (GLOBAL partition, `BREAKER#<id>`), so every Lambda sees the same
state; opening and closing it alert through the Notifier. See docs/adr/0101-ses-failover-breaker.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict

from outreach_core.domain.mail import (
    MailError,
    MailOutcomeUnknown,
    MailTransientError,
    OutboundEmail,
    SendReceipt,
)
from outreach_core.ports import Alert, Clock, ConditionFailed, MailProvider, Notifier, Put, StateStore
from outreach_core.records import GLOBAL

IAM_ACTIONS: frozenset[str] = frozenset()  # no AWS calls of its own: the two mailers and the store make them
_CAS_ATTEMPTS = 5

log = structlog.get_logger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Breaker(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: BreakerState = BreakerState.CLOSED
    failures: int = 0  # consecutive regional failures of the primary
    opened_at: datetime | None = None
    probe_at: datetime | None = None
    last_error: str = ""


class _Route(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    PROBE = "probe"


class FailoverMailer:
    def __init__(
        self,
        primary: MailProvider,
        secondary: MailProvider,
        store: StateStore,
        clock: Clock,
        notifier: Notifier,
        *,
        threshold: int = 3,
        cool_down: timedelta = timedelta(minutes=5),
        breaker_id: str = "ses",
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.primary = primary
        self.secondary = secondary
        self.store = store
        self.clock = clock
        self.notifier = notifier
        self.threshold = threshold
        self.cool_down = cool_down
        self.sort = f"BREAKER#{breaker_id}"
        self.name = f"failover({primary.name}->{secondary.name})"

    def breaker(self) -> Breaker:
        return self._read()[0]

    def send(self, email: OutboundEmail) -> SendReceipt:
        route, seen = self._route()
        if route is _Route.SECONDARY:
            return self.secondary.send(email)
        try:
            receipt = self.primary.send(email)
        except (MailTransientError, MailOutcomeUnknown) as exc:
            now_open = self._failed(exc, probing=route is _Route.PROBE)
            if now_open and isinstance(exc, MailTransientError):
                log.warning("failover.resend_on_secondary", provider=self.secondary.name)
                return self.secondary.send(email)  # the primary never had it: safe to send elsewhere
            raise
        except MailError:
            self._answered(seen, probing=route is _Route.PROBE)  # throttled / rejected / paused: region up
            raise
        self._answered(seen, probing=route is _Route.PROBE)
        return receipt

    # --- the breaker ---------------------------------------------------------------------------

    def _route(self) -> tuple[_Route, Breaker]:
        """Where this send goes, and the breaker as read to decide it."""
        breaker, version = self._read()
        now = self.clock.now()
        if breaker.state is BreakerState.CLOSED:
            return _Route.PRIMARY, breaker
        if not self._probe_due(breaker, now):
            return _Route.SECONDARY, breaker
        claimed = breaker.model_copy(update={"state": BreakerState.HALF_OPEN, "probe_at": now})
        try:
            self._write(claimed, version)
        except ConditionFailed:
            return _Route.SECONDARY, breaker  # another sender claimed the probe
        log.info("failover.probe", provider=self.primary.name)
        return _Route.PROBE, claimed

    def _probe_due(self, breaker: Breaker, now: datetime) -> bool:
        since = breaker.opened_at if breaker.state is BreakerState.OPEN else breaker.probe_at
        return since is None or now >= since + self.cool_down

    def _failed(self, exc: MailError, *, probing: bool) -> bool:
        """Count a regional failure; True if the breaker is open now (sends go to the secondary)."""
        now = self.clock.now()

        def change(breaker: Breaker) -> Breaker | None:
            if breaker.state is BreakerState.OPEN:
                return None
            if breaker.state is BreakerState.HALF_OPEN and not probing:
                return None
            failures = breaker.failures + 1
            opens = probing or failures >= self.threshold
            return breaker.model_copy(
                update={
                    "state": BreakerState.OPEN if opens else BreakerState.CLOSED,
                    "failures": failures,
                    "opened_at": now if opens else breaker.opened_at,
                    "probe_at": None,
                    "last_error": str(exc)[:300],
                }
            )

        before, after = self._update(change)
        opened = after.state is BreakerState.OPEN and before.state is not BreakerState.OPEN
        if opened and before.state is BreakerState.CLOSED:
            self._alert(
                "failover.engaged",
                "critical",
                f"SES failover engaged: {self.primary.name} -> {self.secondary.name}",
                f"{after.failures} regional failures in a row on {self.primary.name}; sending through "
                f"{self.secondary.name} and probing the primary every {self.cool_down}. Last: {exc}",
                now,
            )
        elif opened:
            log.warning("failover.probe_failed", provider=self.primary.name, error=str(exc)[:300])
        return after.state is BreakerState.OPEN

    def _answered(self, seen: Breaker, *, probing: bool) -> None:
        """The primary answered: reset the failure count, and close the breaker after a probe. When the
        breaker was closed without failures as this send read it, there is nothing to reset (and no
        second read per send): a failure another sender counts meanwhile is theirs, after ours."""
        if not probing and seen.state is BreakerState.CLOSED and not seen.failures:
            return
        now = self.clock.now()

        def change(breaker: Breaker) -> Breaker | None:
            if probing and breaker.state is BreakerState.HALF_OPEN:
                return Breaker()
            if breaker.state is BreakerState.CLOSED and breaker.failures:
                return breaker.model_copy(update={"failures": 0})
            return None

        before, after = self._update(change)
        if before.state is BreakerState.HALF_OPEN and after.state is BreakerState.CLOSED:
            self._alert(
                "failover.returned",
                "info",
                f"SES back on {self.primary.name}",
                f"a probe through {self.primary.name} succeeded; {self.secondary.name} is standby again",
                now,
            )

    # --- storage -------------------------------------------------------------------------------

    def _read(self) -> tuple[Breaker, int]:
        item = self.store.get(GLOBAL, self.sort)
        return (Breaker.model_validate(item.data), item.version) if item else (Breaker(), 0)

    def _write(self, breaker: Breaker, version: int) -> None:
        data: dict[str, Any] = breaker.model_dump(mode="json")
        self.store.write(Put(partition=GLOBAL, sort=self.sort, data=data, expected_version=version))

    def _update(self, change: Callable[[Breaker], Breaker | None]) -> tuple[Breaker, Breaker]:
        """Compare-and-set `change` onto the stored breaker; returns (before, after)."""
        for _ in range(_CAS_ATTEMPTS):
            before, version = self._read()
            after = change(before)
            if after is None:
                return before, before
            try:
                self._write(after, version)
            except ConditionFailed:
                continue
            return before, after
        log.warning("failover.breaker_contended")
        before, _ = self._read()
        return before, before

    def _alert(self, kind: str, severity: str, subject: str, message: str, at: datetime) -> None:
        log.warning(kind, primary=self.primary.name, secondary=self.secondary.name)
        try:
            self.notifier.notify(
                Alert(
                    kind=kind,
                    severity=severity,
                    subject=subject,
                    message=message,
                    at=at,
                    details={"primary": self.primary.name, "secondary": self.secondary.name},
                )
            )
        except Exception:
            log.exception("failover.alert_failed", kind=kind)
