"""Waiting for a job's completion on the stack's SQS queue.

Long polls (20 s waits) return the moment a message arrives. Both the SNS envelope and raw delivery
are read. A message for this job is deleted. A message that is not a Rekognition completion is
logged and left alone, so that after maxReceiveCount receives SQS moves it to the dead-letter queue.

A notification can fail to come: the token returned a job that had already ended (the service
publishes no second notification), another launcher holds it, or the channel is broken. So the job's
status is checked at once, then again after a grace period without notification, and then with
backoff, until the job ends or the deadline passes.

A shared queue (docs/launcher.md, "A shared queue"). Several launchers and batches may wait on one
queue, and SQS cannot hand a message to one consumer in particular. The design, and why:

- Every receive counts towards maxReceiveCount, so a completion passed round the other consumers
  would reach the dead-letter queue although its owner was still waiting. So another job's completion
  is handed over without using up its receives: for ``HANDOVER_SECONDS`` after SQS first queued it,
  the consumer that received it sends an identical copy (its receive count starts at zero; the
  ``FirstQueued`` attribute keeps the first time) and deletes the one it holds. After that window its
  owner is taken to be gone: the message is made visible again as it is, and after maxReceiveCount
  receives it reaches the dead-letter queue, where an alarm means something.
- A receive is settled in at most three more calls whatever it held: one ``SendMessageBatch`` for the
  copies, one ``DeleteMessageBatch`` for the originals and this job's own, one
  ``ChangeMessageVisibilityBatch`` for what is given back. SQS requests, not messages, are what a busy
  queue (and the local endpoint, one process) runs short of.
- A launcher recognises a shared queue the first time it receives another job's completion. From then
  on it stops receiving while its job runs and reads the job's status every ``SHARED_STATUS_SECONDS``
  instead: a receive there would only pass messages round (each pass costs calls and makes every
  owner's search longer), while the status says within 2 s that the job ended whoever holds its message.
- A launcher that learnt the end from the status (a job can also end before its launcher starts
  waiting) then searches for its own message to delete it, so that no finished job's completion is
  left to go round into the dead-letter queue. Each receive is a 1 s long poll (``SEARCH_WAIT_SECONDS``:
  on SQS a long poll asks every server, a short one only some and can come back empty while messages
  wait), holding what it receives for ``HOLD_SECONDS`` (time to settle it; short, so that a launcher
  killed mid-search leaves nothing hidden for long). On a queue seen to be shared it searches up to
  ``CLEANUP_SECONDS``; elsewhere one short look (a reused token's job publishes nothing). The search
  runs in a background thread while the caller writes the results; the caller joins it before it
  ends (``close``).
- Why a search can take a while, and how it is kept short. SQS cannot be asked for one message, and
  nothing here relies on its order: a receive returns some of the visible messages, and the search
  only needs its own to be among them. While one searcher holds a message (from its receive until
  its copy is sent) no other can receive it; with K searchers at once grabbing whatever is visible,
  every message spends most of its time held, and the owner's chance of being the one that receives
  its own is about 1 in K per pass: the search grows with K times the round trip. So a receive that
  came back full (10 messages: there is more to look through) is followed at once, and one that came
  back short (others hold the rest) by a random pause in a window doubling from 0.1 s to 1.6 s
  (``search_pauses``, "full jitter" as AWS's SDKs back off): searchers that find the queue drained
  step back, fewer hold messages at once, and each receive sees more of the queue. The budget,
  ``CLEANUP_SECONDS`` (25 s), is close to the handover window, after which others stop handing the
  message over intact anyway; a quiet queue's search ends in one or two receives.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .errors import ExitCode, LauncherError, from_client_error

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)

SQS_MAX_WAIT_SECONDS = 20
SQS_MAX_BATCH = 10  # messages per ReceiveMessage and per batch call
DEFAULT_GRACE_SECONDS = 60.0
MAX_STATUS_INTERVAL_SECONDS = 60.0
YIELD_SECONDS = 1.0  # a batch's pause after giving other messages back
SHARED_STATUS_SECONDS = 2.0  # on a shared queue, the status is read this often (0.5 calls/s)
FINAL_STATUSES = ("SUCCEEDED", "FAILED", "ERROR")
HANDOVER_SECONDS = 30.0  # how long after SQS first queued a completion other consumers hand it over intact
CLEANUP_SECONDS = 25.0  # the longest search for its own message: within the handover window after the end
LOOK_SECONDS = 1.0  # the same search where no other consumer has been seen: one short receive
SEARCH_WAIT_SECONDS = 1  # a search's receives: long polls (all SQS servers), short ones
SEARCH_PAUSE_SECONDS = 0.1  # a search's first pause window after a short receive; it doubles
MAX_SEARCH_PAUSE_SECONDS = 1.6
HOLD_SECONDS = 10  # visibility of what a launcher or batch receives: time to settle it, not much more
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


def search_pauses(random: Callable[[], float]) -> Iterator[float]:
    """The pauses of a search after receives that came back short: random ("full jitter"), within a
    window that doubles from ``SEARCH_PAUSE_SECONDS`` to ``MAX_SEARCH_PAUSE_SECONDS``. Searchers that
    find the queue drained by others step back, so that fewer hold messages at once and each receive
    sees more of the queue."""
    window = SEARCH_PAUSE_SECONDS
    while True:
        yield random() * window
        window = min(window * 2, MAX_SEARCH_PAUSE_SECONDS)


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
            f"job {job_id} had not ended when --timeout ran out (after {max(seconds, 0.0):.1f} s of waiting); it "
            f"keeps running. Re-attach with --attach {job_id}",
            ExitCode.TIMEOUT,
        )


class CompletionWaiter:
    """Waits for one job (``wait``). If the status, not the message, said it ended, its message is then
    searched for in a background thread: use the waiter as a context manager (or call ``close``), so
    that the search is joined before the launcher ends (cut short by Ctrl-C)."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        job_status: Callable[[str], str],
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        wall_clock: Callable[[], float] = time.time,
        background: bool = True,
        random: Callable[[], float] = random.random,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._job_status = job_status
        self._grace = grace_seconds
        self._clock = clock
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait  # so that Ctrl-C cuts a search's pause short
        self._wall_clock = wall_clock
        self._background = background
        self._random = random
        self._search: threading.Thread | None = None

    def __enter__(self) -> CompletionWaiter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close(cut_short=kind is not None and not issubclass(kind, Exception))

    def close(self, cut_short: bool = False) -> None:
        """Join the search for the job's own message; ``cut_short`` (Ctrl-C) stops it at its next
        receive. A failed job's launcher still finishes the search: its message is as finished."""
        if cut_short:
            self._stop.set()
        if self._search is not None:
            self._search.join()

    def _receive(self, wait_seconds: int, job_id: str) -> Received:
        return receive_completions(
            self._sqs,
            self._queue_url,
            wait_seconds,
            job_id.__eq__,
            now_ms=lambda: self._wall_clock() * 1000,
        )

    def _ended(self, job_id: str, shared: bool) -> None:
        """The status said the job ended: search for its message, in the background if so made."""
        if not self._background:
            self.search_own_message(job_id, shared)
            return
        self._search = threading.Thread(
            target=self.search_own_message, args=(job_id, shared), name="own-completion", daemon=True
        )
        self._search.start()

    def search_own_message(self, job_id: str, shared: bool) -> bool:
        """After the status said the job ended: find this job's completion and delete it, so that it is
        not left to go round other consumers into the dead-letter queue (True if found). On a queue
        known to be shared, search for up to ``CLEANUP_SECONDS``; otherwise one short look, longer if
        it shows others on the queue. A receive that came back full goes on at once; one that came
        back short (others hold the rest) backs off (``search_pauses``). A failed receive ends the
        search (logged): the results are what the launcher is for."""
        started = self._clock()
        until = started + (CLEANUP_SECONDS if shared else LOOK_SECONDS)
        receives, pauses = 0, search_pauses(self._random)
        try:
            while self._clock() < until and not self._stop.is_set():
                received = self._receive(SEARCH_WAIT_SECONDS, job_id)
                receives += 1
                if received.mine:
                    log.info(
                        "job %s's completion found and deleted after %d receive(s) (%.1f s)",
                        job_id,
                        receives,
                        self._clock() - started,
                    )
                    return True
                if received.others and not shared:
                    shared, until = True, started + CLEANUP_SECONDS
                if received.count == SQS_MAX_BATCH:
                    pauses = search_pauses(self._random)
                else:
                    self._sleep(max(0.0, min(next(pauses), until - self._clock())))
        except (LauncherError, BotoCoreError) as error:  # AWS refused, or stopped answering: the results stand
            log.warning("looking for job %s's completion: %s", job_id, error)
            return False
        if shared:
            log.info(
                "job %s's completion was not seen in %d receive(s) (%.1f s); other consumers hand it on",
                job_id,
                receives,
                self._clock() - started,
            )
        return False

    def wait(self, job_id: str, deadline: float, on_tick: Callable[[], object] = lambda: None) -> str:
        """Block until the job ends; return its final status (SUCCEEDED, FAILED or ERROR). ``deadline``
        is a value of the clock (time.monotonic() by default)."""
        started = self._clock()
        status_checks = status_check_times(started, self._grace)
        next_status_check = next(status_checks)
        while True:
            now = self._clock()
            if now >= next_status_check:
                status = self._job_status(job_id)
                if status in FINAL_STATUSES:
                    self._ended(job_id, shared=False)
                    return status
                while next_status_check <= now:
                    next_status_check = next(status_checks)
            if now >= deadline:
                raise Timeout(job_id, deadline - started)
            wait = min(SQS_MAX_WAIT_SECONDS, deadline - now, next_status_check - now)
            received = self._receive(max(0, math.ceil(wait)), job_id)
            on_tick()
            if received.mine:
                return received.mine[0].status
            if received.others:
                log.info(
                    "the queue is shared: reading job %s's status every %g s, not receiving until it ends",
                    job_id,
                    SHARED_STATUS_SECONDS,
                )
                return self._wait_shared(job_id, started, deadline, on_tick)

    def _wait_shared(self, job_id: str, started: float, deadline: float, on_tick: Callable[[], object]) -> str:
        """On a shared queue: the status every ``SHARED_STATUS_SECONDS`` (at once first), no receives."""
        while True:
            next_check = self._clock() + SHARED_STATUS_SECONDS
            status = self._job_status(job_id)
            on_tick()
            if status in FINAL_STATUSES:
                self._ended(job_id, shared=True)
                return status
            now = self._clock()
            if now >= deadline:
                raise Timeout(job_id, deadline - started)
            self._sleep(max(0.0, min(next_check, deadline) - now))


