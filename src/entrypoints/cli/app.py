"""The `outreach` command line: workspace, admin, worker, status, dead letters and the demo."""

from __future__ import annotations

import json
import secrets
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from entrypoints.cli import admin, domains, feedback, lifecycle, mailboxes, observe, ops, templates
from entrypoints.cli.context import CliState, app_for, fail
from entrypoints.cli.conventions import ConventionGroup
from entrypoints.log_setup import configure_logging
from entrypoints.settings import BuiltInSecretError, Settings

app = typer.Typer(
    help="Multi-tenant cold-email outreach engine. Every command has --help; list commands take --json.",
    no_args_is_help=True,
    cls=ConventionGroup,
)
app.add_typer(admin.tenant_app, name="tenant")
app.add_typer(admin.direction_app, name="direction")
app.add_typer(admin.identity_app, name="identity")
app.add_typer(admin.template_app, name="template")
app.add_typer(admin.campaign_app, name="campaign")
app.add_typer(admin.leads_app, name="leads")
app.add_typer(ops.dlq_app, name="dlq")
app.add_typer(ops.jobs_app, name="jobs")
app.add_typer(ops.suppress_app, name="suppress")
app.add_typer(domains.domain_app, name="domain")
app.add_typer(feedback.audit_app, name="audit")
app.add_typer(mailboxes.inbox_app, name="inbox")
app.add_typer(mailboxes.webhooks_app, name="webhooks")
app.command("status")(ops.status)
app.command("report")(observe.report)
app.command("cost")(observe.cost)
app.add_typer(observe.archive_app, name="archive")
app.add_typer(observe.alerts_app, name="alerts")
console = Console()
_REGISTERED = (feedback, lifecycle, templates)  # modules that add commands to the groups above


