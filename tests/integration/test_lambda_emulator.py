"""The local endpoint runs Python Lambda functions: Invoke, the runtime's environment and context, the
timeout, the runtime's packages, and SQS event source mappings with partial batch failures."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws.awslambda.runner import FunctionRunner, FunctionSpec
from localaws.process import is_running
from tests.support.aws import ACCOUNT_ID, REGION, lambda_role, python_function, unique, zipped

ROOT = Path(__file__).resolve().parents[2]

HANDLER = """
import json, logging, os, time
import boto3

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError("asked to fail")
    if event.get("say"):
        print("printed", event["say"])
        logging.getLogger("app").warning("logged %s", event["say"])
    if "Records" in event:
        records = event["Records"]
        seen = json.dumps([r["body"] for r in records])
        boto3.client("sqs").send_message(QueueUrl=os.environ["SEEN_QUEUE"], MessageBody=seen)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "bad"]}
    return {
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "env": {k: os.environ.get(k) for k in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
                                                "AWS_ENDPOINT_URL", "GREETING", "LAMBDA_TASK_ROOT",
                                                "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")},
        "profiles": boto3.session.Session().available_profiles,
        "buckets": len(boto3.client("s3").list_buckets()["Buckets"]),
    }
"""


@pytest.fixture(scope="module")
def role_arn(aws: Callable[..., Any]) -> str:
    return lambda_role(aws, "fn-role")


def make_function(aws: Callable[..., Any], role_arn: str, code: str = HANDLER, timeout: int = 10, **env: str) -> str:
    name, _ = python_function(aws, role_arn, code, timeout=timeout, env={"GREETING": "hello", **env})
    return name


def invoke(aws: Callable[..., Any], name: str, event: dict[str, Any]) -> tuple[str | None, Any]:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.load(response["Payload"])


def test_invoke_gives_the_runtime_environment_and_context(aws, role_arn, endpoint):
    name = make_function(aws, role_arn, timeout=7)
    error, payload = invoke(aws, name, {})
    assert error is None, payload
    assert payload["function_name"] == name
    assert payload["arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
    assert 0 < payload["remaining_ms"] <= 7000
    assert payload["memory"] == "128"
    env = payload["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name and env["GREETING"] == "hello"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_ENDPOINT_URL"] == endpoint.url  # its AWS calls come back here
    # and no ~/.aws of the machine's user can send them elsewhere (ignore_configured_endpoint_urls)
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert payload["profiles"] == []
    assert payload["buckets"] == len(aws("s3").list_buckets()["Buckets"])
    assert invoke(aws, name, {})[1]["request_id"] != payload["request_id"]


def test_what_the_function_prints_or_logs_reaches_the_endpoints_log(aws, role_arn, caplog):
    name = make_function(aws, role_arn)
    with caplog.at_level(logging.INFO, logger=f"localaws.lambda.{name}"):
        assert invoke(aws, name, {"say": "hello"})[0] is None
        deadline = time.monotonic() + 5
        while len([r for r in caplog.records if "hello" in r.getMessage()]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records if r.name == f"localaws.lambda.{name}"]
    assert "printed hello" in lines
    assert any(line.startswith("[WARNING]") and line.endswith("logged hello") for line in lines)


def test_an_exception_is_a_function_error(aws, role_arn):
    name = make_function(aws, role_arn)
    error, payload = invoke(aws, name, {"fail": True})
    assert error == "Unhandled"
    assert payload["errorType"] == "ValueError" and payload["errorMessage"] == "asked to fail"


def test_the_timeout_ends_the_invocation_and_the_next_one_runs(aws, role_arn):
    name = make_function(aws, role_arn, timeout=1)
    started = time.monotonic()
    error, payload = invoke(aws, name, {"sleep": 30})
    assert time.monotonic() - started < 10
    assert error == "Unhandled" and payload["errorMessage"] == "Task timed out after 1.00 seconds"
    assert invoke(aws, name, {})[0] is None


def test_only_the_runtimes_packages_and_the_zip_are_importable(aws, role_arn):
    name = make_function(aws, role_arn, code="import tqdm\ndef handler(event, context):\n    return 1\n")
    error, payload = invoke(aws, name, {})
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'tqdm'" in payload["errorMessage"]
    packaged = "import helper, boto3, json\ndef handler(event, context):\n    return helper.VALUE\n"
    aws("lambda").update_function_code(
        FunctionName=name, ZipFile=zipped(**{"app.py": packaged, "helper.py": "VALUE = 42\n"})
    )
    assert invoke(aws, name, {}) == (None, 42)


def test_a_layers_python_folder_is_importable_as_lambdas_opt_python(aws, role_arn):
    """A layer's ``python/`` is on the path, after the function's own code; a package neither the zip
    nor a layer has is still refused."""
    code = "import layered\ndef handler(event, context):\n    return layered.VALUE\n"
    name = make_function(aws, role_arn, code=code)
    assert invoke(aws, name, {})[1]["errorType"] == "Runtime.ImportModuleError"
    layer = aws("lambda").publish_layer_version(
        LayerName=unique("layer"), Content={"ZipFile": zipped(**{"python/layered.py": "VALUE = 'from the layer'\n"})}
    )["LayerVersionArn"]
    aws("lambda").update_function_configuration(FunctionName=name, Layers=[layer])
    assert invoke(aws, name, {}) == (None, "from the layer")
    aws("lambda").update_function_code(FunctionName=name, ZipFile=zipped(**{"app.py": "import tqdm\n" + code}))
    error, payload = invoke(aws, name, {})
    assert error == "Unhandled" and "No module named 'tqdm'" in payload["errorMessage"]


def test_unknown_function_and_bad_mappings_are_refused(aws, role_arn):
    lam = aws("lambda")
    with pytest.raises(ClientError) as missing:
        invoke(aws, unique("missing"), {})
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    queue_url = aws("sqs").create_queue(QueueName=unique("source"))["QueueUrl"]
    queue_arn = aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    name = make_function(aws, role_arn)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name, BatchSize=50)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=unique("missing"))
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name, Enabled=False)
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_event_source_mapping(UUID=mapping["UUID"])


def queue_with_dead_letters(aws: Callable[..., Any], max_receive_count: int = 2) -> tuple[str, str, str]:
    sqs = aws("sqs")
    dead = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receive_count}
    source = sqs.create_queue(
        QueueName=unique("source"), Attributes={"VisibilityTimeout": "1", "RedrivePolicy": json.dumps(redrive)}
    )["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return source, source_arn, dead


def bodies(
    aws: Callable[..., Any], queue_url: str, until: Callable[[list[Any]], bool], timeout: float = 20
) -> list[Any]:
    sqs = aws("sqs")
    seen: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(seen):
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            seen.append(json.loads(message["Body"]) if message["Body"].startswith("[") else message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def test_mapping_batches_deletes_successes_and_sends_failures_to_the_dead_letter_queue(aws, role_arn):
    sqs, lam = aws("sqs"), aws("lambda")
    seen_queue = sqs.create_queue(QueueName=unique("seen"))["QueueUrl"]
    name = make_function(aws, role_arn, SEEN_QUEUE=seen_queue)
    source, source_arn, dead = queue_with_dead_letters(aws)
    for body in ("a", "b", "bad", "c", "d"):
        sqs.send_message(QueueUrl=source, MessageBody=body)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=source_arn,
        FunctionName=name,
        BatchSize=3,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and mapping["State"] == "Enabled"
    batches = bodies(aws, seen_queue, until=lambda seen: sum(b.count("bad") for b in seen) >= 2)
    assert all(len(batch) <= 3 for batch in batches)
    processed = [body for batch in batches for body in batch]
    assert sorted(set(processed)) == ["a", "b", "bad", "c", "d"]
    assert processed.count("bad") == 2  # maxReceiveCount receives, then SQS moves it
    assert all(processed.count(body) == 1 for body in "abcd")  # the others were deleted, not retried
    assert bodies(aws, dead, until=lambda seen: bool(seen)) == ["bad"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_failed_invocation_keeps_the_whole_batch_and_a_deleted_mapping_stops(aws, role_arn):
    sqs, lam = aws("sqs"), aws("lambda")
    name = make_function(aws, role_arn, code="def handler(event, context):\n    raise RuntimeError('down')\n")
    source, source_arn, dead = queue_with_dead_letters(aws, max_receive_count=1)
    sqs.send_message(QueueUrl=source, MessageBody="x")
    mapping = lam.create_event_source_mapping(EventSourceArn=source_arn, FunctionName=name, BatchSize=1)
    assert bodies(aws, dead, until=lambda seen: bool(seen)) == ["x"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    time.sleep(1.5)  # a poller finishes its current long poll
    sqs.send_message(QueueUrl=source, MessageBody="after")
    time.sleep(2)
    attributes = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1"


PID_HANDLER = """
import os, pathlib, time

