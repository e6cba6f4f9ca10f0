"""The local endpoint's clients (``localaws.clients.local_client``) reach it on 127.0.0.1 whatever
proxy the environment names: a proxy cannot reach this machine's loopback. Checked with a real
request to two real listening sockets, one standing for the proxy."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from contextlib import closing

import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from localaws.clients import local_client

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
