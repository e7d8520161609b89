"""A small real workspace for the CLI and SMTP tests: SQLite, one tenant, one identity, one campaign
running, leads imported; the sending window always open and the planner's horizon one second."""

from __future__ import annotations

from pathlib import Path

from entrypoints.container import Application, build
from entrypoints.settings import Settings
from outreach_core.domain.models import CampaignStep, Quotas
from outreach_core.policies.config import TenantPolicy
from tests.harness import ALWAYS, UNPACED

TENANT = "acme"


# No per-identity pacing or warm-up: sends go out at the tenant's admission rate (hourly / 3600 a second).
UNPACED_TENANT = TenantPolicy(
    identity=UNPACED.identity, providers=dict(UNPACED.providers), warmup=UNPACED.warmup
)


def workspace_world(
    path: Path,
    leads: str = "email,first_name\nbob@corp-x.com,Bob\n",
    *,
    hourly: int = 36_000,
    **settings: object,
) -> Application:
    app = build(Settings(workspace=path, planner_horizon_s=1, **settings))  # type: ignore[arg-type]
    admin = app.services.admin()
    admin.add_tenant(
        TENANT,
        "Acme",
        "1 Main Street, Springfield",
        window=ALWAYS,
        quotas=Quotas(hourly=hourly, daily=100_000),
    )
    app.services.limiter().set_tenant_policy(TENANT, UNPACED_TENANT)
    admin.add_direction(TENANT, "sales", "Sales")
    admin.add_identity(TENANT, "ann", "ann@acme-mail.com", daily_cap=500)
    admin.add_template(TENANT, "t1", "Hello {{first_name|there}}", "A short note for {{company|you}}.")
    admin.add_campaign(TENANT, "spring", "sales", [CampaignStep(number=1, template_id="t1")])
    app.services.leads().import_csv(TENANT, leads.encode())
    admin.start_campaign(TENANT, "spring")
    return app
