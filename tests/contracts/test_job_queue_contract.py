"""The JobQueue contract, run against every implementation (see conftest.QUEUE_FACTORIES)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from outreach_core.ports import QueueMessage

Queue = tuple[Any, Callable[[float], None]]


def msg(body: str, group: str = "t1") -> QueueMessage:
    return QueueMessage(body=body, group=group)


def test_a_sent_message_is_received_once_and_gone_after_ack(queue_with_clock: Queue) -> None:
    queue, _ = queue_with_clock
    queue.send(msg("hello"))
    [received] = queue.receive(10)
    assert received.body == "hello" and received.group == "t1" and received.receive_count == 1
    assert queue.receive(10) == []  # invisible while in flight
    queue.ack(received.receipt)
    assert queue.receive(10) == []


def test_a_delayed_message_stays_invisible_until_its_delay_passes(queue_with_clock: Queue) -> None:
    queue, advance = queue_with_clock
    queue.send(msg("later"), delay_seconds=5)
    assert queue.receive(10) == []
    advance(6)
    assert [m.body for m in queue.receive(10)] == ["later"]


def test_delays_beyond_the_maximum_are_refused(queue_with_clock: Queue) -> None:
    queue, _ = queue_with_clock
    with pytest.raises(ValueError):
        queue.send(msg("too late"), delay_seconds=queue.max_delay_seconds + 1)


def test_an_unacked_message_returns_after_the_visibility_timeout(queue_with_clock: Queue) -> None:
    queue, advance = queue_with_clock
    queue.send(msg("again"))
    first = queue.receive(10)[0]
    advance(31)
    second = queue.receive(10)[0]
    assert second.message_id == first.message_id and second.receive_count == 2
    queue.ack(first.receipt)  # a stale receipt does not delete the redelivered message
    queue.ack(second.receipt)
    advance(31)
    assert queue.receive(10) == []


def test_too_many_receives_move_a_message_to_the_dead_letters(queue_with_clock: Queue) -> None:
    queue, advance = queue_with_clock
    queue.send(msg("poison"))
    for _ in range(3):
        assert queue.receive(10)
        advance(31)
    assert queue.receive(10) == []
    [dead] = queue.dead_letters()
    assert dead.body == "poison" and dead.receive_count >= 3


def test_dead_letter_moves_a_received_message_at_once_with_its_reason(queue_with_clock: Queue) -> None:
    queue, _ = queue_with_clock
    queue.send(msg("bad"))
    [received] = queue.receive(10)
    queue.dead_letter(received.receipt, "malformed")
    [dead] = queue.dead_letters()
    assert dead.reason == "malformed" and dead.body == "bad"


def test_redrive_returns_dead_letters_to_the_queue(queue_with_clock: Queue) -> None:
    queue, _ = queue_with_clock
    for body in ("a", "b"):
        queue.send(msg(body))
    for received in queue.receive(10):
        queue.dead_letter(received.receipt, "x")
    first = queue.dead_letters()[0]
    assert queue.redrive([first.message_id]) == 1
    assert [m.body for m in queue.receive(10)] == [first.body]
    assert queue.redrive() == 1
    assert len(queue.receive(10)) == 1
    assert queue.dead_letters() == []


def test_receive_returns_at_most_the_batch_size(queue_with_clock: Queue) -> None:
    queue, _ = queue_with_clock
    for n in range(15):
        queue.send(msg(str(n)))
    assert len(queue.receive(10)) == 10
    assert len(queue.receive(10)) == 5


def test_stats_count_backlog_in_flight_delayed_and_dead(queue_with_clock: Queue) -> None:
    queue, advance = queue_with_clock
    for body in ("a", "b", "c"):
        queue.send(msg(body))
    queue.send(msg("later"), delay_seconds=60)
    advance(5)
    [first] = queue.receive(1)
    [second] = queue.receive(1)
    queue.dead_letter(second.receipt, "x")
    stats = queue.stats()
    assert (stats.visible, stats.in_flight, stats.delayed, stats.dead) == (1, 1, 1, 1)
    assert stats.oldest_age_s >= 5
    queue.ack(first.receipt)


def test_send_many_enqueues_each_with_its_own_delay(queue_with_clock: Queue) -> None:
    queue, advance = queue_with_clock
    batch = [(msg(f"m{n}", group=f"t{n % 2}"), 0 if n < 12 else 5) for n in range(14)]
    ids = queue.send_many(batch)
    assert len(ids) == 14 and len(set(ids)) == 14 and all(ids)
    now = []
    while received := queue.receive(10):
        now.extend(received)
    assert sorted(m.body for m in now) == sorted(f"m{n}" for n in range(12))
    assert {m.group for m in now} == {"t0", "t1"}
    advance(6)
    assert sorted(m.body for m in queue.receive(10)) == ["m12", "m13"]


def test_send_many_refuses_delays_beyond_the_maximum(queue_with_clock: Queue) -> None:
    queue, _ = queue_with_clock
    with pytest.raises(ValueError):
        queue.send_many([(msg("ok"), 0), (msg("too late"), queue.max_delay_seconds + 1)])
