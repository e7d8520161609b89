"""The worker's local HTTP server: stdlib ThreadingHTTPServer on 127.0.0.1 serving the WebApp.

Plain HTTP on loopback by design: put a TLS-terminating reverse proxy (Caddy, nginx) in front to
expose it as the https:// endpoint SNS and List-Unsubscribe need. Bodies are capped; nothing here
keeps sessions or sets cookies. Hostile clients get a 4xx or a closed connection, never a handler
thread held forever: every socket read has a timeout, a bad Content-Length is a 400, HTTP/0.9 and
chunked bodies are refused, and a handler's failure is one log line, not a traceback on stderr.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from adapters.web import WebApp, WebRequest, WebResponse

log = structlog.get_logger(__name__)

MAX_BODY = 1024 * 1024  # SNS messages are at most 256 KiB; receipts carrying a message more
READ_TIMEOUT_S = 10.0  # per socket read: a client that stops sending mid-request is dropped


class _BadRequest(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.response = WebResponse.text(status, text)


class _Handler(BaseHTTPRequestHandler):
    app: WebApp
    read_timeout: float = READ_TIMEOUT_S
    server_version = "outreach"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # a garbled request line still gets a status line with its 400

    def setup(self) -> None:
        self.request.settimeout(self.read_timeout)  # every read and write on this socket, headers included
        super().setup()

    def parse_request(self) -> bool:
        raw: bytes = getattr(self, "raw_requestline", b"")
        words = raw.split()
        # HTTP/0.9 ("GET /", or a request line naming it) has no headers and no status line: refuse.
        if len(words) == 2 or (len(words) >= 3 and words[-1].upper().startswith(b"HTTP/0.")):
            self.close_connection = True
            return False
        return super().parse_request()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise _BadRequest(411, "send the body with a Content-Length (chunked is not supported)")
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not declared.isdigit():
            raise _BadRequest(400, "Content-Length is not a number")
        length = int(declared)
        if length > MAX_BODY:
            raise _BadRequest(413, "request body too large")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise _BadRequest(400, "the body is shorter than its Content-Length")
        return body

    def _serve(self) -> None:
        try:
            body = self._body()
        except _BadRequest as bad:
            self.close_connection = True
            self._send(bad.response)
            return
        except TimeoutError:
            self.close_connection = True
            self._send(WebResponse.text(408, "the request body did not arrive in time"))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = self.app.handle(WebRequest(self.command, self.path, headers, body))
        except Exception as exc:
            log.error("http.handler_failed", route=self._route(), error=type(exc).__name__)
            response = WebResponse.text(500, "internal error")
        self._send(response)

    def _send(self, response: WebResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

    def _route(self) -> str:
        path = getattr(self, "path", "") or ""
        return "/" + path.split("?", 1)[0].split("/")[1][:20] if path.startswith("/") else "-"

    def log_message(self, format: str, *args: object) -> None:
        # Paths carry unsubscribe tokens: log the route, not the token.
        log.info("http.request", method=getattr(self, "command", None), route=self._route())

    def log_error(self, format: str, *args: Any) -> None:
        log.info("http.refused", route=self._route(), reason=(format % args)[:200])


def _handler(app: WebApp, timeout: float) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"app": app, "read_timeout": timeout})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that vanishes mid-response (reset, broken pipe) is not our bug: one line, no traceback.
        import sys

        log.info("http.connection_error", error=type(sys.exc_info()[1]).__name__)


class LocalHttpServer:
    def __init__(
        self, app: WebApp, host: str = "127.0.0.1", port: int = 8025, *, timeout: float | None = None
    ) -> None:
        self._server = _Server((host, port), _handler(app, READ_TIMEOUT_S if timeout is None else timeout))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalHttpServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="outreach-http",
            daemon=True,
        )
        self._thread.start()
        log.info("http.started", url=self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
