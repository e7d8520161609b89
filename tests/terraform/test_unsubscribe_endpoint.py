"""The public unsubscribe endpoint Terraform deploys fits the app behind it: the HTTP API's routes are
the ones the WebApp answers, the sender's links land on them, and an HTTP API (payload format 2.0)
event reaches the WebApp through the Lambda adapter as it does from a function URL."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from adapters.aws.function_url import request_from_event, response_to_result
from adapters.web import WebApp
from outreach_core.domain.models import LeadStatus
from outreach_core.rendering.unsubscribe import sign
from outreach_core.services.unsubscribe import UnsubscribeService
from tests.feedback_world import SECRET, TENANT, World, build_world
from tests.terraform import tfconfig

ANN = "ann@client.example"
BASE = "https://abc123.execute-api.eu-west-1.amazonaws.com"  # module.unsubscribe_endpoint.url


@pytest.fixture
def world() -> World:
    world = build_world()
    world.send_due()
    world.clock.advance(timedelta(days=2, hours=1))
    world.plan()
    return world


def routes(example: tfconfig.Config) -> list[str]:
    call = example.modules()["unsubscribe_endpoint"]
    assert call["function_name"] == "${module.unsubscribe.function_name}"
    return tfconfig.literal_strings(call["routes"], "unsubscribe_endpoint.routes")


def http_api_event(route: str, token: str, body: str = "", base64_body: bool = False) -> dict[str, Any]:
    """What API Gateway sends a Lambda proxy integration (payload format 2.0) for a $default stage."""
    method, template = route.split(" ", 1)
    path = template.replace("{token}", token)
    return {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/x-www-form-urlencoded", "host": urlsplit(BASE).netloc},
        "requestContext": {
            "apiId": "abc123",
            "domainName": urlsplit(BASE).netloc,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "routeKey": route,
            "stage": "$default",
        },
        "pathParameters": {"token": token},
        "body": base64.b64encode(body.encode()).decode() if base64_body else body,
        "isBase64Encoded": base64_body,
    }


def test_the_routes_are_the_methods_and_path_the_web_app_serves(example: tfconfig.Config) -> None:
    assert sorted(routes(example)) == [
        "GET /unsubscribe/{token}",
        "HEAD /unsubscribe/{token}",
        "POST /unsubscribe/{token}",
    ]


def test_the_senders_links_land_on_the_routes(example: tfconfig.Config, world: World) -> None:
    base = example.modules()["sender"]["environment"]["OUTREACH_UNSUBSCRIBE_BASE_URL"]
    assert base == "${module.unsubscribe_endpoint.url}/unsubscribe"
    deployed = base.replace("${module.unsubscribe_endpoint.url}", BASE)
    world.sender.config = world.sender.config.model_copy(update={"unsubscribe_base_url": deployed})
    link = world.sender.unsubscribe_url(TENANT, world.lead(ANN).id)
    path = urlsplit(link).path
    templates = {route.split(" ", 1)[1] for route in routes(example)}
    assert any(re.fullmatch(t.replace("{token}", "[^/]+"), path) for t in templates), (link, templates)
    assert "//" not in path


@pytest.mark.parametrize("base64_body", [False, True], ids=["plain body", "base64 body"])
def test_an_http_api_event_reaches_the_web_app(
    example: tfconfig.Config, world: World, base64_body: bool
) -> None:
    app = WebApp(UnsubscribeService(world.records, world.clock, world.suppression, [SECRET]))
    token = sign(SECRET, TENANT, world.lead(ANN).id)
    by_method = {route.split(" ", 1)[0]: route for route in routes(example)}

    page = response_to_result(app.handle(request_from_event(http_api_event(by_method["GET"], token))))
    assert page["statusCode"] == 200 and '<form method="post"' in page["body"]
    assert world.lead(ANN).status is not LeadStatus.UNSUBSCRIBED  # a GET changes nothing

    head = response_to_result(app.handle(request_from_event(http_api_event(by_method["HEAD"], token))))
    assert (head["statusCode"], head["body"]) == (200, "")

    one_click = http_api_event(by_method["POST"], token, "List-Unsubscribe=One-Click", base64_body)
    done = response_to_result(app.handle(request_from_event(one_click)))
    assert done["statusCode"] == 200 and "Set-Cookie" not in done["headers"]
    assert world.lead(ANN).status is LeadStatus.UNSUBSCRIBED
