"""The local endpoint's clients (``localaws.clients.local_client``) reach it on 127.0.0.1 whatever
proxy the environment names: a proxy cannot reach this machine's loopback. Checked with a real
request to two real listening sockets, one standing for the proxy."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing

import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from localaws.clients import local_client
from tests.support.pulumi_mocks import ROOT

# One attempt, soon over: nothing answers the request, only where it went is looked at.
ONE_TRY = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=0.5)


@pytest.fixture
def listeners() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(proxy, endpoint): two sockets listening on 127.0.0.1."""
    made = []
    for _ in range(2):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        made.append(listener)
    with closing(made[0]), closing(made[1]):
        yield made[0], made[1]


def reached(client: object, proxy: socket.socket, endpoint: socket.socket) -> list[str]:
    with pytest.raises(BotoCoreError):  # nothing answers: a read timeout
        client.list_buckets()  # type: ignore[attr-defined]
    readable, _, _ = select.select([proxy, endpoint], [], [], 0)
    return ["proxy" if listener is proxy else "endpoint" for listener in readable]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_an_environments_proxy_is_not_asked_for_the_local_endpoint(listeners, monkeypatch, host):
    """A shell behind a company's proxy (HTTP_PROXY, no NO_PROXY for 127.0.0.1) made the endpoint's own
    calls to itself fail: every StartFaceDetection ended InternalServerError "Failed to connect to proxy
    URL" (reproduced with the demo). The config given is kept."""
    proxy, endpoint = listeners
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.getsockname()[1]}")
    client = local_client("s3", f"http://{host}:{endpoint.getsockname()[1]}", config=ONE_TRY)
    assert reached(client, proxy, endpoint) == ["endpoint"]
    assert client.meta.config.read_timeout == 0.5


def test_the_environments_proxy_is_what_a_plain_client_uses(listeners, monkeypatch):
    """The set-up above really sends a botocore client to the proxy (else that test proves nothing)."""
    import boto3

    proxy, endpoint = listeners
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.getsockname()[1]}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.getsockname()[1]}")
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{endpoint.getsockname()[1]}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=ONE_TRY,
    )
    assert reached(client, proxy, endpoint) == ["proxy"]


def test_the_endpoints_clients_read_none_of_the_users_aws_setup(tmp_path):
    """An AWS_PROFILE that ~/.aws does not hold stopped `serve` with a ProfileNotFound traceback as
    localaws.clients was imported; a profile's settings reached the endpoint's own clients too."""
    config = tmp_path / "config"
    config.write_text("[profile work]\nretry_mode = legacy\nmax_attempts = 9\n")
    probe = (
        "from localaws.clients import local_client\n"
        "client = local_client('s3', 'http://127.0.0.1:1')\n"
        "print(client.meta.endpoint_url, client.meta.config.retries)\n"
    )
    for profile in ("nosuch", "work"):
        env = {**os.environ, "AWS_PROFILE": profile, "AWS_CONFIG_FILE": str(config)}
        done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True)
        assert (done.returncode, done.stderr) == (0, ""), profile
        assert done.stdout.startswith("http://127.0.0.1:1 ") and "legacy" not in done.stdout, profile
