"""OAuth2 access tokens for XOAUTH2 (Google Workspace, Microsoft 365): a refresh token is exchanged at
the provider's token endpoint for a short-lived access token, kept until shortly before it expires.

The refresh token and the client secret are references (adapters.secrets); the access token lives in
memory only. A token the server refuses is refreshed once (`token(refresh=True)`).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta

from outreach_core.domain.accounts import OAuthClient
from outreach_core.ports import Clock, SecretSource, SecretUnavailable

EARLY = timedelta(seconds=60)  # refresh this long before the provider's expiry


class TokenError(SecretUnavailable):
    """The token endpoint refused or could not be reached (the message names no secret)."""


def xoauth2_string(username: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Google and Microsoft document it."""
    return f"user={username}\x01auth=Bearer {access_token}\x01\x01"


class OAuthTokens:
    def __init__(
        self, client: OAuthClient, secrets: SecretSource, clock: Clock, timeout: float = 20.0
    ) -> None:
        self.client = client
        self.secrets = secrets
        self.clock = clock
        self.timeout = timeout
        self._token = ""
        self._expires: datetime | None = None
        self._lock = threading.Lock()
        self.refreshes = 0

    def token(self, *, refresh: bool = False) -> str:
        with self._lock:
            now = self.clock.now()
            if refresh or not self._token or self._expires is None or now >= self._expires - EARLY:
                self._token, lifetime = self._fetch()
                self._expires = now + timedelta(seconds=lifetime)
                self.refreshes += 1
            return self._token

    def _fetch(self) -> tuple[str, int]:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.secrets.resolve(self.client.refresh_token_ref),
            "client_id": self.client.client_id,
        }
        if self.client.client_secret_ref:
            form["client_secret"] = self.secrets.resolve(self.client.client_secret_ref)
        request = urllib.request.Request(
            self.client.token_url,
            data=urllib.parse.urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read(65536) or b"{}")
        except urllib.error.HTTPError as exc:
            raise TokenError(f"token endpoint refused the refresh token: HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise TokenError(f"token endpoint unreachable or unreadable: {type(exc).__name__}") from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise TokenError("token endpoint answered without an access_token")
        lifetime = answer.get("expires_in", 3600)
        return token, int(lifetime) if isinstance(lifetime, int | float | str) and str(
            lifetime
        ).isdigit() else 3600
