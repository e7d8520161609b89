"""Builders for the observability adapters, one per backend: the containers call these.

Local: metrics in memory (logged on flush), alerts to the log plus Telegram when a chat and token are
set. AWS: metrics as EMF lines on stdout (CloudWatch Logs), flushed by every handler at the end of every
invocation; alerts to the log and the SNS alert topic, whose subscribers are the operators' e-mail and
the Telegram relay function (entrypoints/alert_relay.py), so the engine's functions need sns:Publish and
nothing else. Both rate-limit alerts through the StateStore, so a storm of the same alert becomes one
message per window, across processes and Lambda invocations.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from adapters.aws.sns_notifier import SnsNotifier
from adapters.emf_metrics import EmfMetrics
from adapters.log_notifier import LogNotifier
from adapters.memory_metrics import InMemoryMetrics
from adapters.telegram_notifier import TelegramNotifier
from entrypoints.settings import Settings
from outreach_core.ports import Clock, Metrics, Notifier, StateStore
from outreach_core.services.alerting import FanOutNotifier, RateLimitedNotifier

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


def _limited(channels: list[Notifier], settings: Settings, store: StateStore, clock: Clock) -> Notifier:
    return RateLimitedNotifier(
        FanOutNotifier(channels), store, clock, window=timedelta(seconds=settings.alert_window_s)
    )


def local_notifier(
    settings: Settings, store: StateStore, clock: Clock, log: LogNotifier | None = None
) -> Notifier:
    channels: list[Notifier] = [log or LogNotifier()]
    token = settings.telegram_bot_token.get_secret_value()
    if settings.telegram_chat_id and token:
        channels.append(
            TelegramNotifier(lambda: token, settings.telegram_chat_id, api_base=settings.telegram_api_base)
        )
    return _limited(channels, settings, store, clock)


def aws_notifier(
    settings: Settings,
    store: StateStore,
    clock: Clock,
    sns: SNSClient | None = None,
    log: LogNotifier | None = None,
) -> Notifier:
    """For the AWS container: pass the SNS client it already builds (endpoint, region, retries). Without
    an alert topic the alerts reach the log only."""
    channels: list[Notifier] = [log or LogNotifier()]
    if settings.alert_topic_arn:
        if sns is None:
            raise ValueError("alert_topic_arn is set but no SNS client was given")
        channels.append(SnsNotifier(sns, settings.alert_topic_arn))
    return _limited(channels, settings, store, clock)


def local_metrics() -> Metrics:
    return InMemoryMetrics(strict=False, log_on_flush=True)


def aws_metrics(settings: Settings, clock: Clock) -> Metrics:
    return EmfMetrics(settings.metrics_namespace, clock)


@contextmanager
def flushing(metrics: Metrics) -> Iterator[Metrics]:
    """`with flushing(metrics): ...` around a Lambda invocation: metrics are written even if it fails."""
    try:
        yield metrics
    finally:
        metrics.flush()


Handler = TypeVar("Handler", bound=Callable[..., Any])


def flushed(metrics: Metrics) -> Callable[[Handler], Handler]:
    """A Lambda handler decorator: every invocation, returned or raised, ends with `metrics.flush()`."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Any:
            with flushing(metrics):
                return handler(*args, **kwargs)

        return run  # type: ignore[return-value]

    return wrap


__all__: list[Any] = [
    "aws_metrics",
    "aws_notifier",
    "flushed",
    "flushing",
    "local_metrics",
    "local_notifier",
]
