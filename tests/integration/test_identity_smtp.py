"""Two identities with their own SMTP accounts send through their own servers (two aiosmtpd sinks,
each with its own login), each within its own daily cap, over one pooled connection each; no secret
appears in the logs, `status` or the state store (issue 14's third acceptance item)."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from entrypoints.log_setup import configure_logging
from tests.imap_server import Dovecot, dovecot
from tests.mail_world import IMAP_PASSWORDS, IMAP_USERS, PASSWORDS, TENANT, mail_world

SECRETS = [*PASSWORDS.values(), *IMAP_PASSWORDS.values()]


@pytest.fixture
def imap() -> Iterator[Dovecot]:
    with dovecot(IMAP_USERS) as server:
        yield server


def test_each_identity_sends_through_its_own_server_within_its_own_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, imap: Dovecot, capfd: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", json=True)  # everything a deployment could log, into capfd
    with mail_world(tmp_path, monkeypatch, imap, leads=10, caps=(2, 3)) as world:
        outcomes = world.h.tick_and_send()
        assert outcomes.count("sent") == 5  # 2 + 3: each identity's cap for the day
        for n, cap in ((0, 2), (1, 3)):
            messages = world.sinks[n].handler.messages
            assert len(messages) == cap
            senders = {email.message_from_bytes(m.content)["From"] for m in messages}
            assert senders == {f"Rep {n} <{world.identity_email(n)}>"}
            assert {m.sender for m in messages} == {world.identity_email(n)}  # envelope too
            assert world.sinks[n].handler.connections == 1  # one pooled connection for all its sends
        jobs = world.h.records.jobs(TENANT)
        sent = [j for j in jobs if j.sent_at]
        assert {j.transport for j in sent} == {"smtp"}
        assert sorted(j.sender_id for j in sent) == ["id0", "id0", "id1", "id1", "id1"]
        # a day on (the caps are rolling 24-hour windows) each identity has its cap again
        assert world.later(days=1.1).count("sent") == 5
        assert [len(world.sinks[n].handler.messages) for n in (0, 1)] == [4, 6]
        world.deliver(world.leads[0], world.reply(world.leads[0], "Sounds good, send me more"))
        assert world.poll().replies == 1
        status = json.dumps(asdict(world.h.app.services.status().report()), default=str)
        stored = json.dumps(
            [(i.partition, i.sort, i.data) for i in world.h.store.items.values()], default=str
        )
    logs = capfd.readouterr()
    assert '"job.sent"' in logs.err  # the logs were captured
    for secret in SECRETS:
        assert secret not in logs.out + logs.err
        assert secret not in status
        assert secret not in stored
    assert "env:ACME_REP0_SMTP" in stored  # the reference is what is kept


def test_a_missing_secret_pauses_sending_through_that_identity_and_says_which_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, imap: Dovecot
) -> None:
    with mail_world(tmp_path, monkeypatch, imap, leads=4) as world:
        monkeypatch.delenv("ACME_REP0_SMTP")
        world.h.tick_and_send()
        jobs = world.h.records.jobs(TENANT)
        # held back an hour (parked beyond the queue's 15-minute delay), never failed, never lost
        waiting = [j for j in jobs if not j.sent_at]
        assert waiting and all(j.status.value in ("queued", "planned") for j in waiting)
        assert all("env:ACME_REP0_SMTP" in j.status_reason for j in waiting)
        assert all(PASSWORDS[0] not in j.status_reason for j in jobs)
        assert not world.sinks[0].handler.messages
        report = world.poll()  # the IMAP side is unaffected
        assert report.errors == []


def test_the_cli_connects_an_identity_and_shows_no_secret(tmp_path: Path) -> None:
    from entrypoints.cli.app import app

    runner = CliRunner()
    ws = ["--workspace", str(tmp_path / "ws")]
    assert runner.invoke(app, [*ws, "init"]).exit_code == 0
    for args in (
        ["tenant", "add", "acme", "--name", "Acme", "--address", "1 Main Street, Springfield"],
        ["direction", "add", "acme", "sales", "--name", "Sales"],
        ["identity", "add", "acme", "ann", "--email", "ann@acme-mail.com"],
    ):
        assert runner.invoke(app, [*ws, *args]).exit_code == 0
    refused = runner.invoke(
        app, [*ws, "identity", "connect", "acme", "ann", "--smtp-host", "smtp.gmail.com",
              "--username", "ann@acme-mail.com", "--secret-ref", "hunter2"],
    )  # fmt: skip
    assert refused.exit_code == 1 and "by reference, never by value" in refused.output
    connected = runner.invoke(
        app, [*ws, "identity", "connect", "acme", "ann", "--smtp-host", "smtp.gmail.com", "--imap-host",
              "imap.gmail.com", "--username", "ann@acme-mail.com", "--secret-ref", "env:ANN_APP_PASSWORD"],
    )  # fmt: skip
    assert connected.exit_code == 0, connected.output
    listed = runner.invoke(app, [*ws, "identity", "list", "acme", "--json"])
    [row] = json.loads(listed.output)
    assert (row["sends_via"], row["mailbox"]) == ("smtp smtp.gmail.com:587", "imap imap.gmail.com:993/INBOX")
    xoauth = runner.invoke(
        app, [*ws, "identity", "connect", "acme", "ann", "--smtp-host", "smtp.gmail.com", "--username",
              "ann@acme-mail.com", "--auth", "xoauth2", "--oauth-provider", "google", "--oauth-client-id",
              "123.apps.googleusercontent.com", "--oauth-refresh-token-ref", "file:/run/secrets/ann-refresh"],
    )  # fmt: skip
    assert xoauth.exit_code == 0, xoauth.output
