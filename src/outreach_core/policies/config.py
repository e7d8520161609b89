"""The sending policy as data: every limit, ramp and threshold, with per-tenant overrides.

Defaults come from the seed and the reference notes (docs/policies.md gives each one's source). A
tenant's overrides live in its partition as a `POLICY` document (`TenantPolicy`); `effective` merges
them over the defaults. The account's SES quotas (MaxSendRate, Max24HourSend) are data too: read from
settings (on AWS, Terraform sets them from the account's SendQuota; nothing calls GetAccount).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from outreach_core.policies.aimd import AimdConfig
from outreach_core.policies.autostop import AutoStopRules
from outreach_core.policies.hygiene import HygienePolicy
from outreach_core.policies.limits import Limit, limit_of
from outreach_core.policies.providers import DEFAULT_PROVIDER_LIMITS, Provider, ProviderLimits
from outreach_core.policies.warmup import WarmupPlan

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


class AccountLimits(BaseModel):
    """SES account quotas. 14/s and 50,000/day are SES's usual first production quotas."""

    model_config = ConfigDict(frozen=True)

    max_send_rate: float = Field(default=14.0, gt=0, description="SES MaxSendRate, sends per second")
    max_24h_send: int = Field(default=50_000, gt=0, description="SES Max24HourSend (rolling 24 h)")

    @property
    def rate(self) -> Limit:
        """Whole sends per period: 14/s stays 14 per second; 0.05/s becomes 1 per 20 s."""
        if self.max_send_rate >= 1:
            return limit_of(int(self.max_send_rate), 1.0)
        return limit_of(1, 1.0 / self.max_send_rate)

    @property
    def day(self) -> Limit:
        return limit_of(self.max_24h_send, DAY)


class IdentityLimits(BaseModel):
    """Per sender identity. The daily cap is the identity's own `daily_cap`, under its warm-up ramp."""

    model_config = ConfigDict(frozen=True)

    per_minute: int | None = Field(default=2, ge=1)
    per_hour: int | None = Field(default=40, ge=1)


class TenantPolicy(BaseModel):
    """A tenant's overrides; anything left None uses the defaults."""

    model_config = ConfigDict(frozen=True)

    autostop: AutoStopRules | None = None
    identity: IdentityLimits | None = None
    providers: dict[Provider, ProviderLimits] = Field(default_factory=dict)
    warmup: WarmupPlan | None = None
    aimd: AimdConfig | None = None
    hygiene: HygienePolicy | None = None  # list hygiene (role accounts, typo domains): services.hygiene


class SendingPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: AccountLimits = AccountLimits()
    identity: IdentityLimits = IdentityLimits()
    providers: Mapping[Provider, ProviderLimits] = Field(
        default_factory=lambda: dict(DEFAULT_PROVIDER_LIMITS)
    )
    warmup: WarmupPlan = WarmupPlan()
    aimd: AimdConfig = AimdConfig()
    autostop: AutoStopRules = AutoStopRules()
    window_buckets: int = Field(default=48, ge=1, description="buckets per rolling window (day: 30 min)")

    def effective(self, tenant: TenantPolicy | None) -> SendingPolicy:
        if tenant is None:
            return self
        return self.model_copy(
            update={
                "autostop": tenant.autostop or self.autostop,
                "identity": tenant.identity or self.identity,
                "providers": {**self.providers, **tenant.providers},
                "warmup": tenant.warmup or self.warmup,
                "aimd": tenant.aimd or self.aimd,
            }
        )

    def provider(self, provider: Provider) -> ProviderLimits:
        return self.providers.get(provider) or self.providers.get(Provider.OTHER) or ProviderLimits()
