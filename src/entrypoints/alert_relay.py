"""Lambda: SNS alert topic -> Telegram, for everything on the topic: the engine's own alerts (campaign
paused, identity blocked, failover, rate lowered, ...), CloudWatch alarms and AWS Budgets. Subscribe it
to the alert topic; e-mail subscribers get the same messages from SNS directly. Environment (see
entrypoints/aws/manifest.py, ALERT_RELAY): OUTREACH_TELEGRAM_CHAT_ID, OUTREACH_TELEGRAM_TOKEN_PARAMETER
(an SSM SecureString name), OUTREACH_AWS_REGION, optionally OUTREACH_TELEGRAM_API_BASE. No rate
limiting here: the engine rate-limits before it publishes, CloudWatch notifies on state changes only
and Budgets once per threshold.
"""

from __future__ import annotations

from typing import Any

from adapters.aws.sns_alert_relay import alerts_from_sns
from adapters.aws.ssm_parameter import SsmParameter
from adapters.clock import SystemClock
from adapters.telegram_notifier import TelegramNotifier
from entrypoints.settings import Settings

_warm: dict[str, TelegramNotifier] = {}  # kept across warm invocations (the token cache with it)


def _telegram(settings: Settings) -> TelegramNotifier:
    key = f"{settings.telegram_token_parameter}|{settings.telegram_chat_id}|{settings.telegram_api_base}"
    if key not in _warm:
        import boto3

        ssm = boto3.client("ssm", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
        token = SsmParameter(ssm, settings.telegram_token_parameter, SystemClock())
        _warm[key] = TelegramNotifier(token, settings.telegram_chat_id, api_base=settings.telegram_api_base)
    return _warm[key]


def handler(event: dict[str, Any], context: object = None) -> dict[str, int]:
    settings = Settings()
    alerts = alerts_from_sns(event, SystemClock().now())
    if not alerts or not (settings.telegram_chat_id and settings.telegram_token_parameter):
        return {"relayed": 0, "received": len(event.get("Records", []))}
    notifier = _telegram(settings)
    for alert in alerts:
        notifier.notify(alert)  # raising makes Lambda retry the SNS delivery
    return {"relayed": len(alerts), "received": len(event.get("Records", []))}
