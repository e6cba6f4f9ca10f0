"""The completion waiter with a fake queue and clock: when it polls the status, what it deletes,
what it gives back."""

import itertools
import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from botocore.stub import Stubber

from launcher.jobs.detection import FaceDetection
from launcher.jobs.notifications import (
    CLEANUP_SECONDS,
    FIRST_QUEUED,
    HANDOVER_SECONDS,
    HOLD_SECONDS,
    LOOK_SECONDS,
    MAX_SEARCH_PAUSE_SECONDS,
    SEARCH_PAUSE_SECONDS,
    SEARCH_WAIT_SECONDS,
    SHARED_STATUS_SECONDS,
    CompletionWaiter,
    Timeout,
    receive_completions,
    search_pauses,
    settlement,
)
from tests.support.pulumi_mocks import FakeClock

JOB = "a" * 64


class FakeQueue:
    """Each receive returns the next scripted batch, and the long poll takes its full wait. A scripted
    message is a body (queued at time 0) or a (body, sent_ms, first_queued_ms) tuple. Settling calls are
    recorded: ``calls`` by name, ``deleted``, ``released`` and ``sent`` (body, FirstQueued) by message."""

    def __init__(self, clock: FakeClock, batches: list[list], refuse_send: bool | set[int] = False) -> None:
        self.clock, self.batches, self.refuse_send = clock, batches, refuse_send
        self.deleted, self.released, self.waits, self.sent, self.calls, self.holds = [], [], [], [], [], []

    def receive_message(
        self, QueueUrl, MaxNumberOfMessages, WaitTimeSeconds, AttributeNames, MessageAttributeNames, **rest
    ):
        assert "SentTimestamp" in AttributeNames and FIRST_QUEUED in MessageAttributeNames
        assert MaxNumberOfMessages == 10
        self.calls.append("ReceiveMessage")
        self.waits.append(WaitTimeSeconds)
        self.holds.append(rest.get("VisibilityTimeout"))
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

    def delete_message_batch(self, QueueUrl, Entries):
        assert len(Entries) <= 10 and len({entry["Id"] for entry in Entries}) == len(Entries)
        self.calls.append("DeleteMessageBatch")
        self.deleted.extend(entry["ReceiptHandle"] for entry in Entries)
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries]}

    def change_message_visibility_batch(self, QueueUrl, Entries):
        assert all(entry["VisibilityTimeout"] == 0 for entry in Entries)
        self.calls.append("ChangeMessageVisibilityBatch")
        self.released.extend(entry["ReceiptHandle"] for entry in Entries)
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries]}

    def send_message_batch(self, QueueUrl, Entries):
        assert len(Entries) <= 10
        self.calls.append("SendMessageBatch")
        if self.refuse_send is True:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessageBatch")
        failed = [entry for i, entry in enumerate(Entries) if self.refuse_send and i in self.refuse_send]
        for entry in Entries:
            if entry not in failed:
                self.sent.append((entry["MessageBody"], entry["MessageAttributes"][FIRST_QUEUED]["StringValue"]))
        return {
            "Successful": [{"Id": entry["Id"]} for entry in Entries if entry not in failed],
            "Failed": [{"Id": entry["Id"], "Code": "InternalError", "SenderFault": False} for entry in failed],
        }


def completion(job_id: str, status: str = "SUCCEEDED") -> str:
    return json.dumps({"JobId": job_id, "Status": status, "API": "StartFaceDetection"})


def waiter(queue, clock, statuses, grace=60.0):
    checks = []

    def status(job_id):
        checks.append(clock.now)
        return statuses.pop(0) if statuses else "IN_PROGRESS"

    made = CompletionWaiter(
        queue,
        "url",
        status,
        grace,
        clock=clock,
        sleep=clock.sleep,
        wall_clock=clock,
        background=False,
        random=lambda: 1.0,
    )
    return made, checks


def test_its_own_message_ends_the_wait_and_is_deleted_others_are_handed_over():
    clock = FakeClock()
    mine, other = completion(JOB, "FAILED"), completion("b" * 64)
    queue = FakeQueue(clock, [[other, "not json", mine]])
    wait, checks = waiter(queue, clock, [])
    assert wait.wait(JOB, deadline=1000) == "FAILED"
    assert queue.sent == [(other, "0")], "the other job's: a fresh copy"
    assert sorted(queue.deleted) == sorted([other, mine])
    assert queue.released == [], "the malformed one is left alone, to reach the dead-letter queue"
    assert checks == [0.0], "the status is read once at the start"
    assert queue.waits[0] == 20, "long polls of 20 s"
    assert queue.holds[0] == HOLD_SECONDS


