"""What the endpoint holds: ``GET /_localaws/status`` on the endpoint (what no AWS API shows: the
face-detection jobs still open, where the state is kept), and ``scripts/local.py status``, which adds
what any AWS client sees (the stack's resources, buckets, queues, topics, functions)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .clients import local_client
from .hints import local_command

if TYPE_CHECKING:
    from .rekognition.store import JobStore
    from .state.keeper import StateKeeper

STATUS_PATH = "/_localaws/status"
STACK_RESOURCES = ("bucketName", "topicArn", "roleArn", "queueUrl", "deadLetterQueueUrl")


class StatusApp:
    def __init__(self, data_dir: Path, store: JobStore, state: Callable[[], StateKeeper | None]) -> None:
        self._data_dir, self._store, self._state = data_dir, store, state

    def document(self) -> dict[str, Any]:
        store, state = self._store, self._state()
        open_jobs = [
            {
                "JobId": job.job_id,
                "JobTag": job.request.get("JobTag"),
                "Video": job.request["Video"],
                "CreatedMs": job.created_ms,
            }
            for job in store.open_jobs()
        ]
        return {
            "DataDir": str(self._data_dir),
            "State": {"Kept": state is not None, "SavedMs": state.last_saved_ms if state else None},
            "Jobs": {"Counts": store.counts(), "Open": open_jobs},
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET":
            body = json.dumps({"message": "GET only"}).encode()
            start_response("405 Method Not Allowed", [("Content-Type", "application/json"), ("Allow", "GET")])
            return [body]
        body = json.dumps(self.document()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


# -- scripts/local.py status ------------------------------------------------------------------------


def _ago(ms: int | None) -> str:
    if not ms:
        return "never"
    seconds = max(0, time.time() - ms / 1000)
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    raise AssertionError


class EndpointStatus:
    """Reads what an endpoint holds and prints it, one line per thing."""

    def __init__(self, endpoint: str, region: str, out: Callable[[str], None] = print) -> None:
        self.endpoint = endpoint
        self.region = region
        self._out = out
        config = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=30)
        self._s3 = local_client("s3", endpoint, region, config)
        self._sqs = local_client("sqs", endpoint, region, config)
        self._sns = local_client("sns", endpoint, region, config)
        self._iam = local_client("iam", endpoint, region, config)
        self._lambda = local_client("lambda", endpoint, region, config)

    def endpoint_document(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.endpoint.rstrip("/") + STATUS_PATH, timeout=10) as response:
            return json.loads(response.read())

    def print_all(self, outputs_file: Path) -> int:
        """Print everything; 0 if the stack's outputs are all held by the endpoint (or there are none), 1 if not."""
        document = self.endpoint_document()
        state = document["State"]
        kept = f"kept in {Path(document['DataDir']) / 'state'}, saved {_ago(state['SavedMs'])}"
        self._out(f"Local endpoint {self.endpoint}: state {kept if state['Kept'] else 'in memory only'}")
        missing = self._print_stack(outputs_file)
        self._print_buckets()
        self._print_queues()
        self._print_topics()
        self._print_functions()
        self._print_jobs(document["Jobs"])
        if missing:
            self._out(f"{missing} stack resource(s) missing from this endpoint: run `{local_command('deploy')}` again")
            return 1
        return 0

    def _print_stack(self, outputs_file: Path) -> int:
        try:
            outputs = json.loads(outputs_file.read_text())
        except FileNotFoundError:
            self._out(f"Stack outputs: none at {outputs_file} (run `{local_command('deploy')}`)")
            return 0
        except (OSError, ValueError) as error:
            self._out(f"Stack outputs: {outputs_file} cannot be read ({error})")
            return 0
        checks = {key: outputs[key] for key in STACK_RESOURCES if isinstance(outputs, dict) and outputs.get(key)}
        found = {key: self._exists(key, value) for key, value in checks.items()}
        self._out(f"Stack outputs {outputs_file}: {sum(found.values())} of {len(found)} resource(s) found")
        for key, value in checks.items():
            self._out(f"  {'found  ' if found[key] else 'MISSING'} {key} {value}")
        return sum(not ok for ok in found.values())

    def _exists(self, key: str, value: str) -> bool:
        try:
            if key == "bucketName":
                self._s3.head_bucket(Bucket=value)
            elif key == "topicArn":
                self._sns.get_topic_attributes(TopicArn=value)
            elif key == "roleArn":
                self._iam.get_role(RoleName=value.rsplit("/", 1)[-1])
            else:
                self._sqs.get_queue_attributes(QueueUrl=value, AttributeNames=["QueueArn"])
        except ClientError:
            return False
        return True

    def _print_buckets(self) -> None:
        buckets = [bucket["Name"] for bucket in self._s3.list_buckets().get("Buckets", [])]
        self._out(f"Buckets ({len(buckets)}):")
        for name in buckets:
            versions = size = 0
            for page in self._s3.get_paginator("list_object_versions").paginate(Bucket=name):
                for version in page.get("Versions", []):
                    versions += 1
                    size += version.get("Size", 0)
            self._out(f"  {name}: {versions} object version(s), {_size(size)}")

    def _print_queues(self) -> None:
        urls = self._sqs.list_queues().get("QueueUrls", [])
        self._out(f"Queues ({len(urls)}):")
        for url in urls:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            self._out(
                f"  {url.rsplit('/', 1)[-1]}: {attributes.get('ApproximateNumberOfMessages', '0')} message(s), "
                f"{attributes.get('ApproximateNumberOfMessagesNotVisible', '0')} in flight"
            )

    def _print_topics(self) -> None:
        topics = [topic["TopicArn"] for topic in self._sns.list_topics().get("Topics", [])]
        self._out(f"Topics ({len(topics)}):")
        for arn in topics:
            subscriptions = self._sns.list_subscriptions_by_topic(TopicArn=arn).get("Subscriptions", [])
            self._out(f"  {arn.rsplit(':', 1)[-1]}: {len(subscriptions)} subscription(s)")

    def _print_functions(self) -> None:
        functions = [function["FunctionName"] for function in self._lambda.list_functions().get("Functions", [])]
        mappings = self._lambda.list_event_source_mappings().get("EventSourceMappings", [])
        self._out(f"Lambda functions ({len(functions)}), event source mappings ({len(mappings)}):")
        for name in functions:
            sources = [
                mapping["EventSourceArn"].rsplit(":", 1)[-1]
                for mapping in mappings
                if mapping["FunctionArn"].endswith(f":{name}")
            ]
            self._out(f"  {name}" + (f" <- {', '.join(sources)}" if sources else ""))

    def _print_jobs(self, jobs: dict[str, Any]) -> None:
        counts = jobs["Counts"]
        summary = ", ".join(f"{counts.get(status, 0)} {status.lower()}" for status in ("SUCCEEDED", "FAILED"))
        self._out(f"Face-detection jobs: {len(jobs['Open'])} open, {summary}")
        for job in jobs["Open"]:
            s3_object = job["Video"]["S3Object"]
            tag = f" tag {job['JobTag']}" if job.get("JobTag") else ""
            self._out(
                f"  {job['JobId']}{tag}: s3://{s3_object['Bucket']}/{s3_object['Name']}, "
                f"started {_ago(job['CreatedMs'])}"
            )


UNREACHABLE = (BotoCoreError, urllib.error.URLError, OSError)
