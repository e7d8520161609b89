"""The observability part of `outreach status`: tenant success/fail rates, mailbox providers, the queue."""

from __future__ import annotations

from rich.console import Console

from entrypoints.cli.output import table
from outreach_core.services.reporting import Outcomes
from outreach_core.services.status import StatusReport

BOUNCE_ALERT = 0.05
COMPLAINT_ALERT = 0.001


def _rates(o: Outcomes) -> tuple[str, ...]:
    bounce = f"{o.bounce_rate:.1%}"
    complaint = f"{o.complaint_rate:.2%}"
    return (
        str(o.sent),
        str(o.delivered),
        str(o.bounced),
        str(o.complained),
        str(o.failed),
        f"{o.delivery_rate:.1%}",
        f"[red]{bounce}[/red]" if o.bounce_rate > BOUNCE_ALERT else bounce,
        f"[red]{complaint}[/red]" if o.complaint_rate > COMPLAINT_ALERT else complaint,
    )


_COLUMNS = ("sent", "deliv", "bounce", "compl", "failed", "deliv%", "bounce%", "compl%")


def observability_tables(console: Console, report: StatusReport) -> None:
    tenants = table(
        "tenant", *_COLUMNS, title="Per tenant: success and failure", numeric=_COLUMNS, compact=True
    )
    for row in report.tenants:
        tenants.add_row(row.tenant_id, *_rates(row.outcomes))
    console.print(tenants)
    providers = table("provider", *_COLUMNS, title="Per mailbox provider", numeric=_COLUMNS, compact=True)
    for p in report.providers:
        providers.add_row(p.provider, *_rates(p.outcomes))
    console.print(providers)
    q = report.queue
    if q is not None:
        dead = f"[red]{q.dead}[/red]" if q.dead else "0"
        console.print(
            f"job queue: {q.visible} waiting · {q.in_flight} in flight · {q.delayed} delayed · "
            f"oldest waiting {q.oldest_age_s:.0f} s · dead letters {dead}"
        )
    else:
        console.print(f"dead letters: {report.dead_letters}")
