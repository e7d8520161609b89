"""The worker's local HTTP server: stdlib ThreadingHTTPServer on 127.0.0.1 serving the WebApp.

Plain HTTP on loopback by design: put a TLS-terminating reverse proxy (Caddy, nginx) in front to
expose it as the https:// endpoint SNS and List-Unsubscribe need. Bodies are capped; nothing here
keeps sessions or sets cookies.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog

from adapters.web import WebApp, WebRequest, WebResponse

log = structlog.get_logger(__name__)

MAX_BODY = 1024 * 1024  # SNS messages are at most 256 KiB; receipts carrying a message more


def _handler(app: WebApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "outreach"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(WebResponse.text(413, "request body too large"))
                return
            body = self.rfile.read(length) if length > 0 else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                response = app.handle(WebRequest(self.command, self.path, headers, body))
            except Exception:
                log.exception("http.handler_failed", path=self.path.split("/")[1][:20])
                response = WebResponse.text(500, "internal error")
            self._send(response)

        def _send(self, response: WebResponse) -> None:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            # Paths carry unsubscribe tokens: log the route, not the token.
            log.info("http.request", method=self.command, route="/" + self.path.split("/")[1][:20])

    return Handler


class LocalHttpServer:
    def __init__(self, app: WebApp, host: str = "127.0.0.1", port: int = 8025) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(app))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalHttpServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="outreach-http", daemon=True)
        self._thread.start()
        log.info("http.started", url=self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
