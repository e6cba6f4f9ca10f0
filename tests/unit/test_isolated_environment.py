"""The demo's commands stay on the local endpoint whatever the user's shell and ~/.aws say: checked
with botocore itself in a fresh process, against a config that would send a client to AWS."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from localaws.defaults import ACCESS_KEY_ID, client_environment, isolated_environment

URL = "http://127.0.0.1:4599"

# What a client made by boto3's defaults would use: its endpoint, key and region.
PROBE = """
import json, boto3
session = boto3.session.Session()
s3 = session.client("s3")
print(json.dumps({"endpoint": s3.meta.endpoint_url, "key": session.get_credentials().access_key,
                  "region": session.region_name}))
"""


def _client_in(env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    result: dict[str, str] = json.loads(done.stdout)
    return result


def _users_setup(tmp_path: Path) -> dict[str, str]:
    """A shell whose AWS set-up points elsewhere in every way botocore reads."""
    config = tmp_path / "config"
    config.write_text(
        "[default]\nignore_configured_endpoint_urls = true\nregion = eu-west-1\n"
        "[profile work]\nendpoint_url = https://example.invalid\nregion = eu-west-2\n"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text("[work]\naws_access_key_id = AKIAUSERS\naws_secret_access_key = secret\n")
    shell = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}  # the guard's
    return {
        **shell,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_PROFILE": "work",
        "AWS_ENDPOINT_URL_S3": "https://s3.example.invalid",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
        "AWS_SESSION_TOKEN": "users-token",
        "HOME": str(tmp_path),
    }


def test_the_users_setup_would_send_a_client_elsewhere(tmp_path: Path) -> None:
    """The set-up below really steers botocore away from AWS_ENDPOINT_URL (else the next test proves
    nothing)."""
    users = _users_setup(tmp_path)
    client = _client_in({**users, "AWS_ENDPOINT_URL": URL})
    assert client["endpoint"] != URL
    assert client["key"] == "AKIAUSERS"


def test_the_demos_environment_reaches_only_the_endpoint(tmp_path: Path) -> None:
    client = _client_in(isolated_environment(_users_setup(tmp_path), URL))
    assert client == {"endpoint": URL, "key": ACCESS_KEY_ID, "region": "us-east-1"}


def test_what_is_not_aws_is_kept(tmp_path: Path) -> None:
    env = isolated_environment({"PATH": "/bin", "HOME": str(tmp_path), "AWS_PROFILE": "work"}, URL)
    assert env["PATH"] == "/bin" and env["HOME"] == str(tmp_path)
    assert "AWS_PROFILE" not in env
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull


# A client of boto3's defaults making one request, without retries: where it goes is what is checked.
REQUEST = """
import boto3, botocore.config
config = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=1)
try:
    boto3.session.Session().client("s3", config=config).list_buckets()
except Exception:
    pass
"""


def _reached(env: dict[str, str], proxy: socket.socket, endpoint: socket.socket) -> list[str]:
    """Which of the two listening sockets the client's request reached (a connection waits in its
    backlog, accepted or not)."""
    subprocess.run([sys.executable, "-c", REQUEST], env=env, capture_output=True, check=True, timeout=60)
    readable, _, _ = select.select([proxy, endpoint], [], [], 0)
    return ["proxy" if listener is proxy else "endpoint" for listener in readable]


def _listening() -> socket.socket:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    return listener


def test_a_users_proxy_is_not_asked_for_the_endpoint(tmp_path: Path) -> None:
    """An HTTP_PROXY in the user's shell (common behind a company's proxy) sent every request of the
    demo's commands to the proxy, which cannot reach this machine's 127.0.0.1: the endpoint's host is
    added to NO_PROXY, whatever the shell's NO_PROXY already holds."""
    with closing(_listening()) as proxy, closing(_listening()) as endpoint:
        url = f"http://127.0.0.1:{endpoint.getsockname()[1]}"
        shell = {
            name: value
            for name, value in os.environ.items()
            if not name.lower().endswith("_proxy") and not name.startswith("AWS_")  # the guard's
        }
        proxied = {
            **shell,
            "HOME": str(tmp_path),
            "HTTP_PROXY": f"http://127.0.0.1:{proxy.getsockname()[1]}",
            "http_proxy": f"http://127.0.0.1:{proxy.getsockname()[1]}",
            "no_proxy": "example.internal",
        }
        assert _reached({**proxied, **client_environment(url)}, proxy, endpoint) == ["proxy"]  # the set-up bites
    with closing(_listening()) as proxy, closing(_listening()) as endpoint:
        url = f"http://127.0.0.1:{endpoint.getsockname()[1]}"
        proxied["HTTP_PROXY"] = proxied["http_proxy"] = f"http://127.0.0.1:{proxy.getsockname()[1]}"
        env = isolated_environment(proxied, url)
        assert _reached(env, proxy, endpoint) == ["endpoint"]
        assert env["no_proxy"] == env["NO_PROXY"] == "127.0.0.1,example.internal"  # the user's entry kept


# Whether botocore would send a request for each URL given to the proxy of its environment.
BYPASSED = """
import sys
from botocore.utils import should_bypass_proxies
print([should_bypass_proxies(url) for url in sys.argv[1:]])
"""


def test_a_users_no_proxy_of_every_host_still_means_every_host() -> None:
    """NO_PROXY=* (no proxy at all) became "127.0.0.1,*", which Python's clients read as no proxy for
    127.0.0.1 alone, so that every other host went to the user's HTTP_PROXY. Entries with spaces keep
    their meaning."""
    shell = {name: value for name, value in os.environ.items() if not name.lower().endswith("_proxy")}
    urls = [URL, "http://example.org/", "http://b.internal/"]
    for users, expected in [
        ("*", [True, True, True]),
        (" * ", [True, True, True]),
        ("a.internal, b.internal", [True, False, True]),
    ]:
        env = isolated_environment({**shell, "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": users}, URL)
        done = subprocess.run(
            [sys.executable, "-c", BYPASSED, *urls], env=env, capture_output=True, text=True, check=True
        )
        assert done.stdout == f"{expected}\n", users
