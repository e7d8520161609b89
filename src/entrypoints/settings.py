"""Settings from the environment (OUTREACH_*) and the workspace's outreach.env."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

WORKSPACE_ENV = "OUTREACH_WORKSPACE"


def _env_files() -> tuple[str, ...]:
    workspace = Path(os.environ.get(WORKSPACE_ENV, ".outreach"))
    return (str(workspace / "outreach.env"),)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTREACH_", env_file=_env_files(), extra="ignore")

    backend: Literal["local", "aws"] = "local"
    workspace: Path = Path(".outreach")
    mailer: Literal["simulator", "smtp"] = "simulator"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_implicit_tls: bool = False
    smtp_timeout_s: float = 30.0

    unsubscribe_base_url: str = "http://127.0.0.1:8025/unsubscribe"
    unsubscribe_secret: SecretStr = SecretStr("dev-only-change-me")
    unsubscribe_old_secrets: SecretStr = SecretStr("")  # comma-separated: links signed before a rotation
    http_host: str = "127.0.0.1"  # the worker's HTTP server (POST /sns, /unsubscribe/<token>)
    http_port: int = 8025
    sns_topic_arns: str = ""  # comma-separated topics whose SNS messages POST /sns accepts

    planner_horizon_s: int = 300
    # SES account quotas (GetAccount SendQuota): the account-wide limiter's data.
    ses_max_send_rate: float = 14.0
    ses_max_24h_send: int = 50_000
    # offline: the static table of well-known domains only (the default: no DNS from tests or the demo);
    # dns: resolve other domains' MX with dnspython (cached), for Workspace/365/gateway detection.
    mx_resolver: Literal["dns", "offline"] = "offline"
    dns_nameservers: str = ""  # "host[:port],..." for the dns resolver; empty = the system's resolvers
    # Sending-domain checks (`outreach domain check`, `campaign start`): what SPF must authorise (empty:
    # amazonses.com when mail goes through SES, any valid record through an SMTP relay) and the label
    # of SES's custom MAIL FROM domain (empty: bounce-<aws_region>, as the Terraform module sets it).
    spf_include: str = ""
    mail_from_subdomain: str = ""
    sender_lease_s: int = 300
    max_attempts: int = 5

    log_level: str = "WARNING"
    log_json: bool = True

    # --- AWS backend (set by Terraform as Lambda environment variables) -------------------------------
    aws_region: str = "eu-west-1"  # primary SES region and home of the table, queues and bucket
    aws_failover_region: str = ""  # secondary SES region; empty = no failover
    aws_endpoint_url: str | None = None  # tests point this at a moto server on 127.0.0.1
    table_name: str = "outreach"
    job_queue_url: str = ""
    job_dlq_url: str = ""
    archive_bucket: str = ""
    alert_topic_arn: str = ""  # the engine's alerts go here (e-mail subscribers, the Telegram relay)
    # SES receiving: the receipt rule stores each reply here and notifies the feedback function; empty =
    # no inbound reader (receipt notifications that point at S3 are rejected, named in the log).
    inbound_bucket: str = ""
    inbound_prefix: str = "inbound/"
    ses_configuration_set: str = "outreach"
    archive_kms_key_id: str = ""  # SSE-KMS key for the archive; empty = SSE-S3
    failover_threshold: int = 3  # consecutive regional failures that open the SES breaker
    failover_cool_down_s: int = 300  # open breaker: seconds before a probe of the primary

    # --- observability: metrics, alerts, archive retention ----------------------------------------------
    metrics_namespace: str = "Outreach"  # CloudWatch namespace of the EMF metrics (AWS mode)
    alert_window_s: int = 3600  # repeats of one alert (same dedupe key) within this window are held back
    telegram_chat_id: str = ""  # empty = no Telegram alerts
    telegram_bot_token: SecretStr = SecretStr("")  # local mode; AWS mode reads telegram_token_parameter
    telegram_token_parameter: str = ""  # SSM Parameter Store SecureString name, e.g. /outreach/telegram-token
    telegram_api_base: str = "https://api.telegram.org"
    archive_retention_days: int = 90  # S3 lifecycle expiry (Terraform); `outreach archive prune` locally

    @property
    def unsubscribe_secrets(self) -> list[str]:
        """The current secret first, then older ones that still verify (rotation)."""
        old = [s.strip() for s in self.unsubscribe_old_secrets.get_secret_value().split(",") if s.strip()]
        return [self.unsubscribe_secret.get_secret_value(), *old]

    @property
    def db_path(self) -> Path:
        return self.workspace / "outreach.db"

    @property
    def archive_root(self) -> Path:
        return self.workspace / "archive"
