"""An identity's own mailbox: the SMTP account it sends through and the IMAP account replies come to.

Only *references* to secrets are stored (an environment variable, a secrets file, an SSM parameter
name): the password, the OAuth2 client secret and the refresh token never enter the state store, a
log line or `outreach status`. Adapters resolve a reference at connection time.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_REF = re.compile(r"^(env|file|ssm):(\S{1,512})$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
# OAuth2 token endpoints of the two providers agencies connect most (a refresh token is exchanged here
# for a short-lived access token, which XOAUTH2 then presents).
OAUTH_TOKEN_URLS = {
    "google": "https://oauth2.googleapis.com/token",
    "microsoft": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
}


class SecretRefError(ValueError):
    pass


def check_secret_ref(value: str) -> str:
    """`env:NAME`, `file:/path/to/file` or `ssm:/parameter/name`; one clear line otherwise."""
    match = _REF.match(value.strip())
    if match is None:
        raise SecretRefError(
            "a secret is given by reference, never by value: env:VARIABLE, file:/path or ssm:/parameter/name"
        )
    kind, target = match.groups()
    if kind == "env" and not _ENV_NAME.match(target):
        raise SecretRefError(f"env:{target[:40]}: not an environment variable name")
    if kind == "ssm" and not re.match(r"^[A-Za-z0-9_./-]+$", target):
        raise SecretRefError("ssm: a parameter name is letters, digits and _ . / -")
    return f"{kind}:{target}"


class TlsMode(StrEnum):
    STARTTLS = "starttls"
    IMPLICIT = "implicit"  # TLS from the first byte (SMTPS 465, IMAPS 993)
    NONE = "none"  # only for a local test server: credentials would cross the network in clear


class AuthMethod(StrEnum):
    PASSWORD = "password"  # AUTH LOGIN / PLAIN (SMTP), LOGIN (IMAP): an app password
    XOAUTH2 = "xoauth2"  # Google Workspace, Microsoft 365: a refresh token, exchanged for access tokens


class OAuthClient(BaseModel):
    """How to get an access token: the token endpoint, the app's client id, references to its client
    secret and to the mailbox's refresh token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token_url: str
    client_id: str = Field(min_length=1, max_length=512)
    client_secret_ref: str = ""
    refresh_token_ref: str

    @field_validator("token_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("token URL: https only (http is accepted for a local test server)")
        return value

    @field_validator("client_secret_ref", "refresh_token_ref")
    @classmethod
    def _refs(cls, value: str) -> str:
        return check_secret_ref(value) if value else value

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(r for r in (self.client_secret_ref, self.refresh_token_ref) if r)


class MailAccount(BaseModel):
    """Where and as whom to log in. `secret_ref` is the password's reference (AUTH password), unused
    with XOAUTH2, whose secrets are the OAuth client's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int = Field(ge=1, le=65535)
    tls: TlsMode = TlsMode.STARTTLS
    username: str = Field(default="", max_length=320)
    secret_ref: str = ""
    auth: AuthMethod = AuthMethod.PASSWORD
    oauth: OAuthClient | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _HOST.match(value):
            raise ValueError(f"host {value[:60]!r} is not a host name or address")
        return value.lower()

    @field_validator("secret_ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        return check_secret_ref(value) if value else value

    @field_validator("username")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(c in value for c in "\r\n\x00"):
            raise ValueError("username: a line break is not allowed")
        return value

    @model_validator(mode="after")
    def _auth_complete(self) -> MailAccount:
        if self.auth is AuthMethod.XOAUTH2 and (self.oauth is None or not self.username):
            raise ValueError(
                "XOAUTH2 needs a username and an OAuth client (token URL, client id, refresh token)"
            )
        if self.auth is AuthMethod.PASSWORD and self.secret_ref and not self.username:
            raise ValueError("a password reference needs a username")
        return self

    @property
    def key(self) -> str:
        """One pooled connection per distinct account (two identities on one login share it)."""
        return f"{self.host}:{self.port}:{self.tls.value}:{self.username}:{self.auth.value}"

    @property
    def refs(self) -> tuple[str, ...]:
        """Every secret reference this account needs resolved."""
        own = (self.secret_ref,) if self.secret_ref and self.auth is AuthMethod.PASSWORD else ()
        return own + (self.oauth.refs if self.oauth and self.auth is AuthMethod.XOAUTH2 else ())


class SmtpAccount(MailAccount):
    """An identity's own SMTP submission account (Google Workspace, Microsoft 365, any provider)."""


class ImapAccount(MailAccount):
    """The mailbox replies and bounces come back to. Only `folder` is read (INBOX by default); a folder
    the server marks as \\Sent, \\Drafts, \\Trash or \\Junk is refused, so our own copies are never read
    as replies."""

    folder: str = Field(default="INBOX", min_length=1, max_length=200)

    @field_validator("folder")
    @classmethod
    def _folder(cls, value: str) -> str:
        if any(c in value for c in '\r\n\x00"*%'):
            raise ValueError("folder: not a mailbox name")
        return value
