"""The completion waiter with a fake queue and clock: when it polls the status, what it deletes,
what it gives back."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.stub import Stubber

from launcher.jobs.detection import FaceDetection
from launcher.jobs.notifications import (
    CLEANUP_SECONDS,
    FIRST_QUEUED,
    HANDOVER_SECONDS,
    LOOK_SECONDS,
    SHARED_STATUS_SECONDS,
    YIELD_SECONDS,
    CompletionWaiter,
    Timeout,
    receive_completions,
)
from tests.support.pulumi_mocks import FakeClock

JOB = "a" * 64


class FakeQueue:
    """Each receive returns the next scripted batch, and the long poll takes its full wait. A scripted
    message is a body (queued at time 0) or a (body, sent_ms, first_queued_ms) tuple."""

    def __init__(self, clock: FakeClock, batches: list[list], refuse_send: bool = False) -> None:
        self.clock, self.batches, self.refuse_send = clock, batches, refuse_send
        self.deleted, self.released, self.waits, self.sent = [], [], [], []

    def receive_message(self, QueueUrl, MaxNumberOfMessages, WaitTimeSeconds, AttributeNames, MessageAttributeNames):
        assert "SentTimestamp" in AttributeNames and FIRST_QUEUED in MessageAttributeNames
        self.waits.append(WaitTimeSeconds)
        batch = self.batches.pop(0) if self.batches else []
        if not batch:
            self.clock.now += WaitTimeSeconds
        messages = []
        for i, item in enumerate(batch):
            body, sent, first = item if isinstance(item, tuple) else (item, 0, None)
            message = {"MessageId": f"m{i}", "ReceiptHandle": body, "Body": body}
            message["Attributes"] = {"SentTimestamp": str(sent)}
            if first is not None:
                message["MessageAttributes"] = {FIRST_QUEUED: {"DataType": "Number", "StringValue": str(first)}}
            messages.append(message)
        return {"Messages": messages}

    def delete_message(self, QueueUrl, ReceiptHandle):
        self.deleted.append(ReceiptHandle)

    def change_message_visibility(self, QueueUrl, ReceiptHandle, VisibilityTimeout):
        assert VisibilityTimeout == 0
        self.released.append(ReceiptHandle)

    def send_message(self, QueueUrl, MessageBody, MessageAttributes):
        if self.refuse_send:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessage")
        self.sent.append((MessageBody, MessageAttributes[FIRST_QUEUED]["StringValue"]))


def completion(job_id: str, status: str = "SUCCEEDED") -> str:
    return json.dumps({"JobId": job_id, "Status": status, "API": "StartFaceDetection"})


def waiter(queue, clock, statuses, grace=60.0):
    checks = []

    def status(job_id):
        checks.append(clock.now)
        return statuses.pop(0) if statuses else "IN_PROGRESS"

    return CompletionWaiter(queue, "url", status, grace, clock=clock, sleep=clock.sleep, wall_clock=clock), checks


def test_its_own_message_ends_the_wait_and_is_deleted_others_are_handed_over():
    clock = FakeClock()
    mine, other = completion(JOB, "FAILED"), completion("b" * 64)
    queue = FakeQueue(clock, [[other, "not json"], [mine]])
    wait, checks = waiter(queue, clock, [])
    assert wait.wait(JOB, deadline=1000) == "FAILED"
    assert queue.deleted == [other, mine] and queue.sent == [(other, "0")], "the other job's: a fresh copy"
    assert queue.released == [], "the malformed one is left alone, to reach the dead-letter queue"
    assert checks == [0.0], "the status is read once at the start"
    assert queue.waits[0] == 20, "long polls of 20 s"


def test_without_a_notification_the_status_is_polled_after_the_grace_period_then_with_backoff():
    clock = FakeClock()
    queue = FakeQueue(clock, [])
    wait, checks = waiter(queue, clock, ["IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"], grace=40)
    assert wait.wait(JOB, deadline=10_000) == "SUCCEEDED"
    assert checks == [0.0, 40.0, 50.0, 70.0]


def test_a_job_that_already_ended_takes_its_message_if_it_is_there():
    """The job ended before the wait began: its completion (if a new job published one) is taken off
    the queue with one short receive, not left to go round other consumers."""
    clock = FakeClock()
    mine = completion(JOB)
    queue = FakeQueue(clock, [[mine]])
    wait, _ = waiter(queue, clock, ["SUCCEEDED"])
    assert wait.wait(JOB, deadline=100) == "SUCCEEDED"
    assert queue.deleted == [mine] and queue.waits == [1]


def test_a_job_that_already_ended_with_nothing_on_the_queue_costs_one_short_look():
    clock = FakeClock()
    queue = FakeQueue(clock, [])
    wait, _ = waiter(queue, clock, ["SUCCEEDED"])
    assert wait.wait(JOB, deadline=100) == "SUCCEEDED"
    assert queue.waits == [1] and clock.now == pytest.approx(LOOK_SECONDS)


def test_a_short_look_that_shows_others_becomes_a_search():
    clock = FakeClock()
    other, mine = completion("b" * 64), completion(JOB)
    queue = FakeQueue(clock, [[other], [other], [], [mine]])
    wait, _ = waiter(queue, clock, ["SUCCEEDED"])
    assert wait.wait(JOB, deadline=100) == "SUCCEEDED"
    assert mine in queue.deleted


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
    assert len(queue.sent) == 3 and queue.released == []


# -- handing other jobs' completions over without using up their receives ---------------------------


def settle(queue: FakeQueue, now_s: float):
    return receive_completions(queue, "url", 0, JOB.__eq__, now_ms=lambda: now_s * 1000)


def test_within_the_window_another_jobs_completion_is_copied_with_its_first_queuing_time():
    clock = FakeClock()
    other = completion("b" * 64)
    queue = FakeQueue(clock, [[(other, 5_000, None)], [(other, 20_000, 5_000)]])
    assert settle(queue, 20).others == 1
    assert settle(queue, 30).others == 1
    assert queue.sent == [(other, "5000"), (other, "5000")], "the copy of a copy keeps the first time"
    assert queue.deleted == [other, other] and queue.released == []


def test_past_the_window_it_is_given_back_as_it_is_so_an_orphan_reaches_the_dead_letter_queue():
    clock = FakeClock()
    other = completion("b" * 64)
    late = HANDOVER_SECONDS + 0.001
    queue = FakeQueue(clock, [[(other, 0, None)], [(other, 29_000, 0)]])
    settle(queue, late)
    settle(queue, late)
    assert queue.sent == [] and queue.deleted == [] and queue.released == [other, other]


def test_a_copy_that_cannot_be_sent_is_given_back():
    clock = FakeClock()
    other = completion("b" * 64)
    queue = FakeQueue(clock, [[other]], refuse_send=True)
    settle(queue, 1)
    assert queue.released == [other] and queue.deleted == []


def test_on_a_shared_queue_a_launcher_done_through_its_status_deletes_its_own_message():
    """Its message is going round the other consumers: it looks for it a few seconds, deletes it,
    and so leaves nothing behind for the dead-letter queue."""
    clock = FakeClock()
    other, mine = completion("b" * 64), completion(JOB)
    queue = FakeQueue(clock, [[other], [other], [other], [], [mine]])
    wait, checks = waiter(queue, clock, ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"])
    assert wait.wait(JOB, deadline=1000) == "SUCCEEDED"
    assert len(checks) == 3, "the end came from the status, not from the message"
    assert mine in queue.deleted and queue.batches == []


def test_the_search_for_its_own_message_is_bounded():
    clock = FakeClock()
    other = completion("b" * 64)
    queue = FakeQueue(clock, [[other], [other]])
    wait, checks = waiter(queue, clock, ["IN_PROGRESS", "SUCCEEDED"])
    assert wait.wait(JOB, deadline=1000) == "SUCCEEDED"
    assert clock.now - checks[-1] <= CLEANUP_SECONDS + 1


def test_on_a_queue_nobody_shares_an_ended_status_returns_at_once():
    clock = FakeClock()
    queue = FakeQueue(clock, [])
    wait, _ = waiter(queue, clock, ["IN_PROGRESS", "SUCCEEDED"], grace=10)
    assert wait.wait(JOB, deadline=1000) == "SUCCEEDED"
    assert clock.now == pytest.approx(10 + LOOK_SECONDS), "one short look, no long search"


def test_a_status_answer_cut_to_nothing_is_a_closed_connection_not_a_key_error():
    """A connection cut mid-answer can leave an empty body, which botocore parses as {} (seen when the
    batch's endpoint went away): the status reads it as the cut, which the callers retry or report."""
    client = boto3.client(
        "rekognition",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with Stubber(client) as stub:
        stub.add_response("get_face_detection", {}, {"JobId": "j1", "MaxResults": 1})
        with pytest.raises(ConnectionClosedError):
            FaceDetection(client).status("j1")
        stub.add_response("get_face_detection", {"JobStatus": "SUCCEEDED"}, {"JobId": "j1", "MaxResults": 1})
        assert FaceDetection(client).status("j1")["JobStatus"] == "SUCCEEDED"
