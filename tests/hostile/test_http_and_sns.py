"""F13 and F14: the worker's HTTP endpoint against hostile clients, and SNS notifications that are
genuine but carry something we cannot read (kept, counted and alerted on; never dropped)."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters import http_server
from adapters.feedback_ingest import EventIngestor
from adapters.http_server import LocalHttpServer
from adapters.sns import SnsEndpoint, SnsVerifier
from adapters.web import WebApp
from outreach_core.services.unsubscribe import UnsubscribeService
from tests.feedback_world import SECRET, World, build_world
from tests.sns_signing import CERT_URL, TOPIC, FakeFetcher, make_certificate, new_key, notification
from tests.sns_signing import body as sns_body
from tests.sns_signing import sign as sns_sign

CLIENT_WAIT_S = 5.0  # how long the test client waits for an answer: far beyond the server's timeout


class Alerts:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def notify(self, alert: Any) -> None:
        self.sent.append(alert)


class Counts:
    def __init__(self) -> None:
        self.values: list[tuple[str, dict[str, str]]] = []

    def emit(self, name: str, value: float = 1.0, unit: str = "Count", **dimensions: str) -> None:
        self.values.append((name, dimensions))

    def flush(self) -> None:
        return None


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


@pytest.fixture
def counts() -> Counts:
    return Counts()


@pytest.fixture
def ingest(world: World) -> dict[str, EventIngestor]:
    """Where POST /sns hands notifications; a test may put another ingestor in."""
    return {"to": world.ingestor}


@pytest.fixture
def server(
    world: World, key: rsa.RSAPrivateKey, ingest: dict[str, EventIngestor], monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalHttpServer]:
    monkeypatch.setattr(http_server, "READ_TIMEOUT_S", 0.5, raising=False)
    verifier = SnsVerifier(
        world.clock, topic_arns={TOPIC}, fetch=FakeFetcher({CERT_URL: make_certificate(key)})
    )
    sns = SnsEndpoint(verifier, on_notification=lambda message: ingest["to"].ingest([message]))
    app = WebApp(UnsubscribeService(world.records, world.clock, world.suppression, [SECRET]), sns)
    running = LocalHttpServer(app, "127.0.0.1", 0).start()
    yield running
    running.stop()


def exchange(server: LocalHttpServer, raw: bytes) -> bytes:
    """Send raw bytes, read until the server answers and closes (or the client gives up)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=CLIENT_WAIT_S) as conn:
        conn.sendall(raw)
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and _complete(received):
                    break
        except TimeoutError:
            return received + b"<client gave up waiting>"
    return received


def _complete(received: bytes) -> bool:
    head, _, rest = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(rest) >= int(line.split(b":")[1])
    return True


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.") else 0


# --- F13 --------------------------------------------------------------------------------------------


def test_f13_a_content_length_that_is_not_a_number_is_a_400(
    server: LocalHttpServer, capfd: pytest.CaptureFixture[str]
) -> None:
    response = exchange(server, b"POST /sns HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}")
    assert status_of(response) == 400 and b"Content-Length" in response
    assert "Traceback" not in capfd.readouterr().err


def test_f13_a_body_shorter_than_its_content_length_does_not_hold_the_handler(
    server: LocalHttpServer,
) -> None:
    response = exchange(server, b"POST /sns HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{}")
    assert status_of(response) == 408, response[:200]


def test_f13_an_http_0_9_request_is_closed_not_held(server: LocalHttpServer) -> None:
    response = exchange(server, b"GET /\r\n")
    assert b"<client gave up waiting>" not in response
    assert status_of(exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200, "still serving"


def test_f13_a_request_that_never_ends_its_headers_is_dropped(server: LocalHttpServer) -> None:
    response = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    assert b"<client gave up waiting>" not in response


def test_f13_deeply_nested_json_on_sns_is_a_400_without_a_traceback(
    server: LocalHttpServer, logs: list[dict[str, Any]]
) -> None:
    payload = b"[" * 200_000 + b"]" * 200_000
    request = b"POST /sns HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload
    assert status_of(exchange(server, request)) == 400
    assert not [line for line in logs if "exception" in line or line.get("log_level") == "error"]


def test_f13_deeply_nested_json_inside_a_genuine_notification_is_kept_not_a_500(
    server: LocalHttpServer, key: rsa.RSAPrivateKey, world: World
) -> None:
    deep = sns_body(sns_sign(notification("[" * 5_000 + "]" * 5_000, at=world.clock.now()), key))
    request = b"POST /sns HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(deep) + deep
    assert status_of(exchange(server, request)) == 200


# --- F14 --------------------------------------------------------------------------------------------


def test_f14_a_genuine_notification_that_is_not_json_is_kept_counted_and_alerted(
    server: LocalHttpServer,
    key: rsa.RSAPrivateKey,
    world: World,
    ingest: dict[str, EventIngestor],
    alerts: Alerts,
    counts: Counts,
) -> None:
    ingest["to"] = EventIngestor(
        world.archive, world.feedback, world.replies, world.clock, metrics=counts, notifier=alerts
    )
    signed = sns_body(sns_sign(notification("this is not an SES event", at=world.clock.now()), key))
    request = b"POST /sns HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(signed) + signed
    assert status_of(exchange(server, request)) == 200  # SNS must not retry what a retry cannot fix

    kept = [blob for name, blob in world.archive.blobs.items() if name.startswith("events/_rejected/")]
    assert [json.loads(gzip.decompress(blob))["unreadable"] for blob in kept] == ["this is not an SES event"]
    assert ("FeedbackIgnored", {"Reason": "malformed"}) in counts.values
    [alert] = alerts.sent
    assert alert.kind == "feedback.rejected" and "events/_rejected/" in alert.message