@app.callback()
def main_options(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None, typer.Option(help="workspace directory (default: $OUTREACH_WORKSPACE or .outreach)")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log at INFO to stderr")] = False,
) -> None:
    # --workspace decides the env file too (its secret, mailer and SMTP settings), not just the database.
    overrides: dict[str, Any] = {"workspace": workspace} if workspace else {}
    settings = Settings(**overrides)
    configure_logging("INFO" if verbose else settings.log_level, json=settings.log_json)
    ctx.obj = CliState(settings=settings, verbose=verbose)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create a local workspace: the SQLite database, the archive and outreach.env with a fresh secret."""
    state: CliState = ctx.obj
    workspace = state.settings.workspace
    workspace.mkdir(parents=True, exist_ok=True)
    env = workspace / "outreach.env"
    if not env.exists():
        env.write_text(
            "# Settings for this workspace; any OUTREACH_* environment variable overrides them.\n"
            f"OUTREACH_UNSUBSCRIBE_SECRET={secrets.token_urlsafe(32)}\n"
            "OUTREACH_UNSUBSCRIBE_BASE_URL=http://127.0.0.1:8025/unsubscribe\n"
            "OUTREACH_MAILER=simulator\n",
            encoding="utf-8",
        )
        env.chmod(0o600)
        state.settings = Settings(workspace=workspace)  # the fresh secret, for anything done next
    application = app_for(state, create=True)
    application.adapters.store()  # creates outreach.db: the mark of a workspace for other commands
    application.adapters.job_queue()
    state.settings.archive_root.mkdir(parents=True, exist_ok=True)
    ignore = workspace / ".gitignore"
    if not ignore.exists():  # lead lists and the database never land in a commit by `git add .`
        ignore.write_text("# an outreach workspace: client data, never committed\n*\n", encoding="utf-8")
    console.print(f"workspace ready: {workspace.resolve()}")
    console.print(
        f"  {state.settings.db_path.name} (SQLite: state and queues), archive/, "
        "outreach.env (settings, a fresh secret), .gitignore (keeps it all out of git)",
        markup=False,
    )


@app.command()
def run(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="one pass (planner, sender, feedback) and exit")
    ] = False,
    poll: Annotated[float, typer.Option(help="seconds between passes")] = 5.0,
    mailer: Annotated[str | None, typer.Option(help="simulator or smtp (overrides OUTREACH_MAILER)")] = None,
    smtp_host: Annotated[str | None, typer.Option(help="SMTP server (overrides OUTREACH_SMTP_HOST)")] = None,
    smtp_port: Annotated[int | None, typer.Option(help="its port (overrides OUTREACH_SMTP_PORT)")] = None,
    http: Annotated[
        bool,
        typer.Option("--http", help="serve POST /sns and /unsubscribe/<token> on OUTREACH_HTTP_HOST:PORT"),
    ] = False,
    http_port: Annotated[
        int | None, typer.Option(help="port for --http (default OUTREACH_HTTP_PORT)")
    ] = None,
) -> None:
    """The worker loop on the system clock: plan due steps, send queued jobs, apply feedback."""
    from entrypoints.web import start_http
    from entrypoints.worker import LocalWorker

    state: CliState = ctx.obj
    overrides = {
        k: v for k, v in {"mailer": mailer, "smtp_host": smtp_host, "smtp_port": smtp_port}.items() if v
    }
    if overrides:
        state.settings = state.settings.model_copy(update=overrides)
    application = app_for(state)
    try:
        worker = LocalWorker.from_app(application, poll_imap=True)
    except BuiltInSecretError as exc:
        fail(f"run: {exc}")
    if state.settings.builtin_secret:
        console.print(
            "note: the built-in development secret signs this workspace's links (simulator only); "
            "`outreach init` writes a real one",
            markup=False,
        )
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server = start_http(application, state.settings, http_port) if http else None
    if server is not None:
        console.print(f"HTTP endpoints on {server.url} (/sns, /unsubscribe/<token>)")
    console.print(f"worker running with the {state.settings.mailer} mailer (Ctrl-C to stop)")
    monitor, metrics = application.services.queue_monitor(), application.adapters.metrics()
    while not stopping:
        stats = worker.run_once()
        if monitor.check().dead:  # queue figures, and the DLQ-not-empty alert (rate-limited)
            application.services.dead_letters().reconcile()  # no job looks alive behind a dead letter
        metrics.flush()
        if (
            stats.planned
            or stats.outcomes
            or stats.events_applied
            or stats.events_rejected
            or stats.polled
            or stats.webhooks
        ):
            console.print(stats.describe(application.adapters.clock().now()), markup=False, highlight=False)
        if once:
            break
        time.sleep(poll)
    if server is not None:
        server.stop()


@app.command()
def demo(
    ctx: typer.Context,
    summary_json: Annotated[Path | None, typer.Option(help="write the summary as JSON here")] = None,
    seed: Annotated[int, typer.Option(help="seed for the generated world")] = 7,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    keep: Annotated[
        Path | None,
        typer.Option(help="keep the run's workspace here, for `outreach --workspace DIR status` or `report`"),
    ] = None,
) -> None:
    """3 tenants, 1,200 leads, a 3-step sequence, ~2 weeks of virtual time through the whole pipeline."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from entrypoints.cli.render import demo_tables

    state: CliState = ctx.obj
    if not state.verbose:  # the tables tell the story; -v shows every decision as a JSON log line
        configure_logging("ERROR", json=state.settings.log_json)

    if progress:
        with Progress(
            TextColumn("[bold]demo"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("starting", total=1.0)
            summary = _demo(keep, seed, lambda done, text: bar.update(task, completed=done, description=text))
            bar.update(task, completed=1.0)
    else:
        summary = _demo(keep, seed, None)
    demo_tables(console, summary)
    if summary_json:
        summary_json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"summary written to {summary_json}")
    if keep:
        console.print(
            f"workspace kept in {keep}: try `outreach --workspace {keep} status`, `... report --out r.html`, "
            f"`... campaign forecast northwind audit-q1` (its clock was virtual: January 2026)",
            markup=False,
        )
    if summary["duplicate_sends"] or summary["sends_to_suppressed"] or summary["non_terminal_jobs"]:
        fail("the demo broke an invariant (duplicates, sends to suppressed, or unfinished jobs)")


def _demo(keep: Path | None, seed: int, progress: Any) -> dict[str, Any]:
    from entrypoints.demo import run_demo

    try:
        return run_demo(workspace=keep, seed=seed, progress=progress)
    except ValueError as exc:
        fail(f"demo: {exc}")


@app.command()
def simulate(
    scenario: Annotated[Path, typer.Argument(help="a scenario file, e.g. scenarios/noisy-neighbour.toml")],
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    chart: Annotated[
        Path | None,
        typer.Option(help="the chart: .html (with the figures; default ./<scenario>.html) or .svg"),
    ] = None,
) -> None:
    """Run a scenario through the local stack in virtual time; report limits, fairness and safety."""
    from entrypoints.chart import render_html, render_svg
    from entrypoints.cli.render import simulate_table
    from entrypoints.simulate import Scenario, check_expectations, run_scenario

    try:
        spec = Scenario.load(scenario)
    except (OSError, ValueError) as exc:
        fail(f"simulate: {scenario}: {str(exc).splitlines()[0]}")
    report = run_scenario(spec)
    series = report.pop("series")
    checks = check_expectations(spec, report)
    chart = chart or Path(f"{scenario.stem}.html")
    if chart.suffix == ".svg":
        page = render_svg(spec.name, series["tenants"], series["providers"], spec.start)
    else:
        page = render_html(spec.name, report, series["tenants"], series["providers"], spec.start, checks)
    chart.write_text(page, encoding="utf-8")
    report["chart"] = str(chart)
    report["expect"] = [{"check": name, "held": ok, "figures": detail} for name, ok, detail in checks]
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        simulate_table(console, report)
        for name, ok, detail in checks:
            mark = "[green]PASS[/green]" if ok else "[red]FAIL[/red]"
            console.print(f"{mark} {escape(name)} ({escape(detail)})", highlight=False)
    failed = [name for name, ok, _ in checks if not ok]
    if failed:
        fail(f"the scenario's expectations failed: {', '.join(failed)}")


def main() -> None:
    app()


__all__ = ["app", "main"]
