"""F7: provider texts quote the recipient; no address reaches a log line or a stored reason, and
erasure reaches every record that still holds the address."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrypoints.worker import LocalWorker, WorkerStats
from outreach_core.domain.jobs import JobStatus
from outreach_core.records import Records
from tests.harness import harness, seed_tenant
from tests.hostile.world import TENANT, workspace_world
from tests.smtp_sink import SinkHandler, start_sink

BOB = "bob@corp-x.com"


@pytest.fixture
def refusing_sink() -> Iterator[tuple[SinkHandler, int]]:
    handler = SinkHandler(refuse_rcpt={BOB: f"550 5.1.1 <{BOB}>: Recipient address rejected: User unknown"})
    controller = start_sink(handler)
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def everything_stored(db: Path) -> str:
    """Every byte of the workspace's database: items, queue messages, dead letters."""
    with sqlite3.connect(db) as conn:
        items = conn.execute("SELECT partition, sort, data FROM items").fetchall()
        queue = conn.execute("SELECT body, reason FROM queue_messages").fetchall()
    return repr(items) + repr(queue)


def test_f7_a_refusal_quoting_the_address_is_redacted_then_erasure_leaves_no_trace(
    tmp_path: Path, refusing_sink: tuple[SinkHandler, int], logs: list[dict[str, Any]]
) -> None:
    _, port = refusing_sink
    app = workspace_world(tmp_path, f"email,first_name\n{BOB},Bob\n", mailer="smtp", smtp_port=port,
                          unsubscribe_secret="redaction-test", log_level="INFO")  # fmt: skip
    worker, stats = LocalWorker.from_app(app), WorkerStats()
    for _ in range(30):
        stats.add(worker.run_once())
        if stats.outcomes.get("bounced"):
            break
        time.sleep(0.1)
    [job] = app.services.records().jobs(TENANT)
    assert job.status is JobStatus.BOUNCED
    assert "5.1.1" in job.status_reason and "***@corp-x.com" in job.status_reason
    assert BOB not in job.status_reason
    assert [line for line in logs if line["event"] == "job.finished"], "the refusal was logged"
    assert not [line for line in logs if BOB in repr(line)], "no log line holds the address"

    report = app.services.suppression().erase(TENANT, BOB, at=job.updated_at, actor="dana", reason="Art. 17")

    assert report.lead_erased
    stored = everything_stored(tmp_path / "outreach.db")
    assert BOB not in stored and "Bob" not in stored
    assert app.services.records().suppression_for(TENANT, BOB) is not None, "still suppressed"


def test_f7_an_unexpected_failure_quoting_the_to_header_is_redacted(
    tmp_path: Path, logs: list[dict[str, Any]]
) -> None:
    h = harness(tmp_path)
    [ann] = seed_tenant(h, leads=["ann@corp-x.com"], steps=1)

    def explode() -> None:
        raise RuntimeError(
            f"header value appears to contain an embedded header: 'To: Ann <{ann}>\\r\\nBcc: x'"
        )

    h.mailer.fail_next(ann, explode)
    assert h.tick_and_send() == ["uncertain"]
    [job] = h.records.jobs(TENANT)
    assert job.status is JobStatus.UNCERTAIN and ann not in job.status_reason
    warnings = [line for line in logs if line["event"] == "job.uncertain"]
    assert warnings and ann not in repr(warnings)


def test_f7_erasure_scrubs_a_reason_stored_before_redaction(tmp_path: Path) -> None:
    h = harness(tmp_path)
    [ann] = seed_tenant(h, leads=["ann@corp-x.com"], steps=1)
    h.tick_and_send()
    [job] = h.records.jobs(TENANT)
    # As main stored it: the provider's words, address and all.
    legacy = job.model_copy(update={"status_reason": f"MailRejected: 550 5.1.1 <{ann}> unknown user"})
    Records(h.store).save_job(legacy)

    report = h.app.services.suppression().erase(TENANT, ann, at=h.clock.now(), actor="dana", reason="r")

    assert report.jobs_scrubbed == 1
    assert ann not in repr(sorted(h.store.items.items()))
