"""What the stack's two functions share: the environment they are configured with, their clients,
and settling an SQS batch (Lambda's partial batch failure, with a backoff before the record's next try).

Standard library and boto3 only, like every module the functions import: the Lambda Python runtime
has nothing else.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config

from ..jobs.result_objects import CONTENT_TYPE
from ..jobs.s3video import S3Video

log = logging.getLogger(__name__)

# A record put back waits 2, 4, 8 ... seconds (with jitter) before its next try, at most 5 minutes:
# long enough for a Rekognition slot to free, short enough that a backlog drains promptly.
BACKOFF_BASE_SECONDS = 2
BACKOFF_MAX_SECONDS = 300
# One quick retry inside the function; longer waits happen in the queue, not on Lambda's clock.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2})


@dataclass(frozen=True)
class FunctionSettings:
    """The environment variables the component gives both functions."""

    bucket: str
    queue_url: str
    incoming_prefix: str
    results_prefix: str
    topic_arn: str
    role_arn: str
    redactor_function: str | None = None  # redact: true: the collector invokes it after each result

    @classmethod
    def from_environment(cls) -> FunctionSettings:
        env = os.environ
        return cls(
            bucket=env["BUCKET_NAME"],
            queue_url=env["QUEUE_URL"],
            incoming_prefix=env["INCOMING_PREFIX"],
            results_prefix=env["RESULTS_PREFIX"],
            topic_arn=env["TOPIC_ARN"],
            role_arn=env["ROLE_ARN"],
            redactor_function=env.get("REDACTOR_FUNCTION") or None,
        )


def client(service: str) -> Any:
    """A client in the function's region, at AWS_ENDPOINT_URL when set (the local endpoint)."""
    return boto3.client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]  # a name chosen at run time


def backoff_seconds(receive_count: int) -> int:
    """Full jitter over an exponential ceiling (AWS's recommended backoff)."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, receive_count - 1))
    return round(random.uniform(1, ceiling))  # jitter, not security


class RetryLater(Exception):
    """This record should come back for another try (partial batch failure)."""

    def __init__(self, message: str, backoff: bool = True) -> None:
        super().__init__(message)
        self.backoff = backoff


def process_batch(
    event: dict[str, Any], handle: Callable[[dict[str, Any]], None], sqs: Any, queue_url: str
) -> dict[str, Any]:
    """Run ``handle`` on each SQS record; report the ones to try again as batch item failures, after
    setting how long each stays hidden. An unexpected error on one record never fails the others."""
    failures = []
    for record in event.get("Records", []):
        try:
            handle(record)
            continue
        except RetryLater as error:
            log.warning("message %s: %s; it will be tried again", record["messageId"], error)
            backoff = error.backoff
        except Exception:
            log.exception("message %s could not be processed; it will be tried again", record["messageId"])
            backoff = True
        failures.append({"itemIdentifier": record["messageId"]})
        if backoff:
            receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            try:
                sqs.change_message_visibility(
                    QueueUrl=queue_url,
                    ReceiptHandle=record["receiptHandle"],
                    VisibilityTimeout=backoff_seconds(receive_count),
                )
            except Exception:  # the queue's own visibility timeout then applies
                log.exception("could not delay message %s", record["messageId"])
    return {"batchItemFailures": failures}


def put_json(s3: Any, bucket: str, key: str, document: dict[str, Any], metadata: dict[str, str]) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, indent=1).encode(),
        ContentType=CONTENT_TYPE,
        Metadata=metadata,
    )


def video_of_record(s3_record: dict[str, Any]) -> S3Video:
    """The object version an S3 event record names (keys arrive URL-encoded, spaces as '+')."""
    s3 = s3_record["s3"]
    return S3Video(s3["bucket"]["name"], unquote_plus(s3["object"]["key"]), s3["object"].get("versionId"))


class BatchWorker(Protocol):
    settings: FunctionSettings

    def handle(self, record: dict[str, Any]) -> None: ...


def batch_handler(
    make: Callable[[FunctionSettings, Any, Any], BatchWorker],
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda entry point (with ReportBatchItemFailures) around a worker made once per execution
    environment from the function's settings and its S3 and Rekognition clients."""
    made: list[BatchWorker] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not made:
            made.append(make(FunctionSettings.from_environment(), client("s3"), client("rekognition")))
        worker = made[0]
        return process_batch(event, worker.handle, client("sqs"), worker.settings.queue_url)

    return handler
