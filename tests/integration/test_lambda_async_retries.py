"""Asynchronous invocations on the local endpoint are retried as Lambda retries them: a failed run
(function error or timeout) again up to the function's MaximumRetryAttempts (2 without an event
invoke config), never past MaximumEventAgeInSeconds; and the event invoke config API round-trips."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws.endpoint import LocalEndpoint
from localaws.rekognition.models import EmulatorSettings
from tests.support.aws import ACCOUNT_ID, REGION, lambda_role, python_function, unique

# Each run leaves an object under runs/<request>/ in the event's bucket, then fails as asked.
HANDLER = """
import time, uuid
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=event["bucket"], Key=f"runs/{event['tag']}/{uuid.uuid4().hex}", Body=b"")
    gate = event.get("wait_for")
    while gate and not s3.list_objects_v2(Bucket=event["bucket"], Prefix=gate)["KeyCount"]:
        time.sleep(0.05)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return "ok"
"""
TINY_DELAYS = (0.05, 0.05)


@pytest.fixture(scope="module")
def role_arn(aws: Callable[..., Any]) -> str:
    return lambda_role(aws, "retry-role")


@pytest.fixture(scope="module")
def bucket(aws: Callable[..., Any]) -> str:
    name = unique("runs")
    aws("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def fast_retries(endpoint: LocalEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared endpoint's retry waits made tiny (Lambda's are minutes; the local default seconds)."""
    lam = endpoint.awslambda
    monkeypatch.setattr(lam, "settings", dataclasses.replace(lam.settings, event_retry_delays=TINY_DELAYS))


def make_function(aws: Callable[..., Any], role_arn: str, timeout: int = 10) -> tuple[str, str]:
    return python_function(aws, role_arn, HANDLER, name=unique("retried"), timeout=timeout)


def invoke_event(aws, name: str, bucket: str, **event: Any) -> str:
    """Invoke with InvocationType=Event; the tag its runs are counted by."""
    tag = unique("event")
    response = aws("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"bucket": bucket, "tag": tag, **event})
    )
    assert response["StatusCode"] == 202
    return tag


def runs(aws, bucket: str, tag: str) -> int:
    return aws("s3").list_objects_v2(Bucket=bucket, Prefix=f"runs/{tag}/").get("KeyCount", 0)


def wait_until_done(endpoint, arn: str) -> None:
    """Until the endpoint is done with the function's events (run, retried, or given up)."""
    deadline = time.monotonic() + 120
    while endpoint.awslambda.queued_events(arn):
        assert time.monotonic() < deadline, "an event is still queued or waiting for a retry"
        time.sleep(0.1)


def runs_of_one_event(aws, endpoint, function: tuple[str, str], bucket: str, **event: Any) -> int:
    """Invoke once, wait until the endpoint is done with the event, and count the function's runs."""
    tag = invoke_event(aws, function[0], bucket, **event)
    wait_until_done(endpoint, function[1])
    return runs(aws, bucket, tag)


@pytest.mark.parametrize(("retries", "runs"), [(None, 3), (0, 1), (1, 2), (2, 3)])
def test_a_failed_event_runs_once_plus_its_retries(aws, endpoint, role_arn, bucket, fast_retries, retries, runs):
    function = make_function(aws, role_arn)
    if retries is not None:
        aws("lambda").put_function_event_invoke_config(FunctionName=function[0], MaximumRetryAttempts=retries)
    assert runs_of_one_event(aws, endpoint, function, bucket, fail=True) == runs


def test_a_successful_event_runs_once(aws, endpoint, role_arn, bucket, fast_retries):
    assert runs_of_one_event(aws, endpoint, make_function(aws, role_arn), bucket) == 1


def test_a_timed_out_event_is_retried_too(aws, endpoint, role_arn, bucket, fast_retries):
    # 3 s: each run starts a fresh process, which must record itself (boto3 and a PutObject) in time.
    function = make_function(aws, role_arn, timeout=3)
    aws("lambda").put_function_event_invoke_config(FunctionName=function[0], MaximumRetryAttempts=1)
    assert runs_of_one_event(aws, endpoint, function, bucket, sleep=10) == 2


def test_an_event_too_old_for_its_next_run_is_dropped(aws, endpoint, role_arn, bucket, monkeypatch, caplog):
    """With 61 s to wait before a retry and a maximum age of 60 s, the retry can never happen: the
    event is dropped at once, not after the wait."""
    lam = endpoint.awslambda
    monkeypatch.setattr(lam, "settings", dataclasses.replace(lam.settings, event_retry_delays=(61.0,)))
    function = make_function(aws, role_arn)
    aws("lambda").put_function_event_invoke_config(
        FunctionName=function[0], MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60
    )
    with caplog.at_level(logging.WARNING, logger="localaws.awslambda.models"):
        assert runs_of_one_event(aws, endpoint, function, bucket, fail=True) == 1
    (given_up,) = [r.getMessage() for r in caplog.records if "not retried" in r.getMessage()]
    assert function[0] in given_up and "MaximumEventAgeInSeconds 60" in given_up


