"""XOAUTH2 (Google Workspace, Microsoft 365): the refresh token is exchanged at the token endpoint, the
access token presented to SMTP (aiosmtpd checks the exact XOAUTH2 string) and IMAP (dovecot's oauth2
passdb asks the introspection endpoint); a refused or expired token is refreshed once."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from adapters.imap_mailbox import ImapMailboxes
from adapters.mail_routing import IdentityMailer
from adapters.oauth_tokens import OAuthTokens, TokenError, xoauth2_string
from adapters.secrets import SecretResolver
from outreach_core.domain.accounts import AuthMethod, ImapAccount, OAuthClient, SmtpAccount, TlsMode
from outreach_core.domain.mail import Address, OutboundEmail
from tests.fakes import ManualClock, ScriptedMailer
from tests.imap_server import dovecot
from tests.oauth_server import OAuthProvider, oauth_provider
from tests.smtp_sink import SinkHandler, start_sink

USER = "ann@acme-mail.com"
ENV = {"ANN_REFRESH": "1//refresh-ann-0Xa9", "APP_SECRET": "GOCSPX-app-secret-77"}


class XOAuthSink(SinkHandler):
    """An SMTP server that accepts XOAUTH2 with a live access token only, checking the whole string."""

    def __init__(self, provider: OAuthProvider) -> None:
        super().__init__()
        self.provider = provider
        self.auth_strings: list[str] = []

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        response = args[1] if len(args) > 1 else ""  # [mechanism, initial response]
        decoded = base64.b64decode(response).decode()
        self.auth_strings.append(decoded)
        ok = any(decoded == xoauth2_string(USER, token) for token in self.provider.live)
        return AuthResult(success=ok, handled=False, auth_data=USER if ok else None)


@pytest.fixture
def provider() -> Iterator[OAuthProvider]:
    with oauth_provider(
        client_id="123.apps.test",
        client_secret=ENV["APP_SECRET"],
        refresh_token=ENV["ANN_REFRESH"],
        username=USER,
    ) as p:
        yield p


def client(provider: OAuthProvider) -> OAuthClient:
    return OAuthClient(
        token_url=provider.token_url,
        client_id=provider.client_id,
        client_secret_ref="env:APP_SECRET",
        refresh_token_ref="env:ANN_REFRESH",
    )


def message(n: int) -> OutboundEmail:
    return OutboundEmail(
        sender=Address(email=USER),
        recipient=Address(email=f"lead{n}@example-corp.com"),
        subject="Hello",
        text="Hi",
        message_id=f"<m{n}@acme-mail.com>",
        account=None,
    )


def test_smtp_xoauth2_refreshes_a_refused_token_once_and_sends(provider: OAuthProvider) -> None:
    handler = XOAuthSink(provider)
    controller = start_sink(handler, auth_require_tls=False)
    try:
        account = SmtpAccount(
            host="127.0.0.1",
            port=controller.port,
            tls=TlsMode.NONE,
            username=USER,
            auth=AuthMethod.XOAUTH2,
            oauth=client(provider),
        )
        mailer = IdentityMailer(ScriptedMailer(), ManualClock(), SecretResolver(env=ENV))
        mailer.send(message(1).model_copy(update={"account": account}))
        provider.revoke_all()  # the provider revokes the access token: the next login refreshes
        mailer.close()
        receipt = mailer.send(message(2).model_copy(update={"account": account}))
        assert receipt.transport == "smtp"
        assert [m.recipients for m in handler.messages] == [
            ["lead1@example-corp.com"],
            ["lead2@example-corp.com"],
        ]
        assert provider.issued == ["ya29.test-1", "ya29.test-2"]
        assert handler.auth_strings == [
            f"user={USER}\x01auth=Bearer ya29.test-1\x01\x01",  # accepted
            f"user={USER}\x01auth=Bearer ya29.test-1\x01\x01",  # refused after the revocation
            f"user={USER}\x01auth=Bearer ya29.test-2\x01\x01",  # refreshed once, accepted
        ]
        assert all(r["refresh_token"] == ENV["ANN_REFRESH"] for r in provider.token_requests)
    finally:
        controller.stop()


def test_a_refused_refresh_token_is_one_clear_error_without_the_secret(provider: OAuthProvider) -> None:
    tokens = OAuthTokens(
        client(provider), SecretResolver(env={**ENV, "ANN_REFRESH": "revoked"}), ManualClock()
    )
    with pytest.raises(TokenError) as caught:
        tokens.token()
    assert "HTTP 400" in str(caught.value) and "revoked" not in str(caught.value)


def test_imap_xoauth2_against_dovecot(provider: OAuthProvider, tmp_path: Path) -> None:
    with dovecot({USER: "delivery-only-pw"}, introspect_port=provider.port) as imap:
        imap.deliver(USER, b"From: a@b.example\r\nSubject: x\r\n\r\nhello\r\n")
        account = ImapAccount(host="127.0.0.1", port=imap.port, tls=TlsMode.NONE, username=USER,
                              auth=AuthMethod.XOAUTH2, oauth=client(provider))  # fmt: skip
        clock = ManualClock()
        mailbox = ImapMailboxes(SecretResolver(env=ENV), clock, timeout=10)(account)
        first = mailbox.fetch_new(None, 0)
        assert [m.raw.split(b"\r\n")[1] for m in first.messages] == [b"Subject: x"]
        clock.advance(timedelta(hours=1))  # the access token expires: refreshed before it is used
        assert mailbox.fetch_new(first.uidvalidity, first.messages[-1].uid).messages == []
        assert provider.issued == ["ya29.test-1", "ya29.test-2"]
        provider.revoke_all()  # revoked early: refused once, refreshed, read (a new connection)
        again = mailbox.fetch_new(first.uidvalidity, 0)
        assert again.uidvalidity == first.uidvalidity and len(again.messages) == 1
        assert provider.issued == ["ya29.test-1", "ya29.test-2", "ya29.test-3"]