def handler(event, context):
    if event.get("pid_file"):
        pathlib.Path(event["pid_file"]).write_text(str(os.getpid()))
    time.sleep(event.get("sleep", 0))
    return os.getpid()
"""


ORPHANING_ENDPOINT = """
import sys, threading
from pathlib import Path
from localaws.awslambda.runner import FunctionRunner, FunctionSpec

code, pid_file = Path(sys.argv[1]).read_bytes(), sys.argv[2]
runner = FunctionRunner(Path(sys.argv[3]), lambda: "http://127.0.0.1:9")
spec = FunctionSpec("orphan", "arn:aws:lambda:us-east-1:123456789012:function:orphan", "us-east-1", "app.handler",
                    "python3.12", 300, 128, (), "sha", "/aws/lambda/orphan", code)
runner.invoke(spec, {"pid_file": pid_file, "sleep": 300})
"""


def test_a_worker_ends_when_its_endpoint_is_killed_even_mid_invocation(tmp_path):
    (tmp_path / "code.zip").write_bytes(zipped(**{"app.py": PID_HANDLER}))
    pid_file = tmp_path / "worker.pid"
    endpoint = subprocess.Popen(
        [sys.executable, "-c", ORPHANING_ENDPOINT, str(tmp_path / "code.zip"), str(pid_file), str(tmp_path / "code")],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 20
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        worker = int(pid_file.read_text())
    finally:
        endpoint.kill()  # no chance to shut its workers down
        endpoint.wait()
    deadline = time.monotonic() + 10
    while is_running(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    orphaned = is_running(worker)
    if orphaned:  # leave no stray process behind, even when failing
        os.kill(worker, signal.SIGKILL)
    assert not orphaned


def test_functions_run_from_a_relative_data_dir(tmp_path, monkeypatch):
    """serve's default --data-dir is relative (.local): each worker starts in its task root, so the
    root it is told must not be relative to the endpoint's folder (every invocation failed at init)."""
    monkeypatch.chdir(tmp_path)
    runner = FunctionRunner(Path(".local") / "lambda", lambda: "http://127.0.0.1:9")
    spec = FunctionSpec(
        "relative",
        "arn:aws:lambda:us-east-1:123456789012:function:relative",
        "us-east-1",
        "app.handler",
        "python3.12",
        30,
        128,
        (),
        "sha-relative",
        "/aws/lambda/relative",
        zipped(**{"app.py": PID_HANDLER}),
    )
    try:
        result = runner.invoke(spec, {})
    finally:
        runner.shutdown()
    assert not result.failed, result.error
    assert result.payload != os.getpid()  # it ran, in a worker of its own
