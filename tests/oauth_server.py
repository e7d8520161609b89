"""A local OAuth2 provider for the XOAUTH2 tests: a token endpoint (refresh token -> access token, as
Google's and Microsoft's do) and a token-introspection endpoint (RFC 7662) that dovecot's oauth2
passdb asks whether an access token is live. Runs on 127.0.0.1; records what it was asked."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class OAuthProvider:
    client_id: str
    client_secret: str
    refresh_token: str
    username: str
    issued: list[str] = field(default_factory=list)  # access tokens, in the order given out
    live: set[str] = field(default_factory=set)  # the ones SMTP / IMAP accept
    token_requests: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def revoke_all(self) -> None:
        self.live.clear()


@contextmanager
def oauth_provider(**kwargs: str) -> Iterator[OAuthProvider]:
    provider = OAuthProvider(**kwargs)  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def _answer(self, code: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            if self.path == "/token":
                provider.token_requests.append(form)
                ok = (
                    form.get("grant_type") == "refresh_token"
                    and form.get("refresh_token") == provider.refresh_token
                    and form.get("client_id") == provider.client_id
                    and form.get("client_secret") == provider.client_secret
                )
                if not ok:
                    self._answer(400, {"error": "invalid_grant"})
                    return
                token = f"ya29.test-{len(provider.issued) + 1}"
                provider.issued.append(token)
                provider.live.add(token)
                self._answer(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})
                return
            if self.path == "/introspect":  # dovecot's oauth2 passdb (introspection_mode = post)
                token = form.get("token", "")
                if token in provider.live:
                    self._answer(200, {"active": "true", "username": provider.username})
                else:
                    self._answer(200, {"active": "false"})
                return
            self._answer(404, {"error": "not found"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
