"""Sender hot path vs a bare smtplib loop, side by side, to the same local aiosmtpd sink.

Ours: SQLite state store + SQLite queue + SenderService (all checks, rendering, CAS writes, windows)
+ SmtpMailer over one reused connection. Baseline: smtplib.sendmail of the very same MIME bytes over one
connection, no state at all. The ratio is the price of the guarantees per message.
"""

from __future__ import annotations

import smtplib
import socket
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from dependency_injector import providers

from adapters.clock import VirtualClock
from entrypoints.container import build
from entrypoints.log_setup import configure_logging
from entrypoints.settings import Settings
from outreach_core.domain.models import CampaignStep, Quotas
from outreach_core.domain.window import SendWindow

MESSAGES = 2000
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def _prepared(tmp: Path, port: int) -> Any:
    app = build(Settings(workspace=tmp, mailer="smtp", smtp_port=port, planner_horizon_s=900))
    clock = VirtualClock(START)
    app.adapters.clock.override(providers.Object(clock))
    admin = app.services.admin()
    always = SendWindow(days=(0, 1, 2, 3, 4, 5, 6), start=datetime.min.time(), end=datetime.min.time())
    admin.add_tenant(
        "bench", "Bench", "1 Main Street", window=always, quotas=Quotas(daily=10**7, hourly=10**7)
    )
    admin.add_direction("bench", "d", "D")
    for n in range(4):
        admin.add_identity("bench", f"id{n}", f"rep{n}@bench-mail.com", daily_cap=10**6)
    admin.add_template("bench", "t", "{Hi|Hello} {{first_name|there}}", "A note for {{company|you}}.\n" * 5)
    admin.add_campaign("bench", "c", "d", [CampaignStep(number=1, template_id="t")])
    rows = "email,first_name,company\n" + "".join(
        f"u{n}@corp-{n % 50}.com,Name{n},Corp {n}\n" for n in range(MESSAGES)
    )
    app.services.leads().import_csv("bench", rows.encode())
    admin.start_campaign("bench", "c")
    planner = app.services.planner()
    while planner.tick().planned:
        pass
    clock.advance(timedelta(minutes=16))
    return app


def run() -> dict[str, Any]:
    configure_logging("ERROR")
    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = _prepared(Path(tmp), controller.port)
            queue, sender = app.adapters.job_queue(), app.services.sender()
            started = time.perf_counter()
            while messages := queue.receive(10):
                for message in messages:
                    sender.handle(message)
                    queue.ack(message.receipt)
            ours = time.perf_counter() - started
            app.adapters.mailer().close()
        sent = list(sink.messages)
        conn = smtplib.SMTP("127.0.0.1", controller.port)
        started = time.perf_counter()
        for sender_address, recipients, content in sent:
            conn.sendmail(sender_address, recipients, content)
        bare = time.perf_counter() - started
        conn.quit()
    finally:
        controller.stop()
    return {
        "messages": len(sent),
        "outreach_sender_msgs_per_s": round(len(sent) / ours, 1),
        "bare_smtplib_msgs_per_s": round(len(sent) / bare, 1),
        "ratio_bare_over_outreach": round(bare and (len(sent) / bare) / (len(sent) / ours), 2),
        "outreach_ms_per_message": round(1000 * ours / len(sent), 2),
        "bare_ms_per_message": round(1000 * bare / len(sent), 2),
    }
