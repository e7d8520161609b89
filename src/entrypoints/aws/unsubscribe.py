"""Lambda behind the public unsubscribe route (an API Gateway HTTP API or a function URL, both payload
format 2.0): RFC 8058 one-click unsubscribe (POST) and its confirmation page (GET).

The container is built once per cold start; the request logic lives in adapters.web (shared with the
worker's local server) and the decision in UnsubscribeService. No cookie, no redirect, no login: the
HMAC-signed token in the path is the only credential.
"""

from __future__ import annotations

from typing import Any

from adapters.aws.function_url import request_from_event, response_to_result
from adapters.web import WebApp
from entrypoints.container import build
from entrypoints.log_setup import configure_logging
from entrypoints.observability import flushed
from entrypoints.settings import Settings

settings = Settings()  # not entrypoints.aws.runtime: the same handler also runs on a local workspace
configure_logging(settings.log_level, json=True)
application = build(settings)
web = WebApp(unsubscribe=application.services.unsubscribe())


@flushed(application.adapters.metrics())
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return response_to_result(web.handle(request_from_event(event)))
