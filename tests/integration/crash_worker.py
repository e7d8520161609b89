"""Run one worker pass whose process is SIGKILLed right after the SMTP server accepted the message.

Used by test_crash.py: `python -m tests.integration.crash_worker` with OUTREACH_* settings in the
environment. The kill lands between the provider's acceptance and the `sent` record, the worst moment.
"""

from __future__ import annotations

import os
import signal

from entrypoints.container import build
from entrypoints.worker import LocalWorker
from outreach_core.domain.mail import OutboundEmail, SendReceipt


def main() -> None:
    app = build()
    mailer = app.adapters.mailer()
    real_send = mailer.send

    def send_then_die(email: OutboundEmail) -> SendReceipt:
        real_send(email)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    mailer.send = send_then_die
    worker = LocalWorker.from_app(app)
    worker.run_once()


if __name__ == "__main__":
    main()
