"""Helpers the integration tests share: names, a notification channel built like the stack's, upload,
waiting for a job, reading a queue, and a detector that holds jobs open. Fixtures are in conftest.py."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components import policies
from localaws.defaults import DEFAULT_REGION
from localaws.vision.face import DetectedFace

ROOT = Path(__file__).resolve().parents[2]
REGION = DEFAULT_REGION


ACCOUNT_ID = "123456789012"  # moto's default account


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Channel:
    """A notification channel built like the stack builds it, and the queue subscribed to it."""

    topic_arn: str
    role_arn: str
    role_name: str
    queue_url: str

    @property
    def notification_channel(self) -> dict[str, str]:
        return {"SNSTopicArn": self.topic_arn, "RoleArn": self.role_arn}


def make_channel(aws: Callable[..., Any], raw: bool = False) -> Channel:
    sns, iam, sqs = aws("sns"), aws("iam"), aws("sqs")
    topic_arn = sns.create_topic(Name=unique("AmazonRekognition-test"))["TopicArn"]
    role_name = unique("rekognition-publisher")
    role_arn = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=json.dumps(policies.rekognition_trust_policy(ACCOUNT_ID, REGION)),
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="publish",
        PolicyDocument=json.dumps(policies.service_role_policy(topic_arn, REGION)),
    )
    sns.set_topic_attributes(
        TopicArn=topic_arn,
        AttributeName="Policy",
        AttributeValue=json.dumps(policies.topic_policy(topic_arn, role_arn)),
    )
    queue_url = sqs.create_queue(QueueName=unique("completions"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true" if raw else "false"},
    )
    return Channel(topic_arn, role_arn, role_name, queue_url)


def zipped(**files: str) -> bytes:
    """A function's deployment package: a zip of ``files`` (name -> text)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def lambda_role(aws: Callable[..., Any], prefix: str) -> str:
    """A new execution role that Lambda may assume (the stack's own trust policy); its ARN."""
    document = json.dumps(policies.lambda_trust_policy())
    return aws("iam").create_role(RoleName=unique(prefix), AssumeRolePolicyDocument=document)["Role"]["Arn"]


def python_function(
    aws: Callable[..., Any],
    role_arn: str,
    code: str,
    *,
    name: str | None = None,
    timeout: int | None = None,
    env: dict[str, str] | None = None,
) -> tuple[str, str]:
    """A Python 3.12 function whose ``app.py`` is ``code`` (handler ``app.handler``), named ``name`` or
    a new ``fn-`` name; its name and ARN. Without ``timeout``, Lambda's default (3 s)."""
    settings: dict[str, Any] = {"Timeout": timeout} if timeout is not None else {}
    if env is not None:
        settings["Environment"] = {"Variables": env}
    created = aws("lambda").create_function(
        FunctionName=name or unique("fn"),
        Runtime="python3.12",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": zipped(**{"app.py": code})},
        **settings,
    )
    return created["FunctionName"], created["FunctionArn"]


def own_copy(source: Path, target: Path) -> Path:
    """``source`` copied to ``target`` with an MP4 ``free`` box of random bytes after it (players skip
    it): other bytes, so the launcher uploads a new object and starts a new job. A test that reused
    another test's finished job would spend the launcher's cleanup search (up to 25 s on a queue
    others' messages are left on) looking for a completion consumed long ago."""
    payload = uuid.uuid4().bytes
    target.write_bytes(source.read_bytes() + (8 + len(payload)).to_bytes(4, "big") + b"free" + payload)
    return target


def upload(aws: Callable[..., Any], bucket: str, path: Path, key: str | None = None) -> dict[str, str]:
    """Upload and return the S3Object a start call names (with the version)."""
    key = key or unique(path.stem) + path.suffix
    version = aws("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes())["VersionId"]
    return {"Bucket": bucket, "Name": key, "Version": version}


def wait_for_job(aws: Callable[..., Any], job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll until the job leaves IN_PROGRESS; return the first page."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = aws("rekognition").get_face_detection(JobId=job_id)
        if response["JobStatus"] != "IN_PROGRESS":
            return response
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still IN_PROGRESS after {timeout} s")


def receive_all(aws: Callable[..., Any], queue_url: str, wait_seconds: int = 1) -> list[dict[str, Any]]:
    """Every message now on the queue (deleted once read)."""
    sqs = aws("sqs")
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        if not batch.get("Messages"):
            return messages
        for message in batch["Messages"]:
            messages.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


class GateDetector:
    """Holds every job until the test opens the gate: jobs stay open as long as a test needs."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def detect(self, rgb: Any) -> list[DetectedFace]:
        self.gate.wait(timeout=30)
        return []


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def drain(aws, queue_url: str) -> list[dict]:
    sqs, messages = aws("sqs"), []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        for message in batch:
            messages.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages
