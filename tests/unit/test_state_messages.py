"""The one-line messages of a lost or kept state: the launcher's advice when a local endpoint lacks the
stack's bucket or queue, and ``scripts/local.py status`` without an endpoint."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

import localaws.cli
from launcher.jobs.errors import ExitCode, from_client_error
from localaws.hints import python

# The interpreter that runs the tests, as the hint names it (a pasted ``python`` may be another one).
DEPLOY_AGAIN = f"run `{python()} scripts/local.py deploy` again"


def refusal(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}}, "PutObject")


@pytest.mark.parametrize(
    "code, environment, advice",
    [
        ("NoSuchBucket", {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, DEPLOY_AGAIN),
        ("NoSuchBucket", {"AWS_ENDPOINT_URL": "http://localhost:4566"}, "does not hold the stack's bucket"),
        ("AWS.SimpleQueueService.NonExistentQueue", {"AWS_ENDPOINT_URL": "http://[::1]:4566"}, "stack's queue"),
        (
            "QueueDoesNotExist",
            {"AWS_ENDPOINT_URL": "https://sqs.example.com", "AWS_ENDPOINT_URL_SQS": "http://127.0.0.2:4566"},
            DEPLOY_AGAIN,
        ),
        ("NoSuchBucket", {}, "deploy the stack again (`pulumi up`)"),
        ("NoSuchBucket", {"AWS_ENDPOINT_URL": "https://s3.eu-west-1.amazonaws.com"}, "`pulumi up`"),
    ],
)
def test_a_missing_bucket_or_queue_says_to_deploy_again(monkeypatch, code, environment, advice):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    error = from_client_error(refusal(code), "uploading a.mp4")
    assert error.exit_code is ExitCode.AWS_ERROR
    assert advice in str(error) and "\n" not in str(error)


def test_status_without_an_endpoint_is_one_line(capsys):
    assert localaws.cli.main(["status", "--endpoint", "http://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no local endpoint answers at http://127.0.0.1:1")
