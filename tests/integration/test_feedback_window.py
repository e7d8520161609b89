"""The local worker's feedback batching window (`feedback_batch_window_s`, the demo's 300 s): events wait
in the queue until the oldest visible one has waited the window out or a full batch is there, then go
in as one batch (one archive object per tenant); the virtual clock wakes when the window closes, and
nothing is dropped."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

from entrypoints.worker import LocalWorker, WorkerStats
from outreach_core.ports import QueueMessage
from tests.integration.small_world import World, small_world

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ses" / "delivery.json"
WINDOW = timedelta(minutes=5)


def _windowed(world: World) -> LocalWorker:
    app = world.app
    return LocalWorker(
        app.services.planner(),
        app.services.sender(),
        app.services.ingestor(),
        app.adapters.job_queue(),
        app.adapters.event_queue(),
        world.clock,
        feedback_window=WINDOW,
    )


def _event(n: int) -> QueueMessage:
    body = json.loads(FIXTURE.read_text())
    body["mail"]["messageId"] = f"no-such-message-{n}"  # unmatched: archived, counted, applied to nothing
    body["mail"]["tags"] = {"tenant": ["acme"]}
    return QueueMessage(body=json.dumps(body), group="acme")


def _archived_lines(world: World) -> tuple[int, int]:
    """(archive objects, raw events in them) under the events prefix."""
    root = world.app.settings().archive_root
    blobs = list(Path(root).rglob("*.jsonl.gz"))
    return len(blobs), sum(len(gzip.decompress(p.read_bytes()).splitlines()) for p in blobs)


def test_events_wait_for_the_window_then_go_in_as_one_batch(tmp_path: Path) -> None:
    world = small_world(tmp_path)
    worker, events = _windowed(world), world.app.adapters.event_queue()
    try:
        events.send(_event(1))
        opened = world.clock.now()
        world.clock.advance_to(opened + timedelta(minutes=2))
        events.send(_event(2))
        assert worker.next_wake() == opened + WINDOW  # not the events' own visibility: the window's close
        world.clock.advance_to(opened + WINDOW - timedelta(seconds=1))
        worker.drain(WorkerStats())
        assert events.visible()[0] == 2 and _archived_lines(world) == (0, 0)
        world.clock.advance_to(opened + WINDOW)
        worker.drain(WorkerStats())
        assert events.visible() == (0, None) and events.next_visible_at() is None
        assert _archived_lines(world) == (1, 2)  # both raw events, in one object
    finally:
        world.close()


def test_a_full_batch_goes_in_at_once(tmp_path: Path) -> None:
    world = small_world(tmp_path)
    worker, events = _windowed(world), world.app.adapters.event_queue()
    try:
        full = worker.batch * 5
        events.send_many([(_event(n), 0) for n in range(full - 1)])
        worker.drain(WorkerStats())
        assert events.visible()[0] == full - 1  # one short of a batch: it waits
        events.send(_event(full))
        worker.drain(WorkerStats())
        assert events.visible()[0] == 0 and _archived_lines(world) == (1, full)
    finally:
        world.close()


def test_with_a_window_the_world_still_runs_to_the_end_and_every_event_is_archived(tmp_path: Path) -> None:
    world = small_world(tmp_path)
    world.worker = _windowed(world)
    try:
        stats = WorkerStats()
        deadline = world.clock.now() + timedelta(days=6)
        last = None
        while world.clock.now() < deadline:
            last, wake, step_end = world.worker.virtual_step(
                world.clock, stats, last, tick=timedelta(minutes=5), step=timedelta(minutes=1)
            )
            if wake is None:
                break
            world.clock.advance_to(max(wake, step_end))
        events = world.app.adapters.event_queue()
        assert events.next_visible_at() is None and not events.dead_letters()
        records = world.app.services.records()
        jobs = [j for t in ("acme", "globex") for j in records.jobs(t)]
        terminal = {"delivered", "bounced", "complained", "suppressed", "cancelled"}
        assert jobs and all(j.status.value in terminal for j in jobs)
        simulator = world.app.adapters.simulator()
        objects, lines = _archived_lines(world)
        assert lines == stats.events_applied + stats.events_rejected + stats.replies >= len(simulator.ledger)
        assert objects < lines  # batched: fewer objects than events
    finally:
        world.close()
