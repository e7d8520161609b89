"""MailProvider that sends each message the way its identity sends: through the identity's own SMTP
account (one pooled connection per account, opened on first use and kept), or through the deployment's
default mailer (SES, the global SMTP relay, or the simulator).

The account arrives with the message as data (OutboundEmail.account, references only); secrets are
resolved when a connection logs in, so a rotated password or refresh token is used from the next
connection on and never stored.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from adapters.oauth_tokens import OAuthTokens
from adapters.smtp_mailer import SmtpMailer
from outreach_core.domain.accounts import AuthMethod, SmtpAccount, TlsMode
from outreach_core.domain.mail import MailSendingPaused, OutboundEmail, SendReceipt
from outreach_core.ports import Clock, MailProvider, SecretSource

MAX_POOLED = 64  # accounts with an open connection; the least recently used one is closed beyond that


class IdentityMailer:
    def __init__(
        self,
        default: MailProvider,
        clock: Clock,
        secrets: SecretSource,
        *,
        timeout: float = 30.0,
        factory: Callable[[SmtpAccount], SmtpMailer] | None = None,
        refuse_own_accounts: str = "",
    ) -> None:
        self.default = default
        # Why real mail through identities' own accounts must not go out (the built-in development
        # secret would sign its links), or "" when it may.
        self.refuse_own_accounts = refuse_own_accounts
        self.name = default.name
        self.clock = clock
        self.secrets = secrets
        self.timeout = timeout
        self._factory = factory or self._mailer_for
        self._pool: OrderedDict[str, SmtpMailer] = OrderedDict()
        self._lock = threading.Lock()

    def send(self, email: OutboundEmail) -> SendReceipt:
        if email.account is None:
            return self.default.send(email)
        if self.refuse_own_accounts:
            raise MailSendingPaused(self.refuse_own_accounts, stage="AUTH")
        return self._pooled(email.account).send(email)

    def _pooled(self, account: SmtpAccount) -> SmtpMailer:
        key = f"{account.key}:{','.join(account.refs)}"
        with self._lock:
            mailer = self._pool.get(key)
            if mailer is None:
                mailer = self._factory(account)
                self._pool[key] = mailer
                while len(self._pool) > MAX_POOLED:
                    _, oldest = self._pool.popitem(last=False)
                    oldest.close()
            self._pool.move_to_end(key)
            return mailer

    def _mailer_for(self, account: SmtpAccount) -> SmtpMailer:
        ref = account.secret_ref
        tokens = (
            OAuthTokens(account.oauth, self.secrets, self.clock)
            if account.auth is AuthMethod.XOAUTH2 and account.oauth is not None
            else None
        )
        return SmtpMailer(
            account.host,
            account.port,
            self.clock,
            username=account.username,
            password=(lambda: self.secrets.resolve(ref)) if ref else "",
            xoauth2=tokens.token if tokens else None,
            starttls=account.tls is TlsMode.STARTTLS,
            implicit_tls=account.tls is TlsMode.IMPLICIT,
            timeout=self.timeout,
        )

    @property
    def connections(self) -> dict[str, int]:
        """Connections opened per pooled account (host:port:user), for tests and benchmarks."""
        return {key.rsplit(":", 2)[0]: m.connections_opened for key, m in self._pool.items()}

    def close(self) -> None:
        """Close every pooled connection (the next send reconnects; cached access tokens are kept)."""
        with self._lock:
            for mailer in self._pool.values():
                mailer.close()