def test_an_event_that_waited_too_long_in_the_queue_is_dropped_unrun(
    aws, endpoint, role_arn, bucket, monkeypatch, caplog
):
    """One run at a time: the second event waits behind the first, and meanwhile the endpoint's clock
    moves 61 s on, past its MaximumEventAgeInSeconds 60: it is dropped without a run."""
    lam = endpoint.awslambda
    monkeypatch.setattr(lam, "settings", dataclasses.replace(lam.settings, event_concurrency=1))
    offset = [0.0]
    monkeypatch.setattr(lam, "_clock", lambda: time.monotonic() + offset[0])
    name, arn = make_function(aws, role_arn, timeout=60)
    aws("lambda").put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)
    gate = unique("gate")
    with caplog.at_level(logging.WARNING, logger="localaws.awslambda.models"):
        first = invoke_event(aws, name, bucket, wait_for=gate)
        second = invoke_event(aws, name, bucket)
        deadline = time.monotonic() + 60
        while not runs(aws, bucket, first):  # running (its age was checked), and held at the gate
            assert time.monotonic() < deadline, "the first event never ran"
            time.sleep(0.05)
        offset[0] = 61.0
        aws("s3").put_object(Bucket=bucket, Key=gate, Body=b"")
        wait_until_done(endpoint, arn)
    assert (runs(aws, bucket, first), runs(aws, bucket, second)) == (1, 0)
    (dropped,) = [r.getMessage() for r in caplog.records if f"of {name} dropped" in r.getMessage()]
    age = re.search(r"dropped: (\d+) s old, over its MaximumEventAgeInSeconds 60$", dropped)
    assert age and int(age[1]) >= 61, dropped  # 61 s on the moved clock, and the real time the run took


def test_the_config_round_trips_through_the_api(aws, role_arn):
    lam = aws("lambda")
    name, arn = make_function(aws, role_arn)
    assert lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"] == []
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)

    put = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0, MaximumEventAgeInSeconds=3600)
    assert put["FunctionArn"] == f"{arn}:$LATEST"
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (0, 3600)
    got = lam.get_function_event_invoke_config(FunctionName=arn)  # by ARN as well as by name
    assert {k: got[k] for k in ("FunctionArn", "MaximumRetryAttempts", "MaximumEventAgeInSeconds")} == {
        k: put[k] for k in ("FunctionArn", "MaximumRetryAttempts", "MaximumEventAgeInSeconds")
    }
    assert got["LastModified"].year >= 2024  # a timestamp botocore could read

    # Update changes only what it names; Put replaces the whole config.
    updated = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 3600)
    replaced = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
    assert replaced["MaximumRetryAttempts"] == 2 and "MaximumEventAgeInSeconds" not in replaced
    (listed,) = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert listed["MaximumRetryAttempts"] == 2

    lam.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.delete_function_event_invoke_config(FunctionName=name)


def test_bad_configs_are_refused_as_lambda_refuses_them(aws, role_arn):
    lam = aws("lambda")
    name, _ = make_function(aws, role_arn)
    for too_much in ({"MaximumRetryAttempts": 3}, {"MaximumEventAgeInSeconds": 21601}):
        with pytest.raises(ClientError) as refused:
            lam.put_function_event_invoke_config(FunctionName=name, **too_much)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert "less than or equal to" in refused.value.response["Error"]["Message"]
    # A destination that is not an ARN: refused in one request (400), not an internal error retried.
    with pytest.raises(ClientError) as refused:
        lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": "x"}})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.put_function_event_invoke_config(FunctionName=unique("missing"), MaximumRetryAttempts=0)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.put_function_event_invoke_config(FunctionName=name, Qualifier="3", MaximumRetryAttempts=0)
    # Nothing was saved by a refused request.
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=name)


def test_the_config_goes_with_its_function(aws, role_arn):
    lam = aws("lambda")
    name, _ = make_function(aws, role_arn)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.delete_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=name)
    python_function(aws, role_arn, HANDLER, name=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=name)


def test_a_retry_waiting_does_not_hold_up_the_endpoints_stop(tmp_path):
    """Its own endpoint, whose retries wait 10 minutes: stop() drops the waiting retry and returns."""
    local = LocalEndpoint(EmulatorSettings(data_dir=tmp_path / "endpoint"), port=0)
    local.awslambda.settings = dataclasses.replace(local.awslambda.settings, event_retry_delays=(600.0,))
    local.start()
    stopped = threading.Event()
    try:
        aws = local.client
        role = aws("iam").create_role(RoleName=unique("role"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        bucket = unique("runs")
        aws("s3").create_bucket(Bucket=bucket)
        name, arn = make_function(aws, role)
        aws("lambda").invoke(
            FunctionName=name, InvocationType="Event", Payload=json.dumps({"bucket": bucket, "tag": "t", "fail": True})
        )
        deadline = time.monotonic() + 60
        while local.awslambda.waiting_retries() == 0:  # the first run failed and its retry waits
            assert time.monotonic() < deadline, "no retry was scheduled"
            time.sleep(0.1)
        assert local.awslambda.queued_events(arn) == 1  # still counted while it waits
    finally:
        stopper = threading.Thread(target=lambda: (local.stop(), stopped.set()), daemon=True)
        stopper.start()
        stopper.join(timeout=120)  # far less than the retry's 600 s wait
    assert stopped.is_set(), "stop() waited for the retry"
    assert local.awslambda.waiting_retries() == 0


def test_the_api_is_answered_in_the_endpoints_region_and_account(aws, role_arn):
    """The config of a function in another region is its own (the endpoint's backends are per region)."""
    name, arn = make_function(aws, role_arn)
    assert arn.split(":")[3:5] == [REGION, ACCOUNT_ID]
    other = "eu-west-2" if REGION != "eu-west-2" else "eu-west-3"
    with pytest.raises(ClientError) as refused:
        aws("lambda", region_name=other).put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
