"""The operator's commands for the feedback loop, on a real (SQLite) workspace, plus the unsubscribe
Lambda handler built at import like the other handlers."""

from __future__ import annotations

import csv
import importlib
import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from entrypoints.cli.app import app
from entrypoints.container import Application, build
from entrypoints.settings import Settings
from outreach_core.domain.ids import lead_id_for
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import CampaignStep, Lead, LeadStatus
from outreach_core.domain.suppression import SuppressionScope
from outreach_core.rendering.unsubscribe import sign

TENANT = "acme"
SECRET = "cli-test-secret"
ANN, BOB = "ann@client.example", "bob@client.example"


@pytest.fixture(autouse=True)
def _keep_test_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI configures logging for a terminal; tests keep theirs (and their log capture)."""
    monkeypatch.setattr("entrypoints.cli.app.configure_logging", lambda *a, **k: None)
    monkeypatch.setattr("entrypoints.log_setup.configure_logging", lambda *a, **k: None)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Application]]:
    monkeypatch.setenv("OUTREACH_WORKSPACE", str(tmp_path))
    monkeypatch.setenv("OUTREACH_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: no wrapping of ids
    application = build(Settings(workspace=tmp_path))
    admin = application.services.admin()
    admin.add_tenant(TENANT, "Acme", "1 Main Street, Springfield")
    admin.add_direction(TENANT, "saas", "SaaS")
    admin.add_identity(TENANT, "ivan", "ivan@acme.example")
    admin.add_template(TENANT, "first", "Hello", "Hi there.")
    admin.add_campaign(TENANT, "spring", "saas", [CampaignStep(number=1, template_id="first")])
    application.services.leads().import_csv(TENANT, f"email\n{ANN}\n{BOB}\n".encode())
    yield tmp_path, application


def run(path: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--workspace", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_suppress_add_remove_export_and_the_audit_log(workspace: tuple[Path, Application]) -> None:
    path, application = workspace
    run(path, "suppress", "add", TENANT, ANN)
    run(path, "suppress", "add-global", "trap@spam.example", "--reason", "known spam trap", "--actor", "dana")
    out = path / "acme.csv"
    run(path, "suppress", "export", TENANT, "--out", str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["email"], r["scope"], r["reason"]) for r in rows] == [(ANN, "tenant", "manual")]
    run(path, "suppress", "remove", TENANT, ANN, "--reason", "added by mistake", "--actor", "dana")
    records = application.services.records()
    assert records.suppression_for(TENANT, ANN) is None
    assert [e.email for e in records.suppressions(SuppressionScope.GLOBAL)] == ["trap@spam.example"]
    listing = run(path, "audit", "list", TENANT, "--action", "suppression.", "--json")
    actions = [(e["action"], e["actor"]) for e in json.loads(listing)]
    assert actions == [("suppression.add", "operator"), ("suppression.remove", "dana")]
    assert [e["action"] for e in json.loads(run(path, "audit", "list", "GLOBAL", "--json"))] == [
        "suppression.add"
    ]
    result = CliRunner().invoke(app, ["--workspace", str(path), "suppress", "remove", ANN, "--reason", "x"])
    assert result.exit_code == 2 and "EMAIL" in result.output  # TENANT EMAIL, as `suppress add` takes them


def test_suppress_erase_keeps_only_the_hash(workspace: tuple[Path, Application]) -> None:
    path, application = workspace
    output = run(path, "suppress", "erase", TENANT, BOB, "--reason", "erasure request #7", "--actor", "dana")
    assert "lead deleted=True" in output
    exported = run(path, "suppress", "export", TENANT)
    (row,) = list(csv.DictReader(io.StringIO(exported)))
    assert row["email"] == "" and row["reason"] == "erasure" and len(row["email_hash"]) == 40
    assert application.services.records().find(Lead, TENANT, lead_id_for(TENANT, BOB)) is None


def test_jobs_resolve_records_a_persons_decision(workspace: tuple[Path, Application]) -> None:
    path, application = workspace
    records = application.services.records()
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    job = MessageJob(
        job_id=f"spring_{lead_id_for(TENANT, ANN)}_1",
        tenant_id=TENANT,
        campaign_id="spring",
        lead_id=lead_id_for(TENANT, ANN),
        step=1,
        template_id="first",
        scheduled_at=now,
        idempotency_key="k" * 32,
        status=JobStatus.UNCERTAIN,
        status_reason="the sender stopped mid-send",
        updated_at=now,
    )
    records.store.write(records.job_op(job, expected_version=0))
    assert job.job_id in run(path, "jobs", "uncertain", "--tenant", TENANT)
    run(
        path,
        "jobs",
        "resolve",
        TENANT,
        job.job_id,
        "--failed",
        "--reason",
        "not in the SES console",
        "--actor",
        "dana",
    )
    resolved = records.job(TENANT, job.job_id)
    assert resolved is not None and resolved.status is JobStatus.FAILED
    listing = run(path, "audit", "list", TENANT, "--action", "job.resolve", "--json")
    (entry,) = json.loads(listing)
    assert (entry["actor"], entry["reason"]) == ("dana", "not in the SES console")
    again = CliRunner().invoke(
        app, ["--workspace", str(path), "jobs", "resolve", TENANT, job.job_id, "--sent", "--reason", "x"]
    )
    assert again.exit_code == 1 and "not uncertain" in again.output


def test_run_with_http_serves_the_endpoints_for_the_pass(workspace: tuple[Path, Application]) -> None:
    path, _ = workspace
    output = run(path, "run", "--once", "--http", "--http-port", "0")
    assert "HTTP endpoints on http://127.0.0.1:" in output


def test_the_unsubscribe_lambda_handles_a_function_url_post(
    workspace: tuple[Path, Application], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = workspace
    monkeypatch.delitem(sys.modules, "entrypoints.aws.unsubscribe", raising=False)
    module = importlib.import_module("entrypoints.aws.unsubscribe")
    token = sign(SECRET, TENANT, lead_id_for(TENANT, ANN))

    def event(method: str, body: str = "") -> dict[str, Any]:
        return {
            "version": "2.0",
            "rawPath": f"/unsubscribe/{token}",
            "rawQueryString": "",
            "headers": {"content-type": "application/x-www-form-urlencoded", "host": "abc.lambda-url.on.aws"},
            "requestContext": {"http": {"method": method, "path": f"/unsubscribe/{token}"}},
            "body": body,
            "isBase64Encoded": False,
        }

    page = module.handler(event("GET"), None)
    assert page["statusCode"] == 200 and '<form method="post"' in page["body"]
    done = module.handler(event("POST", "List-Unsubscribe=One-Click"), None)
    assert done["statusCode"] == 200 and "Set-Cookie" not in done["headers"]
    stored = build(Settings(workspace=path)).services.records().get(Lead, TENANT, lead_id_for(TENANT, ANN))
    assert stored.status is LeadStatus.UNSUBSCRIBED
