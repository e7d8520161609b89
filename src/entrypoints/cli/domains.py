"""`outreach domain check`: is a sending domain set up to send (SPF, DKIM, DMARC, MAIL FROM)?"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from entrypoints.cli.context import CliState, app_for, fail
from entrypoints.cli.conventions import group
from outreach_core.policies.domain_health import DomainReport, Status

console = Console()
domain_app = group("Sending domains: authentication checks.")

_STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "red", Status.NOT_CHECKED: "dim"}


def print_report(report: DomainReport) -> None:
    console.print(f"[bold]{escape(report.domain)}[/bold]")
    for line in report.lines:
        style = _STYLE[line.status]
        console.print(f"  {line.name:<9} [{style}]{line.status.value:<11}[/{style}] {escape(line.message)}")


@domain_app.command("check")
def domain_check(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument(help="the sending domain (the From: address's domain)")],
    selector: Annotated[
        list[str] | None,
        typer.Option(help="DKIM selector (repeat; SES Easy DKIM: its three tokens); remembered for later"),
    ] = None,
    mail_from: Annotated[
        str, typer.Option(help="the MAIL FROM domain (default: as this deployment sends)")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """SPF, DKIM, DMARC and MAIL FROM of a sending domain, one line each; exits 1 when one fails.

    SPF must authorise SES or the relay with an aligned MAIL FROM; DKIM keys at the selectors; a DMARC
    policy; an MX for the MAIL FROM domain."""
    state: CliState = ctx.obj
    report = app_for(state).services.domain_health().check(domain, selector or (), mail_from)
    if as_json:
        lines = [{"check": x.name, "status": x.status.value, "message": x.message} for x in report.lines]
        typer.echo(json.dumps({"domain": report.domain, "blocks": report.blocks, "checks": lines}, indent=2))
    else:
        print_report(report)
    if report.blocks:
        fail(f"{domain}: {', '.join(line.name for line in report.failing)} failing")
