"""An operator's day on the command line (issue 15), one test per part, through typer's runner on a real
local workspace (SQLite, the simulated SES; the test send goes over SMTP to an aiosmtpd sink)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from email import message_from_bytes, message_from_string
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from entrypoints.cli.app import app
from tests.smtp_sink import SinkHandler, start_sink

ALL_DAY = ["--days", "all", "--start", "00:00", "--end", "00:00"]
Run = Callable[..., str]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("OUTREACH_PLANNER_HORIZON_S", "1")
    monkeypatch.setenv("COLUMNS", "80")
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True, env: dict[str, str] | None = None) -> str:
        result = runner.invoke(app, ["--workspace", str(tmp_path / "ws"), *args], env=env)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result.output

    return invoke


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _world(cli: Run, tmp_path: Path, *, window: list[str] = ALL_DAY, leads: str | None = None) -> None:
    cli("init")
    address = "1 Main Street, Springfield"
    cli("tenant", "add", "acme", "--name", "Acme", "--address", address, "--hourly", "3600", *window)
    cli("direction", "add", "acme", "sales", "--name", "Sales")
    cli("identity", "add", "acme", "ann-long-identity-name", "--email", "ann@acme-mail.example.com")
    first = _write(
        tmp_path / "first.txt", "{Hi|Hello} {{first_name|there}},\n\nAbout {{company|your team}}.\n"
    )
    cli(
        "template",
        "add",
        "acme",
        "first",
        "--subject",
        "Question for {{company|you}}",
        "--text-file",
        str(first),
    )
    cli("template", "add", "acme", "bump", "--subject", "", "--text-file",
        str(_write(tmp_path / "bump.txt", "Bumping this, {{first_name|there}}.\n")))  # fmt: skip
    rows = leads or "email,first_name,company\nann@corp-x.com,Ann,Corp X\nbob@corp-y.com,Bob,Corp Y\n"
    cli("leads", "import", "acme", str(_write(tmp_path / "leads.csv", rows)))


def _drain(cli: Run, passes: int = 6) -> dict[str, Any]:
    """Worker passes until nothing is planned, queued or being sent (the queue delays by whole seconds)."""
    status: dict[str, Any] = {}
    for _ in range(passes):
        cli("run", "--once")
        status = json.loads(cli("status", "--json"))
        open_jobs = sum(
            c["jobs"].get(s, 0) for c in status["campaigns"] for s in ("planned", "queued", "sending")
        )
        if not open_jobs and status["queue"]["visible"] + status["queue"]["delayed"] == 0:
            return status
        time.sleep(1.05)
    return status


# --- 1. templates ------------------------------------------------------------------------------------


def test_bad_templates_are_refused_at_add_with_line_and_column(cli: Run, tmp_path: Path) -> None:
    _world(cli, tmp_path)
    unclosed = _write(
        tmp_path / "u.txt", "Hi {{first_name|there,\n\nQuick question about {{company|your team}}."
    )
    out = cli("template", "add", "acme", "t", "--subject", "S", "--text-file", str(unclosed), ok=False)
    assert "error: template add: text: unclosed '{{' at line 1, column 4" in out
    typo = _write(tmp_path / "typo.txt", "Hello,\n  {{frist_name}}")
    out = cli("template", "add", "acme", "t", "--subject", "S", "--text-file", str(typo), ok=False)
    assert "text: line 2, column 3: unknown field {{frist_name}} (did you mean first_name?)" in out
    spin = _write(tmp_path / "spin.txt", "ok\n{Hi|Hello there")
    out = cli("template", "add", "acme", "t", "--subject", "S", "--text-file", str(spin), ok=False)
    assert "unclosed '{' at line 2, column 1" in out
    assert "no template" not in cli("template", "list", "acme") and '"t"' not in cli(
        "template", "list", "acme", "--json"
    )


def test_template_update_preview_and_test_send(cli: Run, tmp_path: Path) -> None:
    _world(cli, tmp_path)
    cli("template", "update", "acme", "first", "--subject", "A question for {{company|you}}")
    history = json.loads(cli("template", "show", "acme", "first", "--history", "--json"))
    assert [t["revision"] for t in history] == [1, 2] and history[0][
        "subject"
    ] == "Question for {{company|you}}"
    raw = cli("template", "preview", "acme", "first", "--lead", "ann@corp-x.com", "--raw")
    message = message_from_string(raw)
    assert message["Subject"] == "A question for Corp X" and message["To"] == "Ann <ann@corp-x.com>"
    assert message["List-Unsubscribe"].startswith("<http") and message["List-Unsubscribe-Post"]
    body = message.get_payload(decode=True).decode()
    assert "Corp X" in body and "1 Main Street, Springfield" in body and "Unsubscribe:" in body
    readable = cli("template", "preview", "acme", "bump", "--lead", "bob@corp-y.com")
    assert "Bumping this, Bob." in readable and "In-Reply-To:" in readable  # a follow-up replies in thread

    sink = SinkHandler()
    controller = start_sink(sink)
    try:
        env = {
            "OUTREACH_MAILER": "smtp",
            "OUTREACH_SMTP_HOST": "127.0.0.1",
            "OUTREACH_SMTP_PORT": str(controller.port),
        }
        args = [
            "template",
            "test-send",
            "acme",
            "first",
            "--to",
            "qa@agency.example",
            "--lead",
            "ann@corp-x.com",
        ]
        out = cli(*args, env=env)
    finally:
        controller.stop()
    assert "sent to qa@agency.example" in out and "r2" in out
    (received,) = sink.messages
    assert received.recipients == ["qa@agency.example"]
    assert message_from_bytes(received.content)["Subject"] == "A question for Corp X"
    audit = json.loads(cli("audit", "list", "acme", "--action", "template.", "--json"))
    assert [e["action"] for e in audit] == [
        "template.create",
        "template.create",
        "template.update",
        "template.test_send",
    ]


# --- 2. why and when ---------------------------------------------------------------------------------


def test_leads_show_forecast_failed_jobs_and_waiting_versus_done(cli: Run, tmp_path: Path) -> None:
    _world(
        cli,
        tmp_path,
        leads="email,first_name,company\nann@corp-x.com,Ann,Corp X\nbob@corp-y.com,Bob,Corp Y\n",
    )
    cli("template", "add", "acme", "strict", "--subject", "For {{first_name}}", "--text-file",
        str(_write(tmp_path / "s.txt", "Hi {{first_name}}.")))  # fmt: skip
    cli(
        "leads",
        "import",
        "acme",
        "--list",
        "cold",
        str(_write(tmp_path / "cold.csv", "email\ncarl@corp-z.com\n")),
    )
    cli("campaign", "add", "acme", "q1", "--direction", "sales", "--step", "first", "--step", "bump:3")
    cli("campaign", "add", "acme", "cold", "--direction", "sales", "--list", "cold", "--step", "strict")
    forecast = json.loads(cli("campaign", "forecast", "acme", "q1", "--json"))
    assert forecast["status"] == "draft" and forecast["remaining_messages"] == 4 and forecast["finish"]
    assert "messages left, done on" in cli("campaign", "forecast", "acme", "q1")
    cli("campaign", "start", "acme", "q1")
    cli("campaign", "start", "acme", "cold")
    status = _drain(cli, 120)  # returns once drained; identity pacing (2 a minute) can hold a job 60 s
    campaigns = {c["campaign_id"]: c for c in status["campaigns"]}  # type: ignore[index, union-attr]
    assert campaigns["q1"]["state"] == "waiting" and campaigns["q1"]["waiting"] == 2
    assert campaigns["cold"]["state"] in ("done", "completed"), (campaigns["cold"], status["queue"])
    shown = json.loads(cli("leads", "show", "acme", "ann@corp-x.com", "--json"))
    (q1,) = [c for c in shown["campaigns"] if c["campaign"] == "q1"]
    assert [s["state"] for s in q1["steps"]] == ["delivered", "planned"] or q1["steps"][0]["state"] == "sent"
    assert any(h.startswith("due ") for h in q1["steps"][1]["holds"])
    failed = json.loads(cli("jobs", "list", "--json"))
    assert [(j["recipient"], j["status"]) for j in failed] == [("carl@corp-z.com", "failed")]
    assert "first_name" in failed[0]["reason"] and "no fallback" in failed[0]["reason"]
    assert "carl@corp-z.com" in cli("jobs", "list", "--status", "failed")


# --- 3. life cycle -----------------------------------------------------------------------------------


def test_campaign_and_lead_life_cycle(cli: Run, tmp_path: Path) -> None:
    _world(cli, tmp_path)
    cli("campaign", "add", "acme", "q1", "--direction", "sales", "--step", "first", "--step", "bump:3")
    cli("campaign", "edit-step", "acme", "q1", "2", "bump:5")
    assert "first bump:5" in cli("campaign", "list", "acme")
    cli("campaign", "start", "acme", "q1")
    assert "paused" in cli("leads", "pause", "acme", "bob@corp-y.com", "--reason", "out of office")
    _drain(cli, 3)
    bob = json.loads(cli("leads", "show", "acme", "bob@corp-y.com", "--json"))
    assert bob["lead"]["status"] == "paused" and bob["campaigns"][0]["steps"][0]["state"] == "planned"
    assert "resumed" in cli("leads", "resume", "acme", "bob@corp-y.com")
    assert "finished" in cli("leads", "finish", "acme", "bob@corp-y.com", "--reason", "meeting booked")
    assert "removed from q1" in cli("leads", "remove", "acme", "ann@corp-x.com", "--campaign", "q1")
    assert "stopped" in cli("campaign", "stop", "acme", "q1", "--reason", "client ended it")
    assert json.loads(cli("campaign", "list", "acme", "--json"))[0]["status"] == "stopped"
    cli("tenant", "update", "acme", "--hourly", "90", "--timezone", "Europe/Berlin", "--overlap", "skip")
    tenant = json.loads(cli("tenant", "list", "--json"))[0]
    assert (tenant["quotas"]["hourly"], tenant["window"]["timezone"], tenant["overlap"]) == (
        90,
        "Europe/Berlin",
        "skip",
    )
    cli("identity", "update", "acme", "ann-long-identity-name", "--daily-cap", "80", "--name", "Ann Lee")
    identity = json.loads(cli("identity", "list", "acme", "--json"))[0]
    assert (identity["daily_cap"], identity["display_name"]) == (80, "Ann Lee")


def test_lifting_a_suppression_says_whether_the_lead_goes_on(cli: Run, tmp_path: Path) -> None:
    _world(cli, tmp_path)
    cli("campaign", "add", "acme", "q1", "--direction", "sales", "--step", "first", "--step", "bump:3")
    cli("campaign", "start", "acme", "q1")
    _drain(cli, 3)
    cli("suppress", "add", "acme", "ann@corp-x.com", "--kind", "unsubscribe", "--reason", "asked by phone")
    out = cli("suppress", "remove", "acme", "ann@corp-x.com", "--reason", "re-subscribed")
    assert (
        "removed from acme's list" in out and "the lead stays unsubscribed" in out and "--reactivate" in out
    )
    cli("suppress", "add", "acme", "ann@corp-x.com", "--kind", "unsubscribe")
    out = cli("suppress", "remove", "acme", "ann@corp-x.com", "--reason", "re-subscribed", "--reactivate")
    assert "the lead is active again; 1 next steps scheduled in q1" in out
    assert json.loads(cli("leads", "show", "acme", "ann@corp-x.com", "--json"))["lead"]["status"] == "active"


# --- 4. A/B and 5. holidays -----------------------------------------------------------------------------


def test_ab_variants_and_holidays(cli: Run, tmp_path: Path) -> None:
    _world(cli, tmp_path, leads="email,country\n" + "".join(f"l{n}@corp-{n}.com,DE\n" for n in range(12)))
    cli("template", "add", "acme", "first-b", "--subject", "Idea for {{company|you}}", "--text-file",
        str(_write(tmp_path / "b.txt", "Variant B.")))  # fmt: skip
    cli("campaign", "add", "acme", "ab", "--direction", "sales", "--step", "first=3,first-b=1")
    holidays = json.loads(
        cli(
            "tenant",
            "holidays",
            "acme",
            "--country",
            "GB",
            "--lead-country",
            "Germany",
            "--add",
            "2027-12-24=Christmas Eve",
            "--json",
        )
    )
    assert holidays["countries"] == ["GB"] and holidays["lead_countries"] == ["DE"]
    assert holidays["custom"] == {"2027-12-24": "Christmas Eve"}
    assert "Tag der Deutschen Einheit" in str(holidays["days"]["DE"]) or "German Unity Day" in str(
        holidays["days"]["DE"]
    )
    cli("campaign", "start", "acme", "ab")
    status = _drain(cli, 4)
    variants = {v["figures"]["template"]: v["figures"]["sent"] for v in status["variants"]}  # type: ignore[index, union-attr]
    assert set(variants) == {"first", "first-b"} and sum(variants.values()) in range(1, 13)
    assert "no winner yet: fewer than 100 sends" in next(iter(status["verdicts"].values()))  # type: ignore[union-attr]
    assert "A/B variants" in cli("status")
    cli("report", "--out", str(tmp_path / "r.html"))
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<h2>A/B variants</h2>" in page and "first-b" in page
    # The forecast skips a closed day and names it: a custom one today (the CLI's clock is the wall's).
    from datetime import UTC, datetime

    today = datetime.now(UTC).date()
    cli("tenant", "holidays", "acme", "--add", f"{today}=Office move")
    cli("campaign", "add", "acme", "later", "--direction", "sales", "--step", "first")
    forecast = json.loads(cli("campaign", "forecast", "acme", "later", "--json"))
    assert {"day": str(today), "name": "Office move"} in forecast["holidays"]
    assert forecast["remaining_messages"] == 12 and forecast["finish"] > str(today)
    assert "closed: Office move" in cli("campaign", "forecast", "acme", "later")


# --- 7. CSV ---------------------------------------------------------------------------------------------


def test_csv_semicolons_utf16_and_cp1252(cli: Run, tmp_path: Path) -> None:
    _world(cli, tmp_path, leads="email\nzed@corp-q.com\n")
    semicolons = _write(tmp_path / "excel.csv", "email;first_name;company\nann@corp-x.com;Ann;Corp X\n")
    assert "imported 1 leads" in cli("leads", "import", "acme", str(semicolons))
    utf16 = tmp_path / "unicode.txt"
    utf16.write_bytes("email\tfirst_name\nолег@corp-r.com\tОлег\nbob@corp-y.com\tBøb\n".encode("utf-16"))
    out = " ".join(cli("leads", "import", "acme", str(utf16)).split())
    # The Cyrillic local part is refused (SES has no SMTPUTF8) with its line; the other row is in.
    assert "imported 1 leads" in out and "1 rows rejected" in out
    latin = tmp_path / "old.csv"
    latin.write_bytes("email,first_name\nrene@corp-s.com,René\n".encode("cp1252"))
    cli("leads", "import", "acme", str(latin), "--encoding", "cp1252")
    lead = json.loads(cli("leads", "show", "acme", "rene@corp-s.com", "--json"))["lead"]
    assert lead["first_name"] == "René"
    columns = {c["column"]: c for c in json.loads(cli("leads", "columns", "--json"))}
    assert "surname" in columns["last_name"]["aliases"] and set(columns) >= {"email", "timezone", "country"}
    sample = Path(__file__).resolve().parents[2] / "docs" / "samples" / "leads.csv"
    assert "imported 3 leads" in cli("leads", "import", "acme", str(sample), "--list", "sample")


# --- 6. one CLI convention ------------------------------------------------------------------------------


def _commands() -> list[tuple[list[str], object]]:
    from typer._click.core import Context
    from typer.main import get_command

    root = get_command(app)
    found: list[tuple[list[str], object]] = []

    def walk(command: object, path: list[str], ctx: Context) -> None:
        if hasattr(command, "commands"):
            for name in command.list_commands(ctx):  # type: ignore[attr-defined]
                walk(command.get_command(ctx, name), [*path, name], ctx)  # type: ignore[attr-defined]
        else:
            found.append((path, command))

    walk(root, [], Context(root))
    return found


def test_every_command_has_help_proper_metavars_and_every_list_command_json(cli: Run, tmp_path: Path) -> None:
    from typer._click.core import Context

    _world(cli, tmp_path)
    cli("campaign", "add", "acme", "q1", "--direction", "sales", "--step", "first")
    commands = _commands()
    assert len(commands) > 60
    values = {"TENANT": "acme", "CAMPAIGN": "q1", "EMAIL": "ann@corp-x.com", "TEMPLATE": "first",
              "DOMAIN": "acme-mail.example.com", "IDENTITY": "ann-long-identity-name"}  # fmt: skip
    with_json: list[str] = []
    for path, command in commands:
        name = "outreach " + " ".join(path)
        assert (command.help or "").strip(), f"{name} has no help"  # type: ignore[attr-defined]
        ctx = Context(command)  # type: ignore[arg-type]
        for param in command.get_params(ctx):  # type: ignore[attr-defined]
            shown = param.display_type_rich(ctx) or ""
            assert not shown.startswith("<"), (name, param.name, shown)  # `<bool>`, `<str>`: not a metavar
            assert param.metavar is not None, (name, param.name)
        options = {o for p in command.params for o in getattr(p, "opts", ())}  # type: ignore[attr-defined]
        if path[-1] in (
            "list",
            "skipped",
            "domains",
            "kinds",
            "uncertain",
            "columns",
            "show",
            "status",
            "forecast",
        ):
            assert "--json" in options, f"{name} has no --json"
        if "--json" not in options or path[0] == "simulate":  # simulate --json: tests/e2e/test_cli.py
            continue
        if path[:2] == ["inbox", "show"]:  # needs a received message: tests/e2e/test_mailbox_cli.py
            continue
        args = [
            values.get(p.metavar or "", "x")
            for p in command.params  # type: ignore[attr-defined]
            if p.param_type_name == "argument" and p.required
        ]
        json.loads(cli(*path, *args, "--json"))
        with_json.append(name)
    assert len(with_json) >= 25, with_json
    for path in (
        ["tenant", "add"],
        ["run"],
        ["campaign", "add"],
        ["suppress", "remove"],
    ):  # as a person sees it
        page = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"}).output
        assert "<bool>" not in page and "<str>" not in page and "<int>" not in page, page
    tenant_help = CliRunner().invoke(app, ["tenant", "add", "--help"], env={"COLUMNS": "100"}).output
    assert re.search(r"--timezone +TZ ", tenant_help) and re.search(r"--start +HH:MM ", tenant_help)
    root_help = CliRunner().invoke(app, ["--help"]).output
    assert "--install-completion" in root_help and "--show-completion" in root_help


def test_tables_stay_readable_at_80_columns_and_the_worker_speaks_plainly(cli: Run, tmp_path: Path) -> None:
    _world(cli, tmp_path)
    cli("identity", "add", "acme", "ann-second-identity", "--email", "ann2@acme-mail.example.com")
    cli("campaign", "add", "acme", "q1", "--direction", "sales", "--step", "first")
    cli("campaign", "start", "acme", "q1")
    passes = []
    for _ in range(4):
        passes.append(cli("run", "--once"))
        time.sleep(1.05)
    worker = [line for out in passes for line in out.splitlines() if not line.startswith("worker running")]
    assert worker and not any("{" in line or "'" in line for line in worker)  # no Python dicts
    assert any(" planned " in line for line in worker) and any(" sent " in line for line in worker), worker
    status = cli("status")
    assert "acme/ann-long-identity-name" in status and "acme/ann-second-identity" in status
    assert "…" not in status
    assert all(len(line) <= 80 for line in status.splitlines())
    assert "acme/q1" in status and ("waiting" in status or "sending" in status)


# --- 8. init keeps client data out of git -------------------------------------------------------------


def test_init_makes_what_it_says(cli: Run, tmp_path: Path) -> None:
    out = cli("init")
    ws = tmp_path / "ws"
    assert (ws / "outreach.db").exists() and (ws / "archive").is_dir() and (ws / "outreach.env").exists()
    assert (ws / ".gitignore").read_text().strip().endswith("*")
    assert "outreach.db" in out and ".gitignore" in out


def test_the_demo_tables_keep_campaign_ids_whole_at_80_columns() -> None:
    import io

    from rich.console import Console

    from entrypoints.cli.render import demo_tables

    figures = dict.fromkeys(
        ("leads", "jobs_planned", "sent", "delivered", "bounced", "complained", "replied", "suppressed",
         "failed", "dead_lettered", "duplicate_sends", "sends_to_suppressed", "non_terminal_jobs",
         "virtual_days", "wall_seconds", "cancelled"),
        1452,
    )  # fmt: skip
    campaigns = [
        {**figures, "campaign": f"northwind/{name}", "status": "completed: every sequence is over"}
        for name in ("audit-q1", "dash-q1")
    ]
    summary = {**figures, "tenants": [{**figures, "tenant": "northwind"}], "campaigns": campaigns,
               "paused_campaigns": [], "blocked_identities": []}  # fmt: skip
    out = io.StringIO()
    demo_tables(Console(file=out, width=80), summary)
    text = out.getvalue()
    assert "northwind/audit-q1" in text and "northwind/dash-q1" in text and "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
