"""The suite's guard (tests/conftest.py, ``no_real_aws``): a client a test forgets to point at the local
endpoint signs with dummy credentials, reads no AWS profile or config file, and cannot resolve an AWS
hostname; a process a test starts with this environment gets the same credentials."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
from contextlib import closing

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


def test_a_developers_proxy_is_not_a_way_round_the_guard(monkeypatch):
    """With HTTPS_PROXY set (a developer behind a company's proxy), a forgotten client sent its request
    for AWS to the proxy, which resolves the AWS name itself: the guard's getaddrinfo saw only the
    proxy's address. Under the guard no proxy is named. The proxy here is a real listening socket."""
    from tests.support.no_real_aws import real_aws_blocked

    with closing(socket.socket()) as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.listen(4)
        url = f"http://127.0.0.1:{proxy.getsockname()[1]}"
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, url)
        with real_aws_blocked():
            sts = boto3.session.Session().client(
                "sts", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}, read_timeout=1)
            )
            with pytest.raises(EndpointConnectionError) as refused:
                sts.get_caller_identity()
        assert "tests may not reach real AWS (sts.us-east-1.amazonaws.com)" in str(refused.value.kwargs["error"])
        assert select.select([proxy], [], [], 0)[0] == [], "nothing was sent to the proxy"
