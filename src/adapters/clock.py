"""Clocks: the system's, and a virtual one that demos and simulations move forward by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """Time that moves only when told to: a month of traffic runs in seconds."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the virtual clock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += max(delta, timedelta(0))
            return self._now

    def advance_to(self, when: datetime) -> datetime:
        with self._lock:
            self._now = max(self._now, when.astimezone(UTC))
            return self._now
