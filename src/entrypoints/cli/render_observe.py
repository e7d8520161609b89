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
        o.delivery_text(),
        f"[red]{bounce}[/red]" if o.bounce_rate > BOUNCE_ALERT else bounce,
        f"[red]{complaint}[/red]" if o.complaint_rate > COMPLAINT_ALERT else complaint,
    )


_COLUMNS = ("sent", "deliv", "bounce", "compl", "failed", "deliv%", "bounce%", "compl%")
# Over SMTP the server's acceptance is all a sender learns; deliveries are never reported and bounces
# only when a DSN comes back to the mailbox: the columns say so (short, for 80 columns; the note spells
# them out).
_SMTP_COLUMNS = ("accepted", "deliv*", "bounce*", "compl", "failed", "deliv%", "bounce*%", "compl%")
SMTP_NOTE = (
    "SMTP: accepted = accepted by the receiving server; no delivery reports come over SMTP, so "
    "deliv* = delivered (reported) and bounce* = bounced (reported) are what was reported back "
    "(bounce reports read over IMAP), and the delivery rate counts SES sends only (n/a when there "
    "are none)"
)


def observability_tables(console: Console, report: StatusReport) -> None:
    columns = _SMTP_COLUMNS if report.smtp_mode else _COLUMNS
    tenants = table(
        "tenant", *columns, title="Per tenant: success and failure", numeric=columns, compact=True
    )
    for row in report.tenants:
        tenants.add_row(row.tenant_id, *_rates(row.outcomes))
    console.print(tenants)
    providers = table("provider", *columns, title="Per mailbox provider", numeric=columns, compact=True)
    for p in report.providers:
        providers.add_row(p.provider, *_rates(p.outcomes))
    console.print(providers)
    if report.smtp_mode:
        console.print(SMTP_NOTE, markup=False)
    q = report.queue
    if q is not None:
        dead = f"[red]{q.dead}[/red]" if q.dead else "0"
        console.print(
            f"job queue: {q.visible} waiting · {q.in_flight} in flight · {q.delayed} delayed · "
            f"oldest waiting {q.oldest_age_s:.0f} s · dead letters {dead}"
        )
    else:
        console.print(f"dead letters: {report.dead_letters}")
