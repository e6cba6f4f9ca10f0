"""The endpoint's state across restarts (``serve`` with a ``--data-dir``): a clean stop saves its last
change, a ``kill -9`` keeps the functions, their queue mappings and event invoke configs after the restart, bad
requests lose nothing, and a damaged state folder is refused in one line and left as it was."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws.clients import local_client
from localaws.process import EndpointProcess

COPIER = """
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    for record in event["Records"]:
        s3.put_object(Bucket="copies", Key=record["body"], Body=b"copied")
"""
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def wait_for_object(s3: Any, key: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            s3.head_object(Bucket="copies", Key=key)
            return
        except ClientError:
            assert time.monotonic() < deadline, f"the function did not copy {key!r}"
            time.sleep(0.2)


def test_functions_and_queue_mappings_run_again_after_kill_9(tmp_path):
    data = tmp_path / "endpoint"
    endpoint = EndpointProcess(data).start()
    try:
        s3, sqs, iam, lam = (local_client(s, endpoint.url) for s in ("s3", "sqs", "iam", "lambda"))
        s3.create_bucket(Bucket="copies")
        queue_url = sqs.create_queue(QueueName="incoming")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        role = iam.create_role(RoleName="copier", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", COPIER)
        lam.create_function(
            FunctionName="copier",
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": code.getvalue()},
            Timeout=60,
        )
        mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="copier", BatchSize=1)
        lam.put_function_event_invoke_config(
            FunctionName="copier", MaximumRetryAttempts=0, MaximumEventAgeInSeconds=120
        )
        sqs.send_message(QueueUrl=queue_url, MessageBody="before")
        wait_for_object(s3, "before")
        time.sleep(2)  # past the snapshot interval (0.5 s) with a wide margin
    finally:
        endpoint.kill()
    with EndpointProcess(data, port=endpoint.port) as restarted:
        s3, sqs, lam = (local_client(s, restarted.url) for s in ("s3", "sqs", "lambda"))
        assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["copier"]
        again = lam.get_event_source_mapping(UUID=mapping["UUID"])
        assert again["State"] == "Enabled" and again["EventSourceArn"] == queue_arn
        invoke_config = lam.get_function_event_invoke_config(FunctionName="copier")  # kept on moto's function
        assert (invoke_config["MaximumRetryAttempts"], invoke_config["MaximumEventAgeInSeconds"]) == (0, 120)
        sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="incoming")["QueueUrl"], MessageBody="after")
        wait_for_object(s3, "after")


def send_bad_requests(url: str) -> None:
    s3, sqs, iam = (local_client(s, url) for s in ("s3", "sqs", "iam"))
    for call in (
        lambda: s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"x"),
        lambda: s3.create_bucket(Bucket="ab"),
        lambda: sqs.send_message(QueueUrl=f"{url}/123456789012/no-such-queue", MessageBody="x"),
        lambda: iam.delete_role(RoleName="no-such-role"),
        lambda: iam.put_role_policy(RoleName="keeper", PolicyName="p", PolicyDocument="{not json"),
    ):
        with pytest.raises(ClientError):
            call()


def test_a_clean_stop_saves_bad_requests_lose_nothing_and_damage_is_refused(tmp_path):
    data = tmp_path / "endpoint"
    with EndpointProcess(data) as endpoint:
        s3 = local_client("s3", endpoint.url)
        s3.create_bucket(Bucket="kept")
        s3.put_object(Bucket="kept", Key="video.mp4", Body=b"bytes of a video")
        local_client("iam", endpoint.url).create_role(RoleName="keeper", AssumeRolePolicyDocument=json.dumps(TRUST))
        sqs = local_client("sqs", endpoint.url)
        queue_url = sqs.create_queue(QueueName="kept")["QueueUrl"]
        sent = sqs.send_message(QueueUrl=queue_url, MessageBody="a completion")["MessageId"]
        send_bad_requests(endpoint.url)
    with EndpointProcess(data, port=endpoint.port) as restarted:  # stopped at once after the last change
        assert local_client("s3", restarted.url).get_object(Bucket="kept", Key="video.mp4")["Body"].read() == (
            b"bytes of a video"
        )
        assert local_client("iam", restarted.url).get_role(RoleName="keeper")["Role"]["RoleName"] == "keeper"
        message = local_client("sqs", restarted.url).receive_message(QueueUrl=queue_url)["Messages"][0]
        assert (message["MessageId"], message["Body"]) == (sent, "a completion")

    state = data / "state"
    saved = {path: path.read_bytes() for path in state.rglob("*") if path.is_file()}
    part = next((state / "parts").iterdir())
    damaged = bytearray(saved[part])
    damaged[len(damaged) // 2] ^= 0xFF
    part.write_bytes(bytes(damaged))
    refused = EndpointProcess(data)
    with pytest.raises(RuntimeError, match="did not start"):
        refused.start()
    log = refused.log_path.read_text()
    assert "Traceback" not in log
    errors = [line for line in log.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "does not match its checksum" in errors[0], log
    assert str(part) in errors[0]
    after = {path: path.read_bytes() for path in state.rglob("*") if path.is_file()}
    assert after == {**saved, part: bytes(damaged)}, "nothing written over the state it could not read"


def test_ephemeral_keeps_nothing(tmp_path):
    data = tmp_path / "endpoint"
    with EndpointProcess(data, extra_args=["--ephemeral"]) as endpoint:
        local_client("s3", endpoint.url).create_bucket(Bucket="forgotten")
    assert not (data / "state").exists()
    with EndpointProcess(data, port=endpoint.port) as restarted:
        assert local_client("s3", restarted.url).list_buckets()["Buckets"] == []
