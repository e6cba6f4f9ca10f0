"""The SQS poller of an event source mapping, as Lambda runs it.

Each poller long-polls the queue, gathers a batch (up to BatchSize messages, waiting at most
MaximumBatchingWindowInSeconds for more), invokes the function with Lambda's SQS event, then settles:
on success every message is deleted; on an error (an exception, a timeout, a crash) none is, so the
messages come back when their visibility timeout ends; with ``ReportBatchItemFailures`` only the
messages the function names in ``batchItemFailures`` stay. SQS itself moves a message to the
dead-letter queue after the redrive policy's maxReceiveCount receives.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .exceptions import LambdaError
from .runner import FunctionRunner, FunctionSpec

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)

SQS_MAX_MESSAGES = 10  # per ReceiveMessage
POLL_WAIT_SECONDS = 1  # short long polls, so that a deleted mapping or a shutdown stops a poller at once
ERROR_PAUSE_SECONDS = 1.0  # after a failed batch or an unreachable queue, as Lambda backs off


class Mapping(Protocol):
    """What a poller reads of its event source mapping (``models.EventSourceMapping``)."""

    uuid: str
    event_source_arn: str
    batch_size: int
    batching_window_seconds: int

    @property
    def reports_item_failures(self) -> bool: ...

    @property
    def queue_region(self) -> str: ...


class MappingBackend(Protocol):
    """What a poller asks of the Lambda backend (``models.LambdaBackend``): an interface here, so that
    the backend imports its pollers and not the other way round."""

    runner: FunctionRunner

    def queue_client(self, mapping: Any) -> Any: ...

    def queue_url(self, mapping: Any) -> str: ...

    def mapping_function(self, mapping: Any) -> FunctionSpec: ...


def sqs_record(message: MessageTypeDef, source_arn: str, region: str) -> dict[str, Any]:
    """One record of Lambda's SQS event, from a ReceiveMessage message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": region,
    }


def failed_message_ids(response: Any, batch_ids: set[str]) -> set[str]:
    """The messages to keep after a ReportBatchItemFailures invocation, by Lambda's rules: an empty or
    null response or list is full success; an item without a valid ID of this batch fails the batch."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        return set(batch_ids)
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(batch_ids)
    failed = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return set(batch_ids)
        failed.add(identifier)
    return failed


class SqsPoller:
    def __init__(self, mapping: Mapping, backend: MappingBackend, index: int) -> None:
        self.mapping = mapping
        self._backend = backend
        self._stop = threading.Event()
        self._queue_url: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"esm-{mapping.uuid[:8]}-{index}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask to stop; a batch being processed finishes first (the poller does not wait for it)."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once()
            except (ClientError, BotoCoreError, LambdaError) as error:  # the queue or the function is gone
                log.warning("event source mapping %s: %s", self.mapping.uuid, error)
                self._stop.wait(ERROR_PAUSE_SECONDS)
            except Exception:  # a poller must outlive any one bad batch
                log.exception("event source mapping %s failed a batch", self.mapping.uuid)
                self._stop.wait(ERROR_PAUSE_SECONDS)

    def _poll_once(self) -> None:
        mapping = self.mapping
        self._backend.mapping_function(mapping)  # a missing function must not hold messages
        sqs = self._backend.queue_client(mapping)
        if self._queue_url is None:
            self._queue_url = self._backend.queue_url(mapping)
        queue_url = self._queue_url
        messages = self._receive(sqs, queue_url, mapping.batch_size, POLL_WAIT_SECONDS)
        if not messages:
            return
        window_ends = time.monotonic() + mapping.batching_window_seconds
        while len(messages) < mapping.batch_size and not self._stop.is_set():
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            messages += self._receive(
                sqs, queue_url, mapping.batch_size - len(messages), min(POLL_WAIT_SECONDS, int(remaining) or 1)
            )
        records = [sqs_record(m, mapping.event_source_arn, mapping.queue_region) for m in messages]
        function = self._backend.mapping_function(mapping)  # as it is now: it may have changed during the poll
        result = self._backend.runner.invoke(function, {"Records": records})
        batch_ids = {m["MessageId"] for m in messages}
        if result.failed:
            keep = batch_ids
        elif mapping.reports_item_failures:
            keep = failed_message_ids(result.payload, batch_ids)
        else:
            keep = set()
        done = [m for m in messages if m["MessageId"] not in keep]
        for start in range(0, len(done), SQS_MAX_MESSAGES):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + SQS_MAX_MESSAGES])
            ]
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        if result.failed:
            self._stop.wait(ERROR_PAUSE_SECONDS)

    @staticmethod
    def _receive(sqs: SQSClient, queue_url: str, wanted: int, wait_seconds: int) -> list[MessageTypeDef]:
        return sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(SQS_MAX_MESSAGES, wanted),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
