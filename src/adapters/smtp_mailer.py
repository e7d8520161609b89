"""MailProvider over SMTP (smtplib): STARTTLS or implicit TLS, AUTH, one connection reused across sends.

The SMTP dialogue is driven step by step so the outcome is honest: a refusal at MAIL or RCPT, or a
dropped connection before DATA, means the message was not handed over (retry is safe); a connection
lost during DATA means it may have been (uncertain, never resent blindly).

A refusal is reported as it came (MailRefused: code, enhanced status, text, stage); the core's
response policy alone decides whether it means slow down, retry, bounce or block.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
from collections.abc import Callable

from adapters.mime import to_bytes
from outreach_core.domain.mail import (
    MailOutcomeUnknown,
    MailRefused,
    MailSendingPaused,
    MailTransientError,
    OutboundEmail,
    SendReceipt,
)
from outreach_core.policies.responses import enhanced_status
from outreach_core.ports import Clock, SecretUnavailable

# A password, or a callable that reads it when a connection logs in (a secret reference resolved late,
# so a rotated password is used by the next connection).
Password = str | Callable[[], str]
# XOAUTH2: a callable giving the access token (refresh=True after the server refused one).
TokenSource = Callable[..., str]


def _refusal(code: int, reply: bytes | str, stage: str) -> MailRefused:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    detail = f"{stage}: {code} {text}".strip()
    return MailRefused(detail, smtp_code=code, status=enhanced_status(text), text=text, stage=stage)


class SmtpMailer:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        clock: Clock,
        *,
        username: str = "",
        password: Password = "",
        xoauth2: TokenSource | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        envelope_sender: str = "",
    ) -> None:
        self.host, self.port, self.clock = host, port, clock
        self.username, self.password, self.xoauth2 = username, password, xoauth2
        self.starttls, self.implicit_tls, self.timeout = starttls, implicit_tls, timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.envelope_sender = envelope_sender
        self._conn: smtplib.SMTP | None = None
        self._lock = threading.Lock()
        self.connections_opened = 0

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.implicit_tls:
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self.ssl_context
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if self.starttls:
                conn.starttls(context=self.ssl_context)
                conn.ehlo()
            if self.xoauth2 is not None:
                self._xoauth2(conn)
            elif self.username:
                password = self.password() if callable(self.password) else self.password
                conn.login(self.username, password)
        except SecretUnavailable as exc:
            raise MailSendingPaused(f"SMTP credentials unavailable: {exc}", stage="AUTH") from exc
        except smtplib.SMTPAuthenticationError as exc:
            # Our relay credentials are refused: nothing can be sent through it until a person fixes them.
            raise MailSendingPaused(
                f"SMTP authentication failed: {exc.smtp_code}", smtp_code=exc.smtp_code, stage="AUTH"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise _refusal(exc.smtp_code, exc.smtp_error, "connect") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailTransientError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self.connections_opened += 1
        return conn

    def _xoauth2(self, conn: smtplib.SMTP) -> None:
        """AUTH XOAUTH2 with the current access token; a refused token is refreshed once."""
        from adapters.oauth_tokens import xoauth2_string

        assert self.xoauth2 is not None
        for refresh in (False, True):
            token = self.xoauth2(refresh=refresh)
            # On failure the server sends a 334 challenge (an error JSON): answer it empty to get the 535.
            initial = xoauth2_string(self.username, token)

            def answer(challenge: bytes | None = None, initial: str = initial) -> str:
                return initial if challenge is None else ""

            try:
                conn.auth("XOAUTH2", answer)
                return
            except smtplib.SMTPAuthenticationError:
                if refresh:
                    raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    self._conn.quit()
                self._conn = None

    def send(self, email: OutboundEmail) -> SendReceipt:
        payload = to_bytes(email, self.clock.now())
        sender = self.envelope_sender or email.sender.email
        with self._lock:
            for attempt in (1, 2):
                conn = self._conn or self._connect()
                self._conn = conn
                try:
                    self._envelope(conn, sender, email.recipient.email)
                    break
                except smtplib.SMTPServerDisconnected:
                    self._conn = None  # a reused connection went stale: reconnect once (nothing was sent)
                    if attempt == 2:
                        raise MailTransientError("server closed the connection before the message") from None
                except OSError as exc:
                    self._conn = None
                    raise MailTransientError(f"connection failed before the message: {exc}") from exc
            try:
                code, reply = conn.data(payload)
            except smtplib.SMTPDataError as exc:  # refused DATA itself: the message was not handed over
                self._reset(conn)
                raise _refusal(exc.smtp_code, exc.smtp_error, "DATA") from exc
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                self._conn = None
                raise MailOutcomeUnknown(f"connection lost during DATA: {exc}") from exc
            if code != 250:
                self._reset(conn)
                raise _refusal(code, reply, "end of DATA")
        local_part = email.message_id.strip("<>").split("@", 1)[0]
        return SendReceipt(provider_message_id=local_part, rfc_message_id=email.message_id, transport="smtp")

    def _envelope(self, conn: smtplib.SMTP, sender: str, recipient: str) -> None:
        code, reply = conn.mail(sender)
        if code != 250:
            self._reset(conn)
            raise _refusal(code, reply, "MAIL FROM")
        code, reply = conn.rcpt(recipient)
        if code not in (250, 251):
            self._reset(conn)
            raise _refusal(code, reply, "RCPT TO")

    def _reset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._conn = None