def test_a_receive_is_settled_in_at_most_three_calls_whatever_it_held():
    """The local endpoint (one process) and a busy queue run short of requests, not messages."""
    clock = FakeClock()
    others = [(completion(f"{index:064x}"), 0, None) for index in range(7)]
    past = [(completion(f"{index:064x}"), 0, 0) for index in range(7, 9)]
    queue = FakeQueue(clock, [[*others, *past, completion(JOB)]])
    received = receive_completions(queue, "url", 0, JOB.__eq__, now_ms=lambda: HANDOVER_SECONDS * 1000 - 1)
    assert received.others == 9 and [c.job_id for c in received.mine] == [JOB]
    assert queue.calls == ["ReceiveMessage", "SendMessageBatch", "DeleteMessageBatch"]
    received = receive_completions(
        FakeQueue(clock, [[*others, *past]]), "url", 0, JOB.__eq__, now_ms=lambda: HANDOVER_SECONDS * 1000 + 1
    )
    assert received.others == 9


def test_copies_are_sent_before_the_originals_are_deleted():
    clock = FakeClock()
    queue = FakeQueue(clock, [[completion("b" * 64), completion(JOB)]])
    receive_completions(queue, "url", 0, JOB.__eq__, now_ms=lambda: 1)
    assert queue.calls == ["ReceiveMessage", "SendMessageBatch", "DeleteMessageBatch"]


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
    assert queue.deleted == [mine] and queue.waits == [SEARCH_WAIT_SECONDS]


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


def test_on_a_shared_queue_the_launcher_stops_receiving_and_reads_its_status_every_few_seconds():
    """Another job's completion says the queue is shared: receiving while the job runs would only pass
    messages round. The status says within seconds that the job ended, whoever holds its message."""
    clock = FakeClock()
    others = [[completion("b" * 64)], [completion("c" * 64)], [completion("d" * 64)]]
    queue = FakeQueue(clock, [*others, [completion(JOB)]])
    wait, checks = waiter(queue, clock, ["IN_PROGRESS"] * 6 + ["SUCCEEDED"], grace=60)
    assert wait.wait(JOB, deadline=1000) == "SUCCEEDED"
    assert checks[0] == 0.0 and checks[1:] == pytest.approx([SHARED_STATUS_SECONDS * i for i in range(6)])
    assert queue.calls[:3] == ["ReceiveMessage", "SendMessageBatch", "DeleteMessageBatch"]
    assert queue.waits == [20, *[SEARCH_WAIT_SECONDS] * 3], "after the first, only the search's receives"
    assert clock.now - checks[-1] == pytest.approx(SEARCH_PAUSE_SECONDS * (1 + 2)), "two short receives: two pauses"
    assert len(queue.sent) == 3 and queue.released == []


def test_the_status_is_read_at_once_when_the_queue_turns_out_to_be_shared():
    clock = FakeClock()
    queue = FakeQueue(clock, [[completion("b" * 64)], [completion(JOB)]])
    wait, checks = waiter(queue, clock, ["IN_PROGRESS", "SUCCEEDED"])
    assert wait.wait(JOB, deadline=1000) == "SUCCEEDED"
    assert checks == [0.0, 0.0] and completion(JOB) in queue.deleted


def test_a_shared_wait_ends_at_its_deadline():
    clock = FakeClock()
    wait, checks = waiter(FakeQueue(clock, [[completion("b" * 64)]]), clock, [])
    with pytest.raises(Timeout):
        wait.wait(JOB, deadline=9)
    assert clock.now == pytest.approx(9) and checks == [0, 0, 2, 4, 6, 8, 9]


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


def test_the_pure_settlement_sorts_a_receive():
    other, old, mine = completion("b" * 64), completion("c" * 64), completion(JOB)
    messages = [
        {"Body": body, "ReceiptHandle": body, "Attributes": {"SentTimestamp": str(sent)}}
        for body, sent in ((other, 10_000), (old, 0), (mine, 0), ("{}", 0))
    ]
    plan = settlement(messages, JOB.__eq__, now_ms=HANDOVER_SECONDS * 1000 + 5_000)
    assert [m["Body"] for m, _ in plan.mine] == [mine]
    assert [(m["Body"], first) for m, first in plan.copy] == [(other, 10_000)]
    assert [m["Body"] for m in plan.release] == [old]
    assert [m["Body"] for m in plan.foreign] == ["{}"]


def test_a_copy_that_cannot_be_sent_is_given_back():
    clock = FakeClock()
    other = completion("b" * 64)
    queue = FakeQueue(clock, [[other]], refuse_send=True)
    settle(queue, 1)
    assert queue.released == [other] and queue.deleted == []


def test_of_a_batch_only_the_copies_sent_are_deleted_the_rest_given_back():
    clock = FakeClock()
    first, second = completion("b" * 64), completion("c" * 64)
    queue = FakeQueue(clock, [[first, second]], refuse_send={1})
    settle(queue, 1)
    assert queue.sent == [(first, "0")] and queue.deleted == [first] and queue.released == [second]


# -- the search for its own message after the status said the job ended -----------------------------


