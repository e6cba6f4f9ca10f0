"""The completion waiter with a fake queue and clock: when it polls the status, what it deletes,
what it gives back."""

import json

import pytest

from launcher.jobs.notifications import SHARED_STATUS_SECONDS, YIELD_SECONDS, CompletionWaiter, Timeout
from tests.support.pulumi_mocks import FakeClock

JOB = "a" * 64


class FakeQueue:
    """Each receive returns the next scripted batch, and the long poll takes its full wait."""

    def __init__(self, clock: FakeClock, batches: list[list[str]]) -> None:
        self.clock, self.batches = clock, batches
        self.deleted, self.released, self.waits = [], [], []

    def receive_message(self, QueueUrl, MaxNumberOfMessages, WaitTimeSeconds):
        self.waits.append(WaitTimeSeconds)
        batch = self.batches.pop(0) if self.batches else []
        if not batch:
            self.clock.now += WaitTimeSeconds
        return {
            "Messages": [{"MessageId": f"m{i}", "ReceiptHandle": body, "Body": body} for i, body in enumerate(batch)]
        }

    def delete_message(self, QueueUrl, ReceiptHandle):
        self.deleted.append(ReceiptHandle)

    def change_message_visibility(self, QueueUrl, ReceiptHandle, VisibilityTimeout):
        assert VisibilityTimeout == 0
        self.released.append(ReceiptHandle)


def completion(job_id: str, status: str = "SUCCEEDED") -> str:
    return json.dumps({"JobId": job_id, "Status": status, "API": "StartFaceDetection"})


def waiter(queue, clock, statuses, grace=60.0):
    checks = []

    def status(job_id):
        checks.append(clock.now)
        return statuses.pop(0) if statuses else "IN_PROGRESS"

    return CompletionWaiter(queue, "url", status, grace, clock=clock, sleep=clock.sleep), checks


def test_its_own_message_ends_the_wait_and_is_deleted_others_are_given_back():
    clock = FakeClock()
    mine, other = completion(JOB, "FAILED"), completion("b" * 64)
    queue = FakeQueue(clock, [[other, "not json"], [mine]])
    wait, checks = waiter(queue, clock, [])
    assert wait.wait(JOB, deadline=1000) == "FAILED"
    assert queue.deleted == [mine] and queue.released == [other]
    assert checks == [0.0], "the status is read once at the start"
    assert queue.waits[0] == 20, "long polls of 20 s"


def test_without_a_notification_the_status_is_polled_after_the_grace_period_then_with_backoff():
    clock = FakeClock()
    queue = FakeQueue(clock, [])
    wait, checks = waiter(queue, clock, ["IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"], grace=40)
    assert wait.wait(JOB, deadline=10_000) == "SUCCEEDED"
    assert checks == [0.0, 40.0, 50.0, 70.0]


def test_a_job_that_already_ended_needs_no_queue_at_all():
    clock = FakeClock()
    queue = FakeQueue(clock, [])
    wait, _ = waiter(queue, clock, ["SUCCEEDED"])
    assert wait.wait(JOB, deadline=100) == "SUCCEEDED"
    assert queue.waits == []


def test_the_deadline_is_a_timeout_that_names_the_job():
    clock = FakeClock()
    wait, _ = waiter(FakeQueue(clock, []), clock, [])
    with pytest.raises(Timeout, match=f"--attach {JOB}"):
        wait.wait(JOB, deadline=45)
    assert clock.now == pytest.approx(45)


def test_on_a_shared_queue_the_status_is_also_read_every_few_seconds():
    """Other jobs' completions say the queue is shared: this job's message may go round the other
    launchers and on to the dead-letter queue, so the grace period is not waited out."""
    clock = FakeClock()
    others = [[completion(f"{index}" * 64)] for index in range(1, 4)]
    queue = FakeQueue(clock, others)
    wait, checks = waiter(queue, clock, ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"], grace=60)
    assert wait.wait(JOB, deadline=1000) == "SUCCEEDED"
    assert checks[0] == 0.0 and len(checks) == 3
    assert checks[-1] <= 2 * SHARED_STATUS_SECONDS + 2 * YIELD_SECONDS, "well before the 60 s grace"
    assert queue.deleted == [] and len(queue.released) == 3
