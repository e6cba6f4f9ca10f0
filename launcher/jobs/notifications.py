"""Waiting for a job's completion on the stack's SQS queue.

Long polls (20 s waits) return the moment a message arrives. Both the SNS envelope and raw delivery
are read. A message for this job is deleted. A message that is not a Rekognition completion is
logged and left alone, so that after maxReceiveCount receives SQS moves it to the dead-letter queue.

The queue may be shared by several launchers and batches (docs/launcher.md, "A shared queue").
Every receive counts towards maxReceiveCount, so a completion that went round the other consumers
would reach the dead-letter queue although its owner was still waiting. So another job's completion
is handed over without using up its receives: for ``HANDOVER_SECONDS`` after SQS first queued it,
the consumer that received it sends an identical copy (its receive count starts at zero; the
``FirstQueued`` attribute keeps the first time) and deletes the one it holds. After that window its
owner is taken to be gone: the message is made visible again as it is, and after maxReceiveCount
receives it reaches the dead-letter queue, where an alarm means something. After handing messages
over, the launcher pauses a moment before its next receive, so that their owners, not this launcher
again, receive them.

A notification can fail to come: the token returned a job that had already ended (the service
publishes no second notification), another launcher holds it, or the channel is broken. So the job's
status is checked at once, then again after a grace period without notification, and then with
backoff, until the job ends or the deadline passes.

A shared queue is recognised the first time another job's completion is received: from then on the
job's status is also read every ``SHARED_STATUS_SECONDS``, so a launcher among many finishes within
seconds of its job's end. A launcher that learnt the end from the status, not from its message (a job
can also end before its launcher starts waiting), receives a moment more to delete its own message:
one short receive, or up to ``CLEANUP_SECONDS`` while others are handing it round. So no finished
job's completion is left to go round into the dead-letter queue.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from .errors import ExitCode, LauncherError, from_client_error

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)

SQS_MAX_WAIT_SECONDS = 20
DEFAULT_GRACE_SECONDS = 60.0
MAX_STATUS_INTERVAL_SECONDS = 60.0
YIELD_SECONDS = 1.0  # the pause after giving other messages back
SHARED_STATUS_SECONDS = 2.0  # on a shared queue, the status is also read this often (0.5 calls/s)
FINAL_STATUSES = ("SUCCEEDED", "FAILED", "ERROR")
HANDOVER_SECONDS = 30.0  # how long after SQS first queued a completion other consumers hand it over intact
CLEANUP_SECONDS = 10.0  # after the status said the job ended, the longest search for its own message
LOOK_SECONDS = 1.0  # the same search where no other consumer has been seen: one short receive
FIRST_QUEUED = "FirstQueued"  # message attribute of a handed-over copy: when SQS first queued the completion


@dataclass(frozen=True)
class Completion:
    """A Rekognition completion message (its ``API`` is not checked: the docs show two spellings)."""

    job_id: str
    status: str
    job_tag: str | None = None


def parse_completion(body: str) -> Completion | None:
    """The completion in an SQS message body (SNS envelope or raw), or None if it is not one."""
    try:
        message = json.loads(body)
        if (
            isinstance(message, dict)
            and message.get("Type") == "Notification"
            and isinstance(message.get("Message"), str)
        ):
            message = json.loads(message["Message"])
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    job_id, status = message.get("JobId"), message.get("Status")
    if not isinstance(job_id, str) or status not in FINAL_STATUSES:
        return None
    return Completion(job_id, status, message.get("JobTag"))


def status_check_times(start: float, grace: float) -> Iterator[float]:
    """When to read a job's status: at once; after the grace period; then with doubling intervals (at
    most a minute apart)."""
    yield start
    at, interval = start + grace, max(1.0, grace / 4)
    while True:
        yield at
        at += interval
        interval = min(interval * 2, MAX_STATUS_INTERVAL_SECONDS)


class Timeout(LauncherError):
    def __init__(self, job_id: str, seconds: float) -> None:
        super().__init__(
            f"job {job_id} did not end within {seconds:g} s; it keeps running. Re-attach with --attach {job_id}",
            ExitCode.TIMEOUT,
        )


class CompletionWaiter:
    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        job_status: Callable[[str], str],
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._job_status = job_status
        self._grace = grace_seconds
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock

    def _receive(self, wait_seconds: int, job_id: str) -> Received:
        return receive_completions(
            self._sqs, self._queue_url, wait_seconds, job_id.__eq__, now_ms=lambda: self._wall_clock() * 1000
        )

    def _delete_own_message(self, job_id: str, shared: bool) -> None:
        """After the status said the job ended: find this job's completion and delete it, so that it is
        not left to go round other consumers into the dead-letter queue. On a queue known to be shared
        it is being handed round: look for up to ``CLEANUP_SECONDS``. Otherwise one short look (a reused
        token's job publishes nothing, so none may come), longer if it shows others on the queue."""
        started = self._clock()
        until = started + (CLEANUP_SECONDS if shared else LOOK_SECONDS)
        while self._clock() < until:
            received = self._receive(1, job_id)
            if received.mine:
                return
            if received.others and not shared:
                shared, until = True, started + CLEANUP_SECONDS
            if received.gave_back:
                self._sleep(min(0.2, max(0.0, until - self._clock())))
        if shared:
            log.info("job %s's completion was not seen in %g s; other consumers hand it on", job_id, CLEANUP_SECONDS)

    def wait(self, job_id: str, deadline: float, on_tick: Callable[[], object] = lambda: None) -> str:
        """Block until the job ends; return its final status (SUCCEEDED, FAILED or ERROR). ``deadline``
        is a value of the clock (time.monotonic() by default)."""
        started = self._clock()
        status_checks = status_check_times(started, self._grace)
        next_status_check = next(status_checks)
        shared = False
        while True:
            now = self._clock()
            if now >= next_status_check:
                status = self._job_status(job_id)
                if status in FINAL_STATUSES:
                    self._delete_own_message(job_id, shared)
                    return status
                while next_status_check <= now:
                    next_status_check = next(status_checks)
                if shared:
                    next_status_check = min(next_status_check, now + SHARED_STATUS_SECONDS)
            if now >= deadline:
                raise Timeout(job_id, deadline - started)
            wait = min(SQS_MAX_WAIT_SECONDS, deadline - now, next_status_check - now)
            received = self._receive(max(0, math.ceil(wait)), job_id)
            on_tick()
            if received.mine:
                return received.mine[0].status
            if received.others and not shared:
                shared = True
                log.info("the queue is shared: reading job %s's status every %g s too", job_id, SHARED_STATUS_SECONDS)
                next_status_check = min(next_status_check, self._clock() + SHARED_STATUS_SECONDS)
            if received.gave_back:
                self._sleep(max(0.0, min(YIELD_SECONDS, deadline - self._clock())))


@dataclass(frozen=True)
class Received:
    """One receive, settled: the completions that were ours (deleted), how many belonged to other
    jobs (given back), and whether anything was left on the queue (so the caller should pause)."""

    mine: list[Completion]
    others: int
    gave_back: bool


def first_queued_ms(message: MessageTypeDef) -> int | None:
    """When SQS first queued this completion: a handed-over copy's ``FirstQueued`` attribute, else the
    message's own ``SentTimestamp`` (epoch milliseconds)."""
    carried = message.get("MessageAttributes", {}).get(FIRST_QUEUED)
    sent = carried.get("StringValue") if carried else None
    sent = sent or message.get("Attributes", {}).get("SentTimestamp")
    try:
        return int(sent) if sent is not None else None
    except ValueError:
        return None


def hand_over(sqs: SQSClient, queue_url: str, message: MessageTypeDef, now_ms: float) -> bool:
    """Pass another job's completion on without using up its receives: within ``HANDOVER_SECONDS`` of
    its first queuing, an identical copy is sent and the received one deleted (True). Past that, or if
    the copy cannot be sent, it is made visible again as it is (False: its receives count)."""
    first = first_queued_ms(message)
    if first is not None and now_ms - first < HANDOVER_SECONDS * 1000:
        attributes: Mapping[str, object] = {FIRST_QUEUED: {"DataType": "Number", "StringValue": str(first)}}
        try:
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], MessageAttributes=attributes)  # type: ignore[arg-type]
        except ClientError as error:
            log.warning("could not hand message %s over intact (%s); giving it back", message.get("MessageId"), error)
        else:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            return True
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return False