def test_on_a_shared_queue_a_launcher_done_through_its_status_deletes_its_own_message():
    """Its message is going round the other consumers: it receives back to back until it finds it,
    deletes it, and so leaves nothing behind for the dead-letter queue."""
    clock = FakeClock()
    other, mine = completion("b" * 64), completion(JOB)
    queue = FakeQueue(clock, [[other], [other], [other], [], [mine]])
    wait, checks = waiter(queue, clock, ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"])
    assert wait.wait(JOB, deadline=1000) == "SUCCEEDED"
    assert len(checks) == 3, "the end came from the status, not from the message"
    assert mine in queue.deleted and queue.batches == []
    assert queue.waits[1:] == [SEARCH_WAIT_SECONDS] * 4
    pauses = SEARCH_PAUSE_SECONDS * (1 + 2 + 4)
    assert clock.now - checks[-1] == pytest.approx(SEARCH_WAIT_SECONDS + pauses), "the empty receive waited"


def test_a_search_that_receives_a_full_batch_goes_on_at_once_and_backs_off_after_short_ones():
    """A full receive: the queue has more to look through, now. A short one: others hold the rest, so
    stepping back lets them settle it (and each later receive sees more of the queue)."""
    clock = FakeClock()
    full = [completion(f"{index:064x}") for index in range(10)]
    queue = FakeQueue(clock, [full, full, [full[0]], [full[0]], full, [full[0]], [completion(JOB)]])
    wait, _ = waiter(queue, clock, [])
    assert wait.search_own_message(JOB, shared=True)
    assert clock.now == pytest.approx(SEARCH_PAUSE_SECONDS * (1 + 2 + 1)), "the window starts again after a full one"


def test_search_pauses_are_jittered_within_a_doubling_window():
    assert list(itertools.islice(search_pauses(lambda: 1.0), 7)) == pytest.approx(
        [SEARCH_PAUSE_SECONDS * 2**i for i in range(5)] + [MAX_SEARCH_PAUSE_SECONDS] * 2
    )
    assert next(search_pauses(lambda: 0.25)) == pytest.approx(SEARCH_PAUSE_SECONDS / 4)


def test_the_search_for_its_own_message_is_bounded():
    clock = FakeClock()
    other = completion("b" * 64)
    queue = FakeQueue(clock, [[other], [other]])
    wait, checks = waiter(queue, clock, ["IN_PROGRESS", "SUCCEEDED"])
    assert wait.wait(JOB, deadline=1000) == "SUCCEEDED"
    assert clock.now - checks[-1] == pytest.approx(CLEANUP_SECONDS)


def test_on_a_queue_nobody_shares_an_ended_status_returns_at_once():
    clock = FakeClock()
    queue = FakeQueue(clock, [])
    wait, _ = waiter(queue, clock, ["IN_PROGRESS", "SUCCEEDED"], grace=10)
    assert wait.wait(JOB, deadline=1000) == "SUCCEEDED"
    assert clock.now == pytest.approx(10 + LOOK_SECONDS), "one short look, no long search"


class SlowQueue(FakeQueue):
    """Receives that take real time, from a real thread."""

    def receive_message(self, **request):
        time.sleep(0.01)
        return super().receive_message(**request)


def test_the_search_runs_in_the_background_and_is_joined_on_close():
    """The results can be read while the search goes on; leaving the waiter's block waits for it."""
    clock = FakeClock()
    other, mine = completion("b" * 64), completion(JOB)
    queue = SlowQueue(clock, [[other], *[[other]] * 5, [mine]])
    ended = lambda _: "SUCCEEDED" if queue.calls else "IN_PROGRESS"  # noqa: E731
    made = CompletionWaiter(queue, "url", ended, wall_clock=clock, random=lambda: 0.0)
    with made as wait:
        assert wait.wait(JOB, deadline=time.monotonic() + 100) == "SUCCEEDED"
    assert mine in queue.deleted and queue.batches == []


def test_ctrl_c_cuts_the_search_short():
    clock = FakeClock()
    other = completion("b" * 64)
    queue = SlowQueue(clock, [[other]] * 10_000)
    made = CompletionWaiter(queue, "url", lambda _: "SUCCEEDED" if queue.calls else "IN_PROGRESS", wall_clock=clock)
    with pytest.raises(KeyboardInterrupt), made as wait:
        wait.wait(JOB, deadline=time.monotonic() + 100)
        raise KeyboardInterrupt
    assert len(queue.calls) < 100 and made._search is not None and not made._search.is_alive()


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


def test_a_search_whose_endpoint_stops_answering_ends_quietly():
    """The search runs after the job ended, often in the background while the results are written:
    an endpoint gone meanwhile ends it with a warning, not a traceback from its thread."""

    class Gone(FakeQueue):
        def receive_message(self, **_):
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    clock = FakeClock()
    wait, _ = waiter(Gone(clock, []), clock, [])
    assert wait.search_own_message(JOB, shared=True) is False