@dataclass(frozen=True)
class Received:
    """One receive, settled: the completions that were ours (deleted), how many belonged to other
    jobs (handed over or given back), and whether anything not ours was received (so a consumer that
    keeps receiving should pause)."""

    mine: list[Completion]
    others: int
    gave_back: bool
    count: int = 0  # messages received


@dataclass
class Settlement:
    """What to do with the messages one receive returned (``settlement``)."""

    mine: list[tuple[MessageTypeDef, Completion]] = field(default_factory=list)  # deleted
    copy: list[tuple[MessageTypeDef, int]] = field(default_factory=list)  # handed over: copy sent, then deleted
    release: list[MessageTypeDef] = field(default_factory=list)  # made visible again: its receives count
    foreign: list[MessageTypeDef] = field(default_factory=list)  # not a completion: left alone


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


def settlement(messages: Sequence[MessageTypeDef], is_mine: Callable[[str], bool], now_ms: float) -> Settlement:
    """Sort one receive's messages: a completion of a job ``is_mine`` accepts is the caller's; another
    job's is copied if SQS first queued it less than ``HANDOVER_SECONDS`` ago (its owner may still be
    waiting), else released as it is (its owner is taken to be gone); anything else is left alone."""
    plan = Settlement()
    for message in messages:
        completion = parse_completion(message.get("Body", ""))
        if completion is None:
            plan.foreign.append(message)
        elif is_mine(completion.job_id):
            plan.mine.append((message, completion))
        elif (first := first_queued_ms(message)) is not None and now_ms - first < HANDOVER_SECONDS * 1000:
            plan.copy.append((message, first))
        else:
            plan.release.append(message)
    return plan


