"""Reading an identity's mailbox over IMAP (imapclient): new messages since the last seen UID.

Read-only: the folder is selected with EXAMINE and messages are fetched with BODY.PEEK[], so nothing
is marked \\Seen, moved or deleted - the person who also reads this mailbox sees it as it was. Only
the configured folder is read (INBOX by default); a folder the server marks \\Sent, \\Drafts, \\Trash
or \\Junk is refused, so our own sent copies are never taken for replies.

The caller keeps the seen-state (UIDVALIDITY and the last UID applied); when the server's UIDVALIDITY
changes, UIDs start again and the caller reads the folder from the start (what was applied before is
recognised by its event id and not applied twice).

imapclient is imported here only: the IMAP poller function loads this module, no other function does.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from outreach_core.domain.accounts import AuthMethod, ImapAccount, TlsMode
from outreach_core.ports import Clock, SecretSource, SecretUnavailable

IAM_ACTIONS: frozenset[str] = frozenset()  # IMAP is not AWS; the secrets it needs come through SSM
_REFUSED_FOLDERS = (b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk", b"\\All")


class MailboxError(Exception):
    """The mailbox could not be read (connection, login, folder). The message names no secret."""


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes


@dataclass(frozen=True)
class FetchResult:
    uidvalidity: int
    messages: list[FetchedMessage]
    more: bool  # there are more new messages than were fetched (the next poll continues)


def _close(client: Any) -> None:
    try:
        client.logout()
    except Exception:  # the connection may already be gone: nothing to tidy up
        client.shutdown()


def _xoauth2(username: str, token: str) -> Callable[[bytes], str]:
    """SASL XOAUTH2: the initial response, then an empty answer to the server's error challenge (a
    JSON status) so the failure comes at once rather than after a timeout."""
    from adapters.oauth_tokens import xoauth2_string

    def answer(challenge: bytes) -> str:
        return "" if challenge else xoauth2_string(username, token)

    return answer


class ImapMailbox:
    def __init__(
        self,
        account: ImapAccount,
        secrets: SecretSource,
        *,
        token: Callable[..., str] | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.account = account
        self.secrets = secrets
        self.token = token
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()

    def fetch_new(self, uidvalidity: int | None, after_uid: int, limit: int = 50) -> FetchResult:
        from imapclient.exceptions import IMAPClientError, LoginError

        account = self.account
        client = self._logged_in()
        try:
            self._check_folder(client)
            selected = client.select_folder(account.folder, readonly=True)
            current = int(selected[b"UIDVALIDITY"])
            start = after_uid if uidvalidity == current else 0
            uids = sorted(u for u in client.search(["UID", f"{start + 1}:*"]) if u > start)
            batch = uids[:limit]
            messages: list[FetchedMessage] = []
            if batch:
                fetched = client.fetch(batch, ["BODY.PEEK[]"])
                for uid in batch:
                    data = fetched.get(uid, {})
                    raw = data.get(b"BODY[]")
                    if isinstance(raw, bytes):
                        messages.append(FetchedMessage(uid, raw))
            return FetchResult(current, messages, more=len(uids) > len(batch))
        except LoginError:
            raise MailboxError(f"IMAP login refused for {account.username or '(no user)'}") from None
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"IMAP {account.host}: {type(exc).__name__}: {str(exc)[:200]}") from None
        finally:
            _close(client)

    def _connect(self) -> Any:
        from imapclient import IMAPClient
        from imapclient.exceptions import IMAPClientError

        account = self.account
        try:
            client = IMAPClient(
                account.host,
                port=account.port,
                ssl=account.tls is TlsMode.IMPLICIT,
                ssl_context=self.ssl_context,
                timeout=self.timeout,
            )
            if account.tls is TlsMode.STARTTLS:
                client.starttls(self.ssl_context)
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(
                f"cannot connect to {account.host}:{account.port}: {type(exc).__name__}"
            ) from None
        return client

    def _logged_in(self) -> Any:
        """A logged-in connection. A refused XOAUTH2 token is refreshed once, on a new connection
        (servers delay a second attempt on the connection that failed)."""
        from imapclient.exceptions import IMAPClientError, LoginError

        account = self.account
        xoauth2 = account.auth is AuthMethod.XOAUTH2
        for refresh in (False, True) if xoauth2 else (False,):
            client = self._connect()
            try:
                if xoauth2:
                    if self.token is None:
                        raise MailboxError("XOAUTH2 without a token source")
                    answer = _xoauth2(account.username, self.token(refresh=refresh))
                    client.sasl_login("XOAUTH2", answer)
                else:
                    password = self.secrets.resolve(account.secret_ref) if account.secret_ref else ""
                    client.login(account.username, password)
                return client
            except LoginError:
                _close(client)
                if refresh or not xoauth2:
                    raise MailboxError(f"IMAP login refused for {account.username or '(no user)'}") from None
            except SecretUnavailable as exc:
                _close(client)
                raise MailboxError(f"IMAP credentials unavailable: {exc}") from None
            except (OSError, IMAPClientError) as exc:
                _close(client)
                raise MailboxError(f"IMAP {account.host}: {type(exc).__name__}: {str(exc)[:200]}") from None
        raise MailboxError("IMAP login refused")  # not reached: the loop returns or raises

    def _check_folder(self, client: object) -> None:
        for flags, _, name in client.list_folders():  # type: ignore[attr-defined]
            if name == self.account.folder and any(flag in _REFUSED_FOLDERS for flag in flags):
                raise MailboxError(
                    f"folder {name!r} is the mailbox's {b','.join(flags).decode(errors='replace')} folder: "
                    "only incoming mail is read (use INBOX)"
                )


class ImapMailboxes:
    """ImapAccount -> ImapMailbox, with the secrets (and, for XOAUTH2, an access-token cache per
    account) the poller's mailboxes share."""

    def __init__(self, secrets: SecretSource, clock: Clock, timeout: float = 30.0) -> None:
        self.secrets = secrets
        self.clock = clock
        self.timeout = timeout
        self._tokens: dict[str, Callable[..., str]] = {}

    def __call__(self, account: ImapAccount) -> ImapMailbox:
        token = None
        if account.auth is AuthMethod.XOAUTH2 and account.oauth is not None:
            from adapters.oauth_tokens import OAuthTokens

            key = f"{account.key}:{','.join(account.refs)}"
            if key not in self._tokens:
                self._tokens[key] = OAuthTokens(account.oauth, self.secrets, self.clock).token
            token = self._tokens[key]
        return ImapMailbox(account, self.secrets, token=token, timeout=self.timeout)
