"""List hygiene and do-not-contact domains from the command line (offline resolver: no DNS)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from entrypoints.cli.app import app


def test_skipped_leads_are_reported_listed_and_counted(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--workspace", str(tmp_path), *args])
        assert result.exit_code == code, result.output
        return result.output

    run("init")  # commands need a workspace that exists (issue 12)
    run("tenant", "add", "acme", "--name", "Acme", "--address", "1 Main Street, Springfield")
    assert "role accounts flag, typo domains skip" in run("tenant", "hygiene", "acme")
    assert "role accounts skip" in run("tenant", "hygiene", "acme", "--role-accounts", "skip")
    run("tenant", "hygiene", "acme", "--typos", "sometimes", code=1)
    assert "do-not-contact for acme" in run(
        "suppress", "add-domain", "acme", "rival.example", "--reason", "competitor"
    )
    assert "rival.example" in run("suppress", "domains", "acme")
    (tmp_path / "leads.csv").write_text(
        "email\nann@corp-x.com\ninfo@corp-x.com\nbob@mailinator.com\ncat@sales.rival.example\n"
        "dan@outlok.com\nnot-an-email\n",
        encoding="utf-8",
    )
    out = run("leads", "import", "acme", str(tmp_path / "leads.csv"))
    assert "imported 1 leads" in out and "4 skipped by list hygiene" in out and "1 rows rejected" in out
    assert "Skipped by list hygiene" in out and "did you mean dan@outlook.com?" in out
    listed = run("leads", "skipped", "acme")
    for email, why in (
        ("info@corp-x.com", "role_account"),
        ("bob@mailinator.com", "disposable"),
        ("cat@sales.rival.example", "do_not_contact"),
        ("dan@outlok.com", "typo_domain"),
    ):
        assert any(email in line and why in line for line in listed.splitlines()), (email, listed)
    status = run("status", "--tenant", "acme")
    assert "Skipped by list hygiene" in status and "do_not_contact" in status
    assert "removed" in run("suppress", "remove-domain", "acme", "rival.example")
    run("suppress", "remove-domain", "acme", "rival.example", code=1)
