"""Crash test: the sender process is killed between `sending` and `sent`. The email went out once and
is never sent again; the job is listed as uncertain for a person to resolve."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from entrypoints.cli.app import app as cli
from entrypoints.container import build
from entrypoints.settings import Settings
from entrypoints.worker import LocalWorker
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import CampaignStep
from tests.harness import ALWAYS
from tests.smtp_sink import SinkHandler, start_sink

ROOT = Path(__file__).resolve().parents[2]


def test_a_sender_killed_mid_send_never_sends_twice(tmp_path: Path) -> None:
    handler = SinkHandler()
    controller = start_sink(handler)
    env = {
        **os.environ,
        "OUTREACH_WORKSPACE": str(tmp_path),
        "OUTREACH_MAILER": "smtp",
        "OUTREACH_SMTP_HOST": "127.0.0.1",
        "OUTREACH_SMTP_PORT": str(controller.port),
        "OUTREACH_SENDER_LEASE_S": "2",
        "OUTREACH_PLANNER_HORIZON_S": "1",
        "OUTREACH_LOG_LEVEL": "ERROR",
        "OUTREACH_UNSUBSCRIBE_SECRET": "crash-test-secret",
    }
    settings = Settings(
        workspace=tmp_path,
        mailer="smtp",
        smtp_port=controller.port,
        sender_lease_s=2,
        planner_horizon_s=1,
        unsubscribe_secret="crash-test-secret",
    )
    try:
        app = build(settings)
        admin = app.services.admin()
        admin.add_tenant("acme", "Acme", "1 Main Street, Springfield", window=ALWAYS)
        admin.add_direction("acme", "sales", "Sales")
        admin.add_identity("acme", "ann", "ann@acme-mail.com")
        admin.add_template("acme", "t1", "Hello {{first_name|there}}", "A short note.")
        admin.add_campaign("acme", "spring", "sales", [CampaignStep(number=1, template_id="t1")])
        app.services.leads().import_csv("acme", b"email,first_name\nbob@corp-x.com,Bob\n")
        admin.start_campaign("acme", "spring")
        app.services.planner().tick()
        time.sleep(1.2)  # past the (1 s) slot

        # GIVEN a worker process that dies by SIGKILL right after the SMTP server accepted the message
        child = subprocess.run(
            [sys.executable, "-m", "tests.integration.crash_worker"],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=60,
        )
        assert child.returncode == -9, child.stderr.decode()[-2000:]
        assert len(handler.messages) == 1
        [job] = app.services.records().jobs("acme")
        assert job.status is JobStatus.SENDING

        # WHEN a fresh worker runs after the lease and the message's visibility have run out
        time.sleep(2.5)
        worker = LocalWorker.from_app(app)
        for _ in range(3):
            worker.run_once()
            time.sleep(0.3)

        # THEN nothing was sent again, and the job waits for a person as `uncertain`
        assert len(handler.messages) == 1
        [job] = app.services.records().jobs("acme")
        assert job.status is JobStatus.UNCERTAIN
        listed = CliRunner().invoke(
            cli, ["--workspace", str(tmp_path), "jobs", "uncertain"], env={"COLUMNS": "200"}
        )
        assert listed.exit_code == 0 and job.job_id in listed.output
    finally:
        controller.stop()
