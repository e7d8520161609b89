"""A secret read from SSM Parameter Store (a SecureString, decrypted with the account's aws/ssm key).

Standard parameters cost nothing, unlike Secrets Manager's $0.40 per secret per month; that is why the
Telegram bot token lives here. The value is fetched on first use and kept for `ttl_s` seconds, so a
warm Lambda does not call SSM on every alert, and a rotated token is picked up within the TTL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from outreach_core.ports import Clock

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

IAM_ACTIONS = frozenset({"ssm:GetParameter"})


class SsmParameter:
    def __init__(
        self, client: SSMClient, name: str, clock: Clock, ttl: timedelta = timedelta(minutes=15)
    ) -> None:
        if not name:
            raise ValueError("SsmParameter needs a parameter name")
        self.client = client
        self.name = name
        self.clock = clock
        self.ttl = ttl
        self._value: str | None = None
        self._fetched_at: datetime | None = None

    def __call__(self) -> str:
        now = self.clock.now()
        if self._value is None or self._fetched_at is None or now - self._fetched_at >= self.ttl:
            response = self.client.get_parameter(Name=self.name, WithDecryption=True)
            self._value = response["Parameter"].get("Value", "")
            self._fetched_at = now
        return self._value


class SsmSecrets:
    """name -> value for adapters.secrets.SecretResolver: SecureStrings, each cached for its TTL (the
    IMAP poller's and the sender's mailbox secrets, the webhook function's signing secrets)."""

    def __init__(self, client: SSMClient, clock: Clock) -> None:
        self.client = client
        self.clock = clock
        self._params: dict[str, SsmParameter] = {}

    def __call__(self, name: str) -> str:
        if name not in self._params:
            self._params[name] = SsmParameter(self.client, name, self.clock)
        return self._params[name]()
