"""WebhookTransport over HTTP(S) with the standard library: one POST, a short timeout, no redirects
followed (a receiver that moved says so with its new URL in the delivery log, not by sending our
signed body elsewhere). Never raises: a network failure is status 0 with its reason."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping

from outreach_core.ports import HttpAnswer

IAM_ACTIONS: frozenset[str] = frozenset()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class HttpWebhookTransport:
    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(4096)
                return HttpAnswer(status=response.status, detail=str(response.reason or "")[:200])
        except urllib.error.HTTPError as exc:
            return HttpAnswer(status=exc.code, detail=str(exc.reason or "")[:200])
        except (OSError, ValueError) as exc:  # refused, timed out, TLS, a bad URL
            reason = getattr(exc, "reason", exc)
            return HttpAnswer(status=0, detail=f"{type(exc).__name__}: {reason}"[:200])
