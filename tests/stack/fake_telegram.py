"""A stand-in for api.telegram.org on 127.0.0.1: the Telegram relay function's Bot API in the stack test.
Checks the bot token in the path, records each sendMessage, answers like the Bot API."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeTelegram:
    def __init__(self) -> None:
        self.token = f"{secrets.randbelow(10**9)}:stack-{secrets.token_hex(8)}"
        self.messages: list[dict[str, Any]] = []
        self.refused: list[str] = []
        bot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                if self.path != f"/bot{bot.token}/sendMessage":
                    bot.refused.append(self.path.split("/")[-1])
                    status, body = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                else:
                    bot.messages.append(payload)
                    status, body = 200, {"ok": True, "result": {"message_id": len(bot.messages)}}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def texts(self) -> list[str]:
        return [str(m.get("text", "")) for m in self.messages]

    def __enter__(self) -> FakeTelegram:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
