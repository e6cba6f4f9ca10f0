"""The local endpoint's SQS hands a message to one consumer at a time: moto's ReceiveMessage picks and
marks without a lock, and its server runs each request on a thread of its own (localaws/moto_fixes.py).
Threads switch every microsecond here, so that the race shows in every run."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest
from moto.sqs.models import SQSBackend

from localaws import moto_fixes

CONSUMERS = 8
ROUNDS = 40


@pytest.fixture
def switch_often() -> Iterator[None]:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def races(backend: SQSBackend, queue: str) -> list[str]:
    """What went wrong while CONSUMERS threads received from a queue holding one message, ROUNDS times:
    the message reaching two of them, or a receive failing."""
    found: list[str] = []
    for _ in range(ROUNDS):
        backend.send_message(queue, "one completion")
        start = threading.Barrier(CONSUMERS)
        got: list = []

        def consume(start: threading.Barrier = start, got: list = got) -> None:
            start.wait()
            try:
                got.extend(backend.receive_message(queue, 10, 0, 30))
            except Exception as error:  # moto's own state raced: the endpoint would answer 500
                found.append(f"{type(error).__name__}: {error}")

        threads = [threading.Thread(target=consume) for _ in range(CONSUMERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(got) > 1:
            found.append(f"one message received {len(got)} times")
        if got:
            backend.delete_message(queue, got[-1].receipt_handle)
    return found


def test_concurrent_receives_never_share_a_message(switch_often):
    moto_fixes.apply()
    backend = SQSBackend("us-east-1", "123456789012")
    backend.create_queue("lock-test")
    assert races(backend, "lock-test") == []


def test_the_queue_counts_and_visibility_are_moto_s_own():
    """The counts read the clock once instead of twice a message; what they count is unchanged, and a
    message given back (visibility 0) is visible at once."""
    moto_fixes.apply()
    backend = SQSBackend("us-east-1", "123456789012")
    backend.create_queue("count-test")
    for index in range(5):
        backend.send_message("count-test", f"m{index}")
    backend.send_message("count-test", "later", delay_seconds=60)
    held = backend.receive_message("count-test", 2, 0, 30)
    attributes = backend.get_queue_attributes("count-test", ["All"])
    assert attributes["ApproximateNumberOfMessages"] == 3
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == 2
    assert attributes["ApproximateNumberOfMessagesDelayed"] == 1
    backend.change_message_visibility("count-test", held[0].receipt_handle, 0)
    again = backend.receive_message("count-test", 10, 0, 30)
    assert held[0].body in [message.body for message in again] and len(again) == 4
