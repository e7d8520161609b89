"""The small web surface, as plain request -> response functions shared by the worker's local HTTP
server and the Lambda function URL:

  POST /sns                 SNS HTTPS subscription (signature-verified; SES events and receipts)
  GET  /unsubscribe/<token> a confirmation page with one button; it changes nothing (scanners GET)
  POST /unsubscribe/<token> RFC 8058 one-click: body `List-Unsubscribe=One-Click`, no cookie, no
                            redirect; the address is suppressed at once. The page's button posts the same.
  GET  /healthz             liveness

No response sets a cookie or redirects; pages are static HTML with no scripts and no outside resources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import structlog

from outreach_core.services.unsubscribe import UnsubscribeService

if TYPE_CHECKING:  # the Lambda zip has no cryptography: only the worker's POST /sns needs it
    from adapters.sns import SnsEndpoint

log = structlog.get_logger(__name__)

ONE_CLICK = "List-Unsubscribe=One-Click"
_UNSUBSCRIBE = re.compile(r"^/unsubscribe/([A-Za-z0-9._~-]{1,300})/?$")
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


@dataclass(frozen=True)
class WebRequest:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""


@dataclass(frozen=True)
class WebResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, text: str) -> WebResponse:
        return cls(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8", **_SECURITY_HEADERS})

    @classmethod
    def page(cls, status: int, title: str, body_html: str) -> WebResponse:
        document = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>body{{font:16px/1.5 system-ui,sans-serif;max-width:34em;"
            "margin:4em auto;padding:0 1em;color:#222}button{font:inherit;padding:.6em 1.2em;cursor:pointer}"
            f"</style></head><body><h1>{escape(title)}</h1>{body_html}</body></html>"
        )
        return cls(
            status, document.encode(), {"Content-Type": "text/html; charset=utf-8", **_SECURITY_HEADERS}
        )


def is_one_click(headers: Mapping[str, str], body: bytes) -> bool:
    """True for an RFC 8058 POST body (application/x-www-form-urlencoded or multipart/form-data)."""
    content_type = headers.get("content-type", "").lower()
    text = body.decode("utf-8", "replace")
    if content_type.startswith("multipart/form-data"):
        match = re.search(r'name="?List-Unsubscribe"?\s*\r?\n\r?\n\s*One-Click\s*(?:\r?\n|$)', text)
        return match is not None
    values = parse_qs(text.strip(), keep_blank_values=True).get("List-Unsubscribe", [])
    return "One-Click" in values


class WebApp:
    def __init__(self, unsubscribe: UnsubscribeService | None = None, sns: SnsEndpoint | None = None) -> None:
        self.unsubscribe = unsubscribe
        self.sns = sns

    def handle(self, request: WebRequest) -> WebResponse:
        method = request.method.upper()
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            return WebResponse.text(200, "ok")
        if path == "/sns" and self.sns is not None:
            if method != "POST":
                return self._not_allowed("POST")
            answer = self.sns.handle(request.body)
            return WebResponse.text(answer.status, answer.text)
        match = _UNSUBSCRIBE.match(path)
        if match and self.unsubscribe is not None:
            token = match.group(1)
            if method in ("GET", "HEAD"):
                response = self._confirmation_page(token)
                return WebResponse(response.status, b"", response.headers) if method == "HEAD" else response
            if method == "POST":
                return self._one_click(token, request)
            return self._not_allowed("GET, HEAD, POST")
        return WebResponse.text(404, "not found")

    @staticmethod
    def _not_allowed(allow: str) -> WebResponse:
        response = WebResponse.text(405, "method not allowed")
        return WebResponse(405, response.body, {**response.headers, "Allow": allow})

    def _confirmation_page(self, token: str) -> WebResponse:
        assert self.unsubscribe is not None
        preview = self.unsubscribe.preview(token)
        if preview is None:
            return WebResponse.page(404, "Link not valid", "<p>This unsubscribe link is not valid.</p>")
        who = f" (<strong>{escape(preview.masked_email)}</strong>)" if preview.masked_email else ""
        sender = escape(preview.tenant_name) or "this sender"
        return WebResponse.page(
            200,
            "Unsubscribe",
            f"<p>Stop all email from {sender} to this address{who}?</p>"
            # No action: the form posts back to this very URL, whatever prefix it is served under.
            '<form method="post">'
            f'<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            "<button type=submit>Unsubscribe</button></form>",
        )

    def _one_click(self, token: str, request: WebRequest) -> WebResponse:
        assert self.unsubscribe is not None
        if not is_one_click(request.headers, request.body):
            return WebResponse.text(400, f"expected the body {ONE_CLICK} (RFC 8058)")
        outcome = self.unsubscribe.unsubscribe(token, channel="one-click")
        if not outcome.ok:
            return WebResponse.page(404, "Link not valid", f"<p>{escape(outcome.detail)}.</p>")
        return WebResponse.page(
            200, "Unsubscribed", "<p>You are unsubscribed. You will not receive any more email from us.</p>"
        )
