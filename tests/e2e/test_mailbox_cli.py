"""The mailbox features as an operator meets them, through the `outreach` CLI on a local workspace: an
identity connected to its own SMTP account (aiosmtpd) and IMAP mailbox (dovecot), `run --once`,
`status` and `report` saying "accepted by the server" instead of a 0% delivery rate, a reply read by
`inbox poll`, and a webhook delivered to a receiver that verifies it."""

from __future__ import annotations

import email
import json
import time
from collections.abc import Iterator
from email.utils import format_datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from entrypoints.cli.app import app
from tests.imap_server import Dovecot, dovecot
from tests.smtp_sink import Authenticator, SinkHandler, start_sink
from tests.webhook_receiver import webhook_receiver

ALL_DAY = ["--days", "mon,tue,wed,thu,fri,sat,sun", "--start", "00:00", "--end", "00:00"]
BOUNCES = Path(__file__).resolve().parents[1] / "corpus" / "bounces"
REP, SMTP_PW, IMAP_PW, HOOK = "ann@acme-mail.com", "smtp-pw-cli-1x", "imap-pw-cli-2y", "hook-secret-cli-3z"


@pytest.fixture
def imap() -> Iterator[Dovecot]:
    with dovecot({REP: IMAP_PW}) as server:
        yield server


def test_an_smtp_identity_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, imap: Dovecot
) -> None:
    monkeypatch.setenv("OUTREACH_PLANNER_HORIZON_S", "1")
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("ANN_SMTP", SMTP_PW)
    monkeypatch.setenv("ANN_IMAP", IMAP_PW)
    monkeypatch.setenv("ACME_HOOK", HOOK)
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> str:
        result = runner.invoke(app, ["--workspace", str(tmp_path), *args])
        if ok:
            assert result.exit_code == 0, result.output
        return result.output

    sink = SinkHandler()
    controller = start_sink(sink, authenticator=Authenticator(REP, SMTP_PW), auth_require_tls=False)
    try:
        with webhook_receiver(HOOK, now=lambda: int(time.time())) as receiver:
            (tmp_path / "first.txt").write_text(
                "Hi {{first_name|there}}, a quick question.", encoding="utf-8"
            )
            (tmp_path / "leads.csv").write_text("email,first_name\nlee@corp-x.com,Lee\nmo@corp-y.com,Mo\n")
            run("init")
            run("tenant", "add", "acme", "--name", "Acme", "--address", "1 Main Street, Springfield",
                "--hourly", "36000", *ALL_DAY)  # fmt: skip
            run("direction", "add", "acme", "sales", "--name", "Sales")
            run("identity", "add", "acme", "ann", "--email", REP, "--name", "Ann")
            smtp = ["--smtp-host", "127.0.0.1", "--smtp-port", str(controller.port), "--smtp-tls", "none"]
            mailbox = ["--imap-host", "127.0.0.1", "--imap-port", str(imap.port), "--imap-tls", "none"]
            # one command: the IMAP login has its own password here, so its own reference
            connect = ["identity", "connect", "acme", "ann", *smtp, *mailbox, "--username", REP]
            run(*connect, "--secret-ref", "env:ANN_SMTP", "--imap-secret-ref", "env:ANN_IMAP")
            run(
                "template",
                "add",
                "acme",
                "t1",
                "--subject",
                "Question",
                "--text-file",
                str(tmp_path / "first.txt"),
            )
            run("campaign", "add", "acme", "spring", "--direction", "sales", "--step", "t1")
            run("leads", "import", "acme", str(tmp_path / "leads.csv"))
            run("campaign", "start", "acme", "spring")
            run("webhooks", "add", "acme", "crm", "--url", receiver.url, "--secret-ref", "env:ACME_HOOK")
            for _ in range(6):
                run("run", "--once")
                if len(sink.messages) == 2:
                    break
                time.sleep(1.1)
            assert sorted(m.recipients[0] for m in sink.messages) == ["lee@corp-x.com", "mo@corp-y.com"]
            status = run("status")
            tenant_row = next(line for line in status.splitlines() if "acme" in line and "n/a (SMTP)" in line)
            assert "accepted" in status and "0.0%" not in tenant_row.split("n/a (SMTP)")[0]
            assert "accepted by the receiving server" in status
            report = tmp_path / "report.html"
            run("report", "--out", str(report))
            assert "accepted by the server" in report.read_text()
            # Lee answers; the mailbox is read, the reply filed and the sequence stopped
            sent = email.message_from_bytes(
                next(m.content for m in sink.messages if m.recipients == ["lee@corp-x.com"])
            )
            reply = (
                f"From: Lee <lee@corp-x.com>\r\nTo: {REP}\r\nSubject: Re: Question\r\n"
                f"Date: {format_datetime(email.utils.localtime())}\r\nMessage-ID: <r1@corp-x.com>\r\n"
                f"In-Reply-To: {sent['Message-ID']}\r\n\r\nSounds interesting, let's talk next week.\r\n"
            ).encode()
            imap.deliver(REP, reply)
            assert "replies 1" in run("inbox", "poll")
            # Mo's address bounces: the report comes back to the mailbox, and only then is it counted
            original = email.message_from_bytes(
                next(m.content for m in sink.messages if m.recipients == ["mo@corp-y.com"])
            )
            bounce = (
                (BOUNCES / "qmail_text.eml").read_text().replace("{{FROM}}", REP)
                .replace("{{TO}}", "mo@corp-y.com").replace("{{MESSAGE_ID}}", original["Message-ID"])
            )  # fmt: skip
            imap.deliver(REP, bounce.replace("\n", "\r\n").encode())
            assert "bounces 1" in run("inbox", "poll")
            reported = run("status")
            assert "delivered (reported)" in reported and "bounced (reported)" in reported
            [tenant] = json.loads(run("status", "--json"))["tenants"]
            assert tenant["jobs"].get("bounced") == 1 and "delivered" not in tenant["jobs"]
            run("report", "--out", str(report))
            assert "bounced (reported)" in report.read_text()
            [entry] = json.loads(run("inbox", "list", "acme", "--json", "--category", "interested"))
            assert (entry["category"], entry["from"]) == ("interested", "lee@corp-x.com")
            assert "Sounds interesting" in run("inbox", "show", "acme", entry["id"])
            [tenant] = json.loads(run("status", "--json"))["tenants"]
            # the bounce is filed already handled: its effect is applied and nobody has to answer it
            assert tenant["inbox_unhandled"] == 1 and tenant["smtp_accepted"] == 2
            run("inbox", "handled", "acme", entry["id"])
            assert json.loads(run("status", "--json"))["tenants"][0]["inbox_unhandled"] == 0
            run("run", "--once")  # delivers the webhooks the reply and the bounce set off
            deliveries = json.loads(run("webhooks", "list", "acme", "--json"))
            events = ["lead.bounced", "lead.interested", "reply.received"]
            assert sorted(d["event"] for d in deliveries) == events
            assert {d["status"] for d in deliveries} == {"delivered"}
            assert all(r.verified for r in receiver.requests) and len(receiver.requests) == 3
            identities = run("identity", "list", "acme", "--json")
            for secret in (SMTP_PW, IMAP_PW, HOOK):
                assert secret not in identities + status
                assert secret.encode() not in (tmp_path / "outreach.db").read_bytes()
    finally:
        controller.stop()
