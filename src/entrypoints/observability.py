"""Builders for the observability adapters, one per backend: the containers call these.

Local: metrics in memory (logged on flush), alerts to the log plus Telegram when a chat and token are
set. AWS: metrics as EMF log lines, alerts to the log, the SNS alert topic (e-mail) and Telegram with
its token from SSM Parameter Store. Both rate-limit alerts through the StateStore, so a storm of the
same alert becomes one message per window, across processes and Lambda invocations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from adapters.emf_metrics import EmfMetrics
from adapters.log_notifier import LogNotifier
from adapters.memory_metrics import InMemoryMetrics
from adapters.aws.sns_notifier import SnsNotifier
from adapters.aws.ssm_parameter import SsmParameter
from adapters.telegram_notifier import TelegramNotifier
from entrypoints.settings import Settings
from outreach_core.ports import Clock, Metrics, Notifier, StateStore
from outreach_core.services.alerting import FanOutNotifier, RateLimitedNotifier

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient


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
    ssm: SSMClient | None = None,
    log: LogNotifier | None = None,
) -> Notifier:
    """For the AWS container: pass the boto3 clients it already builds (endpoint, region, retries)."""
    channels: list[Notifier] = [log or LogNotifier()]
    if settings.alert_topic_arn:
        if sns is None:
            raise ValueError("alert_topic_arn is set but no SNS client was given")
        channels.append(SnsNotifier(sns, settings.alert_topic_arn))
    if settings.telegram_chat_id and settings.telegram_token_parameter:
        if ssm is None:
            raise ValueError("telegram_token_parameter is set but no SSM client was given")
        token = SsmParameter(ssm, settings.telegram_token_parameter, clock)
        channels.append(
            TelegramNotifier(token, settings.telegram_chat_id, api_base=settings.telegram_api_base)
        )
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


__all__: list[Any] = ["aws_metrics", "aws_notifier", "flushing", "local_metrics", "local_notifier"]
