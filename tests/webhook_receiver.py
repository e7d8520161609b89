"""A webhook receiver on 127.0.0.1, written as a tenant's developer would: it verifies the signature
over timestamp + body, refuses stale timestamps, and recognises a delivery it has already seen (the
same X-Outreach-Delivery id). It answers what the test scripts (e.g. 500 for the first try)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from outreach_core.domain.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    repeat: bool  # a delivery id this receiver had already accepted


@dataclass
class Receiver:
    secret: str
    now: Callable[[], int]
    port: int = 0
    script: list[int] = field(default_factory=list)  # statuses to answer, in order; then 200
    requests: list[Received] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def check(self, headers: dict[str, str], body: bytes) -> Received:
        try:
            timestamp = int(headers.get(TIMESTAMP_HEADER, ""))
        except ValueError:
            timestamp = 0
        verified = verify(self.secret, timestamp, body, headers.get(SIGNATURE_HEADER, ""), now=self.now())
        return Received(headers, body, verified, headers.get(DELIVERY_HEADER, "") in self.accepted)


@contextmanager
def webhook_receiver(secret: str, now: Callable[[], int]) -> Iterator[Receiver]:
    receiver = Receiver(secret, now)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got = receiver.check(dict(self.headers.items()), body)
            receiver.requests.append(got)
            status = receiver.script.pop(0) if receiver.script else 200
            if not got.verified:
                status = 401
            if status == 200:
                receiver.accepted.add(got.headers.get(DELIVERY_HEADER, ""))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