def _failed_ids(response: Any, call: str) -> set[str]:
    """The entries a batch call did not do (each logged)."""
    failed = response.get("Failed", [])
    for entry in failed:
        log.warning("%s entry %s failed: %s %s", call, entry.get("Id"), entry.get("Code"), entry.get("Message"))
    return {entry["Id"] for entry in failed}


def settle(
    sqs: SQSClient, queue_url: str, plan: Settlement, on_mine: Callable[[Completion], object] = lambda _: None
) -> None:
    """Carry a settlement out in at most three batch calls: the copies are sent before anything is
    deleted (a completion is never lost; a copy that cannot be sent is released instead), then the
    caller's own completions (each handed to ``on_mine`` first) and the copied originals are deleted,
    then the released messages made visible. A refused call is logged: SQS brings what it did not
    settle back after the receive's visibility timeout."""
    released = list(plan.release)
    deleted = []
    for message, completion in plan.mine:
        on_mine(completion)
        deleted.append(message)
    if plan.copy:
        entries: Any = [
            {
                "Id": str(index),
                "MessageBody": message["Body"],
                "MessageAttributes": {FIRST_QUEUED: {"DataType": "Number", "StringValue": str(first)}},
            }
            for index, (message, first) in enumerate(plan.copy)
        ]
        try:
            failed = _failed_ids(sqs.send_message_batch(QueueUrl=queue_url, Entries=entries), "SendMessageBatch")
        except ClientError as error:
            log.warning("could not hand %d message(s) over intact (%s); giving them back", len(entries), error)
            failed = {entry["Id"] for entry in entries}
        for index, (message, _) in enumerate(plan.copy):
            (released if str(index) in failed else deleted).append(message)
    if deleted:
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(deleted)
        ]
        try:
            _failed_ids(sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries), "DeleteMessageBatch")
        except ClientError as error:
            log.warning("deleting %d message(s) refused: %s", len(entries), error)
    if released:
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
            for index, message in enumerate(released)
        ]
        try:
            _failed_ids(
                sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries), "ChangeMessageVisibilityBatch"
            )
        except ClientError as error:
            log.warning("giving %d message(s) back refused: %s", len(entries), error)


