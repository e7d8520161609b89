"""F1, F10, F11, F12: the command line on real workspaces (SQLite, a local SMTP sink)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from typer.testing import CliRunner

from entrypoints.cli.app import app
from outreach_core.rendering.unsubscribe import verify
from tests.hostile.world import TENANT, workspace_world
from tests.smtp_sink import SinkHandler, start_sink

BUILT_IN = "dev-only-change-me"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from a directory of our own, with no workspace in the environment and the test's logging."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OUTREACH_WORKSPACE", raising=False)
    monkeypatch.delenv("OUTREACH_UNSUBSCRIBE_SECRET", raising=False)
    monkeypatch.delenv("OUTREACH_MAILER", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr("entrypoints.cli.app.configure_logging", lambda *a, **k: None)


@pytest.fixture
def sink() -> Iterator[tuple[SinkHandler, int]]:
    handler = SinkHandler()
    controller = start_sink(handler)
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def run_until_sent(workspace: Path, port: int, handler: SinkHandler) -> tuple[int, str]:
    code, out = 0, ""
    for _ in range(10):  # the first slot is at most a second or two away
        code, out = cli(
            "--workspace", str(workspace), "run", "--once", "--mailer", "smtp", "--smtp-port", str(port)
        )
        if code != 0 or handler.messages:
            break
        time.sleep(0.5)
    return code, out


# --- F1: the workspace decides the env file, and real mail never carries the built-in secret -------


def test_f1_workspace_option_loads_that_workspaces_secret(tmp_path: Path, sink) -> None:  # type: ignore[no-untyped-def]
    handler, port = sink
    workspace = tmp_path / "clients" / "acme-ws"
    assert cli("--workspace", str(workspace), "init")[0] == 0
    secret = re.search(r"OUTREACH_UNSUBSCRIBE_SECRET=(\S+)", (workspace / "outreach.env").read_text())
    assert secret is not None
    workspace_world(workspace)

    code, out = run_until_sent(workspace, port, handler)

    assert code == 0, out
    [received] = handler.messages
    link = message_from_bytes(received.content)["List-Unsubscribe"].strip("<>")
    token = link.rsplit("/", 1)[1]
    assert verify([secret.group(1)], token) is not None, "signed with the workspace's own secret"
    assert verify([BUILT_IN], token) is None


def test_f1_real_mail_refuses_the_built_in_secret(tmp_path: Path, sink) -> None:  # type: ignore[no-untyped-def]
    handler, port = sink
    workspace = tmp_path / "no-secret"
    workspace_world(workspace)  # a workspace whose outreach.env never got a secret

    code, out = run_until_sent(workspace, port, handler)

    assert code == 1 and out.startswith("error: run: OUTREACH_UNSUBSCRIBE_SECRET is not set"), out
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out
    assert handler.messages == []


def test_f1_ses_refuses_the_built_in_secret_and_it_verifies_nothing(tmp_path: Path) -> None:
    from entrypoints.settings import Settings

    settings = Settings(workspace=tmp_path, backend="aws")
    with pytest.raises(ValueError, match="OUTREACH_UNSUBSCRIBE_SECRET"):
        settings.sending_secret()
    assert BUILT_IN not in settings.unsubscribe_secrets
    assert BUILT_IN not in Settings(workspace=tmp_path, mailer="smtp").unsubscribe_secrets
    assert Settings(workspace=tmp_path).sending_secret() == BUILT_IN  # the simulator may


def test_f1_the_sender_lambda_does_not_start_on_the_built_in_secret() -> None:
    env = {
        **os.environ,
        "OUTREACH_BACKEND": "aws",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "OUTREACH_AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "OUTREACH_JOB_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
    }
    env.pop("OUTREACH_UNSUBSCRIBE_SECRET", None)
    cold_start = subprocess.run(
        [sys.executable, "-c", "import entrypoints.aws.sender"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    assert cold_start.returncode != 0
    assert "OUTREACH_UNSUBSCRIBE_SECRET is not set" in cold_start.stderr


def test_f1_run_without_init_is_an_error_not_the_built_in_secret(tmp_path: Path) -> None:
    code, out = cli("run", "--once")
    assert code == 1 and "no workspace at" in out and "outreach init" in out
    assert not (tmp_path / ".outreach").exists()


# --- F10: step delays and caps --------------------------------------------------------------------


@pytest.mark.parametrize("step", ["t1:1e308", "t1:-3", "t1:nan", "t1:inf", "t1:366"])
def test_f10_a_step_delay_out_of_range_is_one_clear_line(tmp_path: Path, step: str) -> None:
    workspace_world(tmp_path / "ws")
    code, out = cli("--workspace", str(tmp_path / "ws"), "campaign", "add", TENANT, "c2", "--direction",
                    "sales", "--step", step)  # fmt: skip
    assert code == 1 and out.startswith("error: campaign add: step 1: delay"), out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1


def test_f10_a_daily_cap_of_zero_is_refused(tmp_path: Path) -> None:
    workspace_world(tmp_path / "ws")
    code, out = cli("--workspace", str(tmp_path / "ws"), "identity", "add", TENANT, "zed", "--email",
                    "zed@acme-mail.com", "--daily-cap", "0")  # fmt: skip
    assert code == 1 and "daily cap 0" in out and "identity pause" in out


# --- F11: validation messages are shown as they are -----------------------------------------------


def test_f11_the_pattern_in_a_validation_message_is_not_eaten_as_markup(tmp_path: Path) -> None:
    assert cli("--workspace", str(tmp_path / "ws"), "init")[0] == 0
    code, out = cli("--workspace", str(tmp_path / "ws"), "tenant", "add", "Bad Id", "--name", "X",
                    "--address", "1 Main Street")  # fmt: skip
    assert code == 1
    assert out.strip() == "error: tenant add: id: String should match pattern '^[a-z0-9][a-z0-9-]{0,62}$'"


def test_f11_the_readme_quotes_the_line_the_cli_prints(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quoted = re.search(r"Bad input is one clear line \(`(error: [^`]+)`\)", readme)
    assert quoted is not None, "README names the example error line"
    cli("--workspace", str(tmp_path / "ws"), "init")
    _, out = cli("--workspace", str(tmp_path / "ws"), "tenant", "add", "Bad Id", "--name", "X",
                 "--address", "1 Main Street")  # fmt: skip
    assert out.strip() == quoted.group(1)


# --- F12: unknown names and bad addresses are errors, and nothing is written for them ---------------


@pytest.mark.parametrize(
    "args",
    [
        ("suppress", "add", "nosuch", "x@example.com"),
        ("status", "--tenant", "nosuch"),
        ("report", "--tenant", "nosuch"),
        ("audit", "list", "nosuch"),
        ("campaign", "start", "acmee", "spring"),
        ("campaign", "list", "nosuch"),
        ("jobs", "uncertain", "--tenant", "nosuch"),
        ("suppress", "list", "nosuch"),
        ("suppress", "erase", "nosuch", "x@example.com", "--reason", "r"),
    ],
)
def test_f12_an_unknown_tenant_is_an_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    workspace = tmp_path / "ws"
    app_ = workspace_world(workspace)
    code, out = cli("--workspace", str(workspace), *args)
    assert code == 1 and re.search(r"no tenant '(nosuch|acmee)'", out), out
    assert app_.services.records().store.query("T#nosuch", "") == []


def test_f12_a_suppression_needs_an_address(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    app_ = workspace_world(workspace)
    code, out = cli("--workspace", str(workspace), "suppress", "add", TENANT, "not an email at all")
    assert code == 1 and "'not an email at all' is not an email address" in out
    assert app_.services.records().suppressions(*_tenant_scope()) == []


def test_f12_status_without_a_workspace_creates_nothing(tmp_path: Path) -> None:
    code, out = cli("--workspace", str(tmp_path / "typo"), "status")
    assert code == 1 and "no workspace at" in out
    assert not (tmp_path / "typo").exists()


def _tenant_scope() -> tuple[object, str]:
    from outreach_core.domain.suppression import SuppressionScope

    return SuppressionScope.TENANT, TENANT
