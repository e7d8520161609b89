"""The worker's HTTP server on 127.0.0.1 (started here): RFC 8058 one-click unsubscribe by a bare POST,
the GET confirmation page that changes nothing, and POST /sns with signature verification."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.error import HTTPError
from urllib.request import HTTPRedirectHandler, Request, build_opener

import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from structlog.testing import capture_logs

from adapters.http_server import LocalHttpServer
from adapters.sns import SnsEndpoint, SnsVerifier
from adapters.web import WebApp
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import LeadStatus
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.rendering.unsubscribe import sign
from outreach_core.services.unsubscribe import UnsubscribeService
from tests.feedback_world import SECRET, TENANT, World, build_world
from tests.sns_signing import CERT_URL, TOPIC, FakeFetcher, make_certificate, new_key, notification
from tests.sns_signing import sign as sns_sign

ANN, BOB = "ann@client.example", "bob@client.example"


class _NoRedirects(HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect would surface as an HTTPError 3xx, and fail the test


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def world() -> World:
    world = build_world()
    world.send_due()
    world.clock.advance(timedelta(days=2, hours=1))
    world.plan()  # step 2 is queued for everyone
    return world


@pytest.fixture
def server(world: World, key: rsa.RSAPrivateKey) -> Iterator[LocalHttpServer]:
    verifier = SnsVerifier(
        world.clock, topic_arns={TOPIC}, fetch=FakeFetcher({CERT_URL: make_certificate(key)})
    )
    sns = SnsEndpoint(verifier, on_notification=lambda message: world.ingestor.ingest([message]))
    app = WebApp(UnsubscribeService(world.records, world.clock, world.suppression, [SECRET]), sns)
    running = LocalHttpServer(app, "127.0.0.1", 0).start()
    yield running
    running.stop()


def call(
    server: LocalHttpServer, method: str, path: str, body: bytes | None = None, content_type: str = ""
) -> tuple[int, dict[str, str], str]:
    request = Request(server.url + path, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with build_opener(_NoRedirects).open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_a_bare_one_click_post_suppresses_and_cancels_queued_jobs(
    world: World, server: LocalHttpServer
) -> None:
    token = sign(SECRET, TENANT, world.lead(ANN).id)
    status, headers, text = call(
        server,
        "POST",
        f"/unsubscribe/{token}",
        b"List-Unsubscribe=One-Click",
        "application/x-www-form-urlencoded",
    )
    assert status == 200 and "You are unsubscribed" in text
    assert "Set-Cookie" not in headers and "Location" not in headers
    entry = world.records.suppression_for(TENANT, ANN)
    assert entry is not None and entry.reason is SuppressionReason.UNSUBSCRIBE
    assert world.lead(ANN).status is LeadStatus.UNSUBSCRIBED
    assert world.status(ANN, 2) is JobStatus.CANCELLED
    assert world.status(BOB, 2) is JobStatus.QUEUED


def test_a_multipart_one_click_post_works_too(world: World, server: LocalHttpServer) -> None:
    token = sign(SECRET, TENANT, world.lead(BOB).id)
    body = b'--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--XyZ--\r\n'
    status, _, _ = call(server, "POST", f"/unsubscribe/{token}", body, "multipart/form-data; boundary=XyZ")
    assert status == 200
    assert world.lead(BOB).status is LeadStatus.UNSUBSCRIBED


def test_the_get_page_only_asks_and_its_button_posts(world: World, server: LocalHttpServer) -> None:
    token = sign(SECRET, TENANT, world.lead(ANN).id)
    for _ in range(3):  # a link scanner may fetch it any number of times
        status, headers, page = call(server, "GET", f"/unsubscribe/{token}")
        assert status == 200 and "Set-Cookie" not in headers
    assert '<form method="post">' in page, "the button posts back to the same URL"
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page
    assert "a***@client.example" in page and ANN not in page
    assert world.lead(ANN).status is LeadStatus.ACTIVE
    assert world.records.suppression_for(TENANT, ANN) is None
    assert call(server, "HEAD", f"/unsubscribe/{token}")[0] == 200


def test_bad_requests_change_nothing(world: World, server: LocalHttpServer) -> None:
    token = sign(SECRET, TENANT, world.lead(ANN).id)
    assert call(server, "POST", f"/unsubscribe/{token}", b"", "application/x-www-form-urlencoded")[0] == 400
    assert call(server, "POST", f"/unsubscribe/{token}", b"List-Unsubscribe=Maybe")[0] == 400
    forged = sign("not-our-secret", TENANT, world.lead(ANN).id)
    assert call(server, "POST", f"/unsubscribe/{forged}", b"List-Unsubscribe=One-Click")[0] == 404
    assert call(server, "GET", f"/unsubscribe/{forged}")[0] == 404
    assert call(server, "PUT", f"/unsubscribe/{token}", b"x")[0] == 405
    assert call(server, "GET", "/sns")[0] == 405
    assert call(server, "GET", "/elsewhere")[0] == 404
    assert world.lead(ANN).status is LeadStatus.ACTIVE


def test_a_genuine_sns_notification_is_applied_and_a_forged_one_is_logged_and_refused(
    world: World, server: LocalHttpServer, key: rsa.RSAPrivateKey
) -> None:
    job = world.job(ANN)
    event = {
        "eventType": "Bounce",
        "mail": {
            "timestamp": "2026-01-05T09:06:00.000Z",
            "messageId": job.provider_message_id,
            "destination": [ANN],
            "tags": {"tenant": [TENANT], "campaign": [job.campaign_id], "job": [job.job_id]},
        },
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": ANN, "status": "5.1.1"}],
            "timestamp": "2026-01-05T09:07:00.000Z",
            "feedbackId": "fb-1",
        },
    }
    at = world.clock.now() - timedelta(seconds=5)
    forged = {**sns_sign(notification(json.dumps(event), at=at), key, "2")}
    forged["Message"] = forged["Message"].replace(ANN, BOB)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(0))
    try:
        with capture_logs() as logs:
            status, _, text = call(
                server, "POST", "/sns", json.dumps(forged).encode(), "text/plain; charset=UTF-8"
            )
    finally:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    assert status == 403 and "altered or forged" in text
    assert [(e["event"], e["reason"]) for e in logs if e["event"] == "sns.rejected"] == [
        ("sns.rejected", "signature does not match the message (altered or forged)")
    ]
    assert world.records.suppression_for(TENANT, BOB) is None

    genuine = sns_sign(notification(json.dumps(event), at=at), key, "2")
    status, _, _ = call(server, "POST", "/sns", json.dumps(genuine).encode(), "text/plain; charset=UTF-8")
    assert status == 200
    assert world.status(ANN) is JobStatus.BOUNCED
    assert world.records.suppression_for(TENANT, ANN) is not None