def receive_completions(
    sqs: SQSClient,
    queue_url: str,
    wait_seconds: int,
    is_mine: Callable[[str], bool],
    on_mine: Callable[[Completion], object] = lambda _: None,
    now_ms: Callable[[], float] = lambda: time.time() * 1000,
    visibility_seconds: int = HOLD_SECONDS,
) -> Received:
    """Receive up to 10 messages and settle them (``settlement``, ``settle``): a completion of a job
    ``is_mine`` accepts is handed to ``on_mine`` (at once: the delete is one more round trip), then
    deleted; another job's is handed over to its owner; anything else is logged and left to reach the
    dead-letter queue. ``visibility_seconds``: how long the received messages are held (what is left
    alone comes back after that, not after the queue's own visibility timeout)."""
    try:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=SQS_MAX_BATCH,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["SentTimestamp"],
            MessageAttributeNames=[FIRST_QUEUED],
            VisibilityTimeout=visibility_seconds,
        ).get("Messages", [])
    except ClientError as error:
        raise from_client_error(error, f"receiving from {queue_url}") from None
    plan = settlement(messages, is_mine, now_ms())
    for message in plan.foreign:
        log.warning(
            "ignoring message %s on the queue: not a Rekognition completion; after the queue's "
            "maxReceiveCount receives it moves to the dead-letter queue",
            message.get("MessageId"),
        )
    settle(sqs, queue_url, plan, on_mine)
    others = len(plan.copy) + len(plan.release)
    return Received([completion for _, completion in plan.mine], others, bool(others or plan.foreign), len(messages))
