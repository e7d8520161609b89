"""Lambda function URL events (payload format 2.0) <-> the WebApp's request and response."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from adapters.web import WebRequest, WebResponse

IAM_ACTIONS: frozenset[str] = frozenset()  # event parsing only: no AWS calls


def request_from_event(event: Mapping[str, Any]) -> WebRequest:
    http = event.get("requestContext", {}).get("http", {})
    raw_body = event.get("body") or ""
    body = base64.b64decode(raw_body) if event.get("isBase64Encoded") else str(raw_body).encode()
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    return WebRequest(
        method=str(http.get("method", "GET")),
        path=str(event.get("rawPath") or http.get("path") or "/"),
        headers=headers,
        body=body,
    )


def response_to_result(response: WebResponse) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": dict(response.headers),
        "body": response.body.decode("utf-8"),
        "isBase64Encoded": False,
    }
