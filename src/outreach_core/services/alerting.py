"""Alert delivery policy: fan out to every channel, and never storm.

`RateLimitedNotifier` lets one alert per `Alert.dedupe_key` through per window; repeats inside the
window are counted and the count rides along on the next alert that goes out. Its state lives in the
StateStore (compare-and-set), so the limit holds across processes and Lambda invocations: when two
invocations race, exactly one of them sends.

`FanOutNotifier` hands an alert to each channel in turn (log, Telegram, SNS e-mail); one channel
failing does not stop the others.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import structlog

from outreach_core.ports import Alert, Clock, ConditionFailed, Delete, Notifier, Put, StateStore
from outreach_core.records import GLOBAL, tenant_partition

log = structlog.get_logger(__name__)

DEFAULT_WINDOW = timedelta(hours=1)
_ATTEMPTS = 4


def alert_sort(dedupe_key: str) -> str:
    return "ALERT#" + hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:32]


class RateLimitedNotifier:
    """At most one alert per dedupe key per window (per kind when `windows` says so)."""

    def __init__(
        self,
        inner: Notifier,
        store: StateStore,
        clock: Clock,
        window: timedelta = DEFAULT_WINDOW,
        windows: Mapping[str, timedelta] | None = None,
    ) -> None:
        self.inner = inner
        self.store = store
        self.clock = clock
        self.window = window
        self.windows = dict(windows or {})

    def window_for(self, kind: str) -> timedelta:
        return self.windows.get(kind, self.window)

    def notify(self, alert: Alert) -> None:
        partition = tenant_partition(alert.tenant_id) if alert.tenant_id else GLOBAL
        sort = alert_sort(alert.dedupe_key)
        now = self.clock.now()
        window = self.window_for(alert.kind)
        for _ in range(_ATTEMPTS):
            item = self.store.get(partition, sort)
            version = item.version if item else 0
            data = dict(item.data) if item else {}
            last = datetime.fromisoformat(data["sent_at"]) if "sent_at" in data else None
            if last is not None and now - last < window:
                data["suppressed"] = int(data.get("suppressed", 0)) + 1
                try:
                    self.store.write(self._put(partition, sort, data, version, last + window))
                except ConditionFailed:
                    continue
                log.info("alert.suppressed", kind=alert.kind, key=alert.dedupe_key, count=data["suppressed"])
                return
            suppressed = int(data.get("suppressed", 0))
            claim = {"key": alert.dedupe_key, "sent_at": now.isoformat(), "suppressed": 0}
            try:
                self.store.write(self._put(partition, sort, claim, version, now + window))
            except ConditionFailed:
                continue  # someone else moved first: read again (they probably sent it)
            self._send(alert, suppressed, partition, sort, version + 1, data)
            return
        log.warning("alert.contended", kind=alert.kind, key=alert.dedupe_key)

    def _send(
        self,
        alert: Alert,
        suppressed: int,
        partition: str,
        sort: str,
        version: int,
        before: dict[str, object],
    ) -> None:
        if suppressed:
            alert = alert.model_copy(
                update={
                    "message": f"{alert.message} (+{suppressed} repeat(s) held back in the last window)",
                    "details": {**alert.details, "suppressed_repeats": suppressed},
                }
            )
        try:
            self.inner.notify(alert)
        except Exception:
            # Give the claim back so the next occurrence tries again instead of staying silent.
            log.exception("alert.delivery_failed", kind=alert.kind)
            restore: Put | Delete
            if before:
                restore = Put(partition=partition, sort=sort, data=before, expected_version=version)
            else:
                restore = Delete(partition=partition, sort=sort, expected_version=version)
            with contextlib.suppress(ConditionFailed):
                self.store.write(restore)
            raise

    @staticmethod
    def _put(partition: str, sort: str, data: Mapping[str, object], version: int, until: datetime) -> Put:
        # Keep the record a day past its window so a slow storm is still counted, then let TTL drop it.
        expires = int((until + timedelta(days=1)).timestamp())
        return Put(partition=partition, sort=sort, data=data, expected_version=version, expires_at=expires)


class FanOutNotifier:
    """Every channel gets every alert; a failing channel is logged and the rest still deliver.
    Raises only when every channel failed, so the rate limiter can give its claim back."""

    def __init__(self, channels: Sequence[Notifier]) -> None:
        self.channels = list(channels)

    def notify(self, alert: Alert) -> None:
        failures = 0
        for channel in self.channels:
            try:
                channel.notify(alert)
            except Exception:
                failures += 1
                log.exception("alert.channel_failed", channel=type(channel).__name__, kind=alert.kind)
        if self.channels and failures == len(self.channels):
            raise RuntimeError(f"no alert channel delivered {alert.kind}")
