"""Secret references resolved at the moment they are needed: `env:NAME`, `file:/path`, `ssm:/name`.

The state store holds only the reference; the value lives in the process environment, a file only
its owner reads (a mounted secret, `chmod 600`), or an SSM Parameter Store SecureString (on AWS: the
IMAP poller and the webhook function read their mailbox passwords, OAuth tokens and signing secrets
there). SSM values are cached for a few minutes, so a rotated secret is picked up without a restart.
Errors name the reference, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from outreach_core.domain.accounts import SecretRefError, check_secret_ref
from outreach_core.ports import SecretUnavailable

MAX_SECRET_BYTES = 64 * 1024


class SecretResolver:
    """`ssm` is a callable name -> value (adapters.aws.ssm_parameter behind it), or None where there is
    no AWS (local mode: an ssm: reference is then an error that says so)."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        ssm: Callable[[str], str] | None = None,
    ) -> None:
        self.env = env if env is not None else os.environ
        self.ssm = ssm

    def resolve(self, ref: str) -> str:
        try:
            kind, _, target = check_secret_ref(ref).partition(":")
        except SecretRefError as exc:
            raise SecretUnavailable(str(exc)) from None
        if kind == "env":
            value = self.env.get(target, "")
            if not value:
                raise SecretUnavailable(f"{ref}: the environment variable is not set")
            return value
        if kind == "file":
            return self._file(ref, Path(target))
        if self.ssm is None:
            raise SecretUnavailable(f"{ref}: SSM references are read on AWS only (use env: or file: locally)")
        try:
            value = self.ssm(target)
        except Exception as exc:  # botocore's ClientError, a network error: never the value
            raise SecretUnavailable(f"{ref}: SSM could not be read ({_why(exc)})") from None
        if not value:
            raise SecretUnavailable(f"{ref}: the parameter is empty")
        return value

    @staticmethod
    def _file(ref: str, path: Path) -> str:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_SECRET_BYTES + 1)
        except OSError as exc:
            raise SecretUnavailable(
                f"{ref}: cannot read the file ({exc.strerror or type(exc).__name__})"
            ) from None
        if len(data) > MAX_SECRET_BYTES:
            raise SecretUnavailable(f"{ref}: the file is larger than a secret")
        value = data.decode("utf-8", "replace").strip()
        if not value:
            raise SecretUnavailable(f"{ref}: the file is empty")
        return value


def _why(exc: Exception) -> str:
    """AWS's error code and message for a ClientError (an AccessDenied names the action and the role,
    so an operator sees which grant is missing; AWS never puts a parameter's value in it), else the
    exception's type (a network error's text may hold anything)."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    if not isinstance(error, dict) or not error.get("Code"):
        return type(exc).__name__
    message = str(error.get("Message") or "")[:300]
    return f"{error['Code']}: {message}" if message else str(error["Code"])
