"""The suite's guard (tests/conftest.py, ``no_real_aws``): a client a test forgets to point at the local
endpoint signs with dummy credentials, reads no AWS profile or config file, and cannot resolve an AWS
hostname; a process a test starts with this environment gets the same credentials."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from tests.support.no_real_aws import is_aws_host

PROBE = """
import json, boto3
session = boto3.session.Session()
credentials = session.get_credentials()
print(json.dumps({"key": credentials.access_key, "method": credentials.method, "profiles": session.available_profiles}))
"""


def test_a_client_without_an_endpoint_signs_with_dummy_keys_and_cannot_resolve_aws():
    session = boto3.session.Session()
    credentials = session.get_credentials()
    assert credentials is not None
    assert (credentials.access_key, credentials.method) == ("testing", "env")
    assert session.available_profiles == [], "no ~/.aws profile is read"
    sts = session.client("sts", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(EndpointConnectionError) as refused:
        sts.get_caller_identity()
    assert "tests may not reach real AWS (sts.us-east-1.amazonaws.com)" in str(refused.value.kwargs["error"])


def test_a_process_started_with_the_tests_environment_gets_the_dummy_keys_too():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=dict(os.environ), capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == {"key": "testing", "method": "env", "profiles": []}
    assert "AWS_PROFILE" not in os.environ and os.environ["AWS_CONFIG_FILE"] == os.devnull


@pytest.mark.parametrize(
    "host, blocked",
    [
        ("sqs.eu-west-1.amazonaws.com", True),
        ("S3.AMAZONAWS.COM.", True),
        (b"rekognition.cn-north-1.amazonaws.com.cn", True),
        ("s3.dualstack.us-east-1.api.aws", True),
        ("abc.lambda-url.us-east-1.on.aws", True),
        ("127.0.0.1", False),
        ("localhost", False),
        ("notamazonaws.com", False),
        (None, False),
    ],
)
def test_which_hosts_are_aws(host, blocked):
    assert is_aws_host(host) is blocked


def test_the_local_endpoint_s_addresses_still_resolve():
    assert socket.getaddrinfo("127.0.0.1", 4566)[0][4][0] == "127.0.0.1"
