"""An SMTP sink in its own process, for the sender benchmarks: aiosmtpd on 127.0.0.1, accepting every
message and appending it to a file as a JSON line (envelope and the raw bytes, base64), so the bench can
check what arrived (each job once) and replay the very same bytes through a bare smtplib loop.

    python -m bench.smtp_sink PORT OUTFILE     # prints "ready" when it listens; stops on SIGTERM
"""

from __future__ import annotations

import base64
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _Recorder:
    def __init__(self, out: Path) -> None:
        self.file = out.open("a", encoding="ascii", buffering=1 << 16)
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        line = json.dumps(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": base64.b64encode(envelope.original_content).decode("ascii"),
            }
        )
        with self.lock:
            self.file.write(line + "\n")
        return "250 OK"


def read(out: Path) -> list[tuple[str, list[str], bytes]]:
    """What a sink recorded: (mail from, recipients, raw bytes) in arrival order."""
    messages = []
    for line in out.read_text(encoding="ascii").splitlines():
        record = json.loads(line)
        messages.append((record["from"], record["to"], base64.b64decode(record["data"])))
    return messages


def main(port: int, out: Path) -> None:
    recorder = _Recorder(out)
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()
    recorder.file.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
