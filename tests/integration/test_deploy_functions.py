"""The offline deployer creates, updates and destroys functions, their event source mappings, event
invoke configs and log groups, and bucket notifications, idempotently: a small program of its own,
applied to the endpoint."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from localaws.deploy import engine
from localaws.deploy.handlers import Context
from tests.support.aws import ACCOUNT_ID, REGION

PROGRAM = textwrap.dedent(
    """
    import json
    import pulumi
    import pulumi_aws as aws

    config = pulumi.Config()
    bucket = aws.s3.Bucket("files", force_destroy=True)
    queue = aws.sqs.Queue("events", visibility_timeout_seconds=5)
    out = aws.sqs.Queue("out")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = aws.iam.Role("fn", assume_role_policy=json.dumps(trust))
    logs = aws.cloudwatch.LogGroup("fn", name_prefix="/aws/lambda/fn-", retention_in_days=config.get_int("days") or 7)
    code = "import boto3, os\\ndef handler(event, context):\\n    " + (
        "boto3.client('sqs').send_message(QueueUrl=os.environ['OUT'], MessageBody=os.environ['WORD'] + ':' + "
        "event['Records'][0]['body'])\\n"
    )
    function = aws.lambda_.Function(
        "fn",
        role=role.arn,
        runtime="python3.12",
        handler="app.handler",
        timeout=5,
        code=pulumi.AssetArchive({"app.py": pulumi.StringAsset(code)}),
        environment={"variables": {"OUT": out.url, "WORD": config.get("word") or "first"}},
        logging_config={"log_format": "Text", "log_group": logs.name},
    )
    aws.lambda_.EventSourceMapping("fn", event_source_arn=queue.arn, function_name=function.arn, batch_size=1,
                                   function_response_types=["ReportBatchItemFailures"])
    if not config.get_bool("lambdaDefaults"):
        aws.lambda_.FunctionEventInvokeConfig("fn", function_name=function.name,
                                              maximum_retry_attempts=config.get_int("retries") or 0,
                                              maximum_event_age_in_seconds=3600,
                                              destination_config={"on_failure": {"destination": out.arn}})
    aws.s3.BucketNotification("files", bucket=bucket.id, queues=[
        {"queue_arn": queue.arn, "events": ["s3:ObjectCreated:*"], "filter_prefix": "in/", "filter_suffix": ".txt"}])
    pulumi.export("bucket", bucket.bucket)
    pulumi.export("out", out.url)
    pulumi.export("function", function.name)
    pulumi.export("logs", logs.name)
    """
)


@pytest.fixture(scope="module")
def ctx(endpoint) -> Context:
    return Context(endpoint.clients_in(REGION), REGION, ACCOUNT_ID)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("project")
    (folder / "Pulumi.yaml").write_text("name: functions-test\nruntime: python\n")
    (folder / "__main__.py").write_text(PROGRAM)
    return folder


def settings(**values: str) -> dict[str, str]:
    return {"aws:region": REGION, **{f"functions-test:{k}": v for k, v in values.items()}}


def messages(aws, queue_url: str, until: str, timeout: float = 20) -> list[str]:
    """What the function sent, until a message mentioning ``until`` (SQS delivers at least once: a
    message may come twice)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(until in body for body in seen) and time.monotonic() < deadline:
        for message in aws("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []):
            seen.append(message["Body"])
            aws("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def test_functions_deploy_run_update_and_destroy(ctx, aws, project, tmp_path):
    state = tmp_path / "state.json"
    outputs, changes = engine.deploy(ctx, project, "dev", state, settings())
    assert {c.action for c in changes} == {"created"}
    lam, s3 = aws("lambda"), aws("s3")
    function = lam.get_function(FunctionName=outputs["function"])["Configuration"]
    assert function["Runtime"] == "python3.12" and function["Timeout"] == 5
    (mapping,) = lam.list_event_source_mappings(FunctionName=outputs["function"])["EventSourceMappings"]
    assert mapping["BatchSize"] == 1 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    invoke_config = lam.get_function_event_invoke_config(FunctionName=outputs["function"])
    assert (invoke_config["MaximumRetryAttempts"], invoke_config["MaximumEventAgeInSeconds"]) == (0, 3600)
    out_arn = aws("sqs").get_queue_attributes(QueueUrl=outputs["out"], AttributeNames=["QueueArn"])["Attributes"]
    assert invoke_config["DestinationConfig"] == {"OnFailure": {"Destination": out_arn["QueueArn"]}}
    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix=outputs["logs"])["logGroups"]
    assert group["retentionInDays"] == 7
    (target,) = s3.get_bucket_notification_configuration(Bucket=outputs["bucket"])["QueueConfigurations"]
    rules = {r["Name"].lower(): r["Value"] for r in target["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "in/", "suffix": ".txt"}

    s3.put_object(Bucket=outputs["bucket"], Key="in/a.txt", Body=b"a")
    s3.put_object(Bucket=outputs["bucket"], Key="elsewhere/b.txt", Body=b"b")  # outside the filter
    seen = messages(aws, outputs["out"], until="a.txt")
    assert all(body.startswith("first:") for body in seen)
    assert not any("b.txt" in body for body in seen), seen

    again, changes = engine.deploy(ctx, project, "dev", state, settings())
    assert again == outputs and {c.action for c in changes} == {"unchanged"}

    _, changes = engine.deploy(ctx, project, "dev", state, settings(word="second", days="14", retries="1"))
    updated = {(c.type.split(":")[-1], c.action) for c in changes if c.action != "unchanged"}
    assert updated == {("Function", "updated"), ("LogGroup", "updated"), ("FunctionEventInvokeConfig", "updated")}
    invoke_config = lam.get_function_event_invoke_config(FunctionName=outputs["function"])
    assert (invoke_config["MaximumRetryAttempts"], invoke_config["MaximumEventAgeInSeconds"]) == (1, 3600)
    s3.put_object(Bucket=outputs["bucket"], Key="in/c.txt", Body=b"c")
    (after,) = {body for body in messages(aws, outputs["out"], until="c.txt") if "c.txt" in body}
    assert after.startswith("second:")

    _, changes = engine.deploy(ctx, project, "dev", state, settings(word="second", days="14", lambdaDefaults="true"))
    assert {(c.type.split(":")[-1], c.action) for c in changes if c.action != "unchanged"} == {
        ("FunctionEventInvokeConfig", "deleted")
    }
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=outputs["function"])
    assert lam.get_function(FunctionName=outputs["function"])["Configuration"]["FunctionName"] == outputs["function"]

    engine.destroy(ctx, state)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=outputs["function"])
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=outputs["function"])
    remaining = lam.list_event_source_mappings()["EventSourceMappings"]
    assert all(m["FunctionArn"] != function["FunctionArn"] for m in remaining)
    assert not aws("logs").describe_log_groups(logGroupNamePrefix=outputs["logs"])["logGroups"]
    assert outputs["bucket"] not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
