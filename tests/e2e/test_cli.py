"""The `outreach` CLI end to end on a local workspace with the simulated SES."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from entrypoints.cli.app import app

ALL_DAY = ["--days", "mon,tue,wed,thu,fri,sat,sun", "--start", "00:00", "--end", "00:00"]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OUTREACH_PLANNER_HORIZON_S", "1")
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> str:
        result = runner.invoke(app, ["--workspace", str(tmp_path), *args])
        if ok:
            assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_a_campaign_from_the_command_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "first.txt").write_text(
        "{Hi|Hello} {{first_name|there}}, a quick question.", encoding="utf-8"
    )
    (tmp_path / "bump.txt").write_text("Just bumping this, {{first_name|friend}}.", encoding="utf-8")
    (tmp_path / "leads.csv").write_text(
        "email,first_name\nann@corp-x.com,Ann\nnot-an-email,Bob\nsuccess@simulator.amazonses.com,Sim\n",
        encoding="utf-8",
    )
    assert "workspace ready" in run("init")
    assert (tmp_path / "outreach.env").read_text().count("OUTREACH_UNSUBSCRIBE_SECRET=") == 1
    run(
        "tenant",
        "add",
        "acme",
        "--name",
        "Acme",
        "--address",
        "1 Main Street, Springfield",
        "--hourly",
        "36000",
        *ALL_DAY,
    )
    run("direction", "add", "acme", "sales", "--name", "Sales")
    run(
        "identity", "add", "acme", "ann", "--email", "ann@acme-mail.com", "--name", "Ann", "--daily-cap", "20"
    )
    run(
        "template",
        "add",
        "acme",
        "t1",
        "--subject",
        "Question for {{company|you}}",
        "--text-file",
        str(tmp_path / "first.txt"),
    )
    run("template", "add", "acme", "t2", "--subject", "", "--text-file", str(tmp_path / "bump.txt"))
    run("campaign", "add", "acme", "spring", "--direction", "sales", "--step", "t1", "--step", "t2:2")
    imported = run("leads", "import", "acme", str(tmp_path / "leads.csv"))
    assert "imported 2 leads" in imported and "1 rows rejected" in imported and "3" in imported
    assert "2 leads enrolled" in run("campaign", "start", "acme", "spring")
    # The second send has its own slot a moment after the first (the queue delays by whole seconds);
    # a loaded machine may need another pass of the worker.
    for _ in range(6):
        run("run", "--once")
        status = json.loads(run("status", "--json"))
        [tenant] = status["tenants"]
        if tenant["jobs"].get("sent", 0) + tenant["jobs"].get("delivered", 0) == 2:
            break
        time.sleep(1.1)
    assert tenant["jobs"].get("sent", 0) + tenant["jobs"].get("delivered", 0) == 2, tenant["jobs"]
    assert [c["status"] for c in status["campaigns"]] == ["running"]
    assert "spring" in run("campaign", "list", "acme")


def test_bad_input_is_one_clear_line(run) -> None:  # type: ignore[no-untyped-def]
    run("init")
    out = run("tenant", "add", "Bad Id", "--name", "X", "--address", "1 Main Street", ok=False)
    assert "tenant add:" in out and "pattern" in out
    out = run("direction", "add", "ghost", "d", "--name", "D", ok=False)
    assert "no tenant 'ghost'" in out
    out = run("campaign", "add", "ghost", "c", "--direction", "d", "--step", "t1:abc", ok=False)
    assert "not a number of days" in out


def test_dead_letters_list_and_redrive(run) -> None:  # type: ignore[no-untyped-def]
    run("init")
    assert "redriven: 0" in run("dlq", "redrive", "--all")
    assert "--id" in run("dlq", "redrive", ok=False)


def test_simulate_prints_figures_and_writes_a_chart(tmp_path: Path) -> None:
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "dirty-list.toml"
    chart = tmp_path / "dirty.html"
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--json", "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)  # the figures on stdout, the logs on stderr
    assert figures["violations"] == 0 and figures["sends_after_block"] == 0
    assert figures["paused_campaigns"] == ["dirty/main"] and figures["chart"] == str(chart)
    page = chart.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<svg" in page
    # One line per tenant (dirty, clean) and per receiving provider the leads are at.
    assert page.count("<polyline") == 2 + len({"google", "microsoft", "other"})
    assert "<th>violations</th><td>0</td>" in page


def test_simulate_prints_pass_or_fail_per_expect_line_and_fails_on_a_fail(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "scenarios" / "dirty-list.toml"
    text = source.read_text(encoding="utf-8").replace("days = 1.0", "days = 0.25")
    text = text.replace('paused = ["dirty/main"]', 'paused = ["dirty/main", "clean/main"]')
    scenario = tmp_path / "wrong.toml"
    scenario.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["simulate", str(scenario), "--chart", str(tmp_path / "c.html")], env={"COLUMNS": "120"}
    )
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("PASS paused: dirty/main") for line in lines), result.output
    assert any(line.startswith("FAIL paused: clean/main") for line in lines), result.output
    assert "the scenario's expectations failed: paused: clean/main" in result.output
