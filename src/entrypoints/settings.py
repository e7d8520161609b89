"""Settings from the environment (OUTREACH_*) and the workspace's outreach.env.

The env file is the one of the workspace these settings are for, decided when they are built: the
`workspace` argument (the CLI's --workspace), else $OUTREACH_WORKSPACE, else ./.outreach. Variables in
the environment override the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

WORKSPACE_ENV = "OUTREACH_WORKSPACE"
DEFAULT_WORKSPACE = Path(".outreach")
# Signs unsubscribe links, reply tokens and Message-IDs when nothing else is set. Anyone can read it
# here, so only the simulator (the demo, tests, a first look) may send with it: see sending_secret().
BUILTIN_SECRET = "dev-only-change-me"


class BuiltInSecretError(ValueError):
    """Real mail (SMTP, SES) would go out with links signed by the published development secret."""


def workspace_dir(explicit: Path | str | None = None) -> Path:
    """The workspace these settings are for: the explicit one, else $OUTREACH_WORKSPACE, else .outreach."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTREACH_", extra="ignore")

    def __init__(self, **values: Any) -> None:
        if "_env_file" not in values:
            values["_env_file"] = workspace_dir(values.get("workspace")) / "outreach.env"
        super().__init__(**values)

    backend: Literal["local", "aws"] = "local"
    workspace: Path = Path(".outreach")
    # The process owns the workspace's database while it runs (`outreach demo`): SQLite takes its
    # lock once for the run instead of in every transaction, and no other process can open it meanwhile.
    sqlite_exclusive: bool = False
    mailer: Literal["simulator", "smtp"] = "simulator"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_implicit_tls: bool = False
    smtp_timeout_s: float = 30.0

    unsubscribe_base_url: str = "http://127.0.0.1:8025/unsubscribe"
    unsubscribe_secret: SecretStr = SecretStr(BUILTIN_SECRET)
    unsubscribe_old_secrets: SecretStr = SecretStr("")  # comma-separated: links signed before a rotation
    http_host: str = "127.0.0.1"  # the worker's HTTP server (POST /sns, /unsubscribe/<token>)
    http_port: int = 8025
    sns_topic_arns: str = ""  # comma-separated topics whose SNS messages POST /sns accepts

    # Webhooks out (per tenant: `outreach webhooks add`): attempts before a delivery is dead-lettered,
    # and how long one POST may take. On AWS the deliveries go through their own SQS queue.
    webhook_max_attempts: int = 8
    webhook_timeout_s: float = 10.0
    webhook_queue_url: str = ""  # AWS: the webhook delivery queue; empty = webhooks off
    # IMAP: identities with a mailbox (`identity add --imap-host ...`) are polled by `outreach run`
    # (every imap_poll_s) and, on AWS, by the scheduled IMAP poller function.
    imap_poll_s: float = 60.0
    imap_batch: int = 50
    imap_timeout_s: float = 30.0

    planner_horizon_s: int = 300
    # The local worker gathers feedback events for up to this long before ingesting them as one batch
    # (one archive object per tenant per batch), as a Lambda's SQS event source does with its
    # MaximumBatchingWindowInSeconds; 0 = ingest what is visible at once. A full batch goes at once.
    feedback_batch_window_s: int = 0
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
    max_receives: int = 3  # the job queue's receive limit (SQS maxReceiveCount, Terraform max_receive_count)

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
    def real_mail(self) -> bool:
        """Mail goes to real mailboxes: over SMTP, or through SES."""
        return self.backend == "aws" or self.mailer == "smtp"

    @property
    def builtin_secret(self) -> bool:
        return self.unsubscribe_secret.get_secret_value() in ("", BUILTIN_SECRET)

    def sending_secret(self) -> str:
        """The secret that signs what goes out. Raises BuiltInSecretError rather than let real mail
        carry links anybody could forge (the built-in secret is in this file)."""
        if self.real_mail and self.builtin_secret:
            where = (
                "the function's environment (Terraform)"
                if self.backend == "aws"
                else f"{self.workspace / 'outreach.env'} (`outreach init` writes a fresh one)"
            )
            raise BuiltInSecretError(
                "OUTREACH_UNSUBSCRIBE_SECRET is not set, and real mail must not carry links signed with "
                f"the built-in development secret: set it in {where}; only the simulator runs without it"
            )
        return self.unsubscribe_secret.get_secret_value() or BUILTIN_SECRET

    @property
    def unsubscribe_secrets(self) -> list[str]:
        """The current secret first, then older ones that still verify (rotation). With real mail, the
        built-in secret never verifies anything: a token signed with it is a forgery."""
        old = [s.strip() for s in self.unsubscribe_old_secrets.get_secret_value().split(",") if s.strip()]
        secrets = [self.unsubscribe_secret.get_secret_value(), *old]
        if self.real_mail:
            secrets = [s for s in secrets if s and s != BUILTIN_SECRET]
        return secrets

    @property
    def db_path(self) -> Path:
        return self.workspace / "outreach.db"

    @property
    def archive_root(self) -> Path:
        return self.workspace / "archive"