def receive_completions(
    sqs: SQSClient,
    queue_url: str,
    wait_seconds: int,
    is_mine: Callable[[str], bool],
    on_mine: Callable[[Completion], object] = lambda _: None,
    now_ms: Callable[[], float] = lambda: time.time() * 1000,
) -> Received:
    """Receive up to 10 messages and settle each: a completion of a job ``is_mine`` accepts is handed
    to ``on_mine`` (at once: the delete is one more round trip), then deleted; another job's is handed
    over to its owner (``hand_over``); anything else is logged and left to reach the dead-letter
    queue."""
    try:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["SentTimestamp"],
            MessageAttributeNames=[FIRST_QUEUED],
        ).get("Messages", [])
    except ClientError as error:
        raise from_client_error(error, f"receiving from {queue_url}") from None
    mine, others, gave_back = [], 0, False
    for message in messages:
        completion = parse_completion(message.get("Body", ""))
        try:
            if completion is None:
                gave_back = True
                log.warning(
                    "ignoring message %s on the queue: not a Rekognition completion; after the queue's "
                    "maxReceiveCount receives it moves to the dead-letter queue",
                    message.get("MessageId"),
                )
            elif is_mine(completion.job_id):
                on_mine(completion)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                mine.append(completion)
            else:  # another job's: pass it on to its owner
                others += 1
                gave_back = True
                hand_over(sqs, queue_url, message, now_ms())
        except ClientError as error:
            log.warning("could not settle message %s: %s", message.get("MessageId"), error)
    return Received(mine, others, gave_back)
