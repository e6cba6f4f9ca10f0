"""The region and credentials a client uses with the local endpoint, defined once.

The endpoint, the deployer, the demo, the benchmarks and the tests read them from here; the README's
exports say the same. moto accepts any credentials: these only make clients sign their requests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Final, TypedDict
from urllib.parse import urlsplit

DEFAULT_REGION: Final = "us-east-1"
ACCESS_KEY_ID: Final = "testing"
SECRET_ACCESS_KEY: Final = "testing"


class Credentials(TypedDict):
    """boto3.client(...)'s credential keyword arguments."""

    aws_access_key_id: str
    aws_secret_access_key: str


DUMMY_CREDENTIALS: Final[Credentials] = {"aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY}

# Empty AWS config and credentials files: no ~/.aws profile, retry, endpoint or addressing setting read.
# The demo's commands, the endpoint's own process and a local Lambda function's start with them (the
# endpoint's clients get the same from their botocore session, clients._own_session).
NO_AWS_FILES: Final = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def client_environment(url: str) -> dict[str, str]:
    """What a user exports to point the AWS SDK and CLI at the endpoint (boto3 and the AWS CLI v1 read
    the region from AWS_DEFAULT_REGION only)."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
    }


def isolated_environment(base: Mapping[str, str], url: str) -> dict[str, str]:
    """``base`` with none of the user's own AWS set-up, pointed at the endpoint at ``url``: the demo's
    commands run with it, so that they stay on 127.0.0.1 whatever the user's shell and ~/.aws say. An
    ``AWS_ENDPOINT_URL_S3``, ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` or a profile's
    ``ignore_configured_endpoint_urls`` would send a client past ``AWS_ENDPOINT_URL``, and an
    ``AWS_PROFILE`` the files below do not hold would fail every client: every ``AWS_`` variable is
    dropped and the config and credentials files are empty (as the local Lambda runtime does). An
    ``HTTP_PROXY`` would send every request to the proxy, which cannot reach this machine's 127.0.0.1:
    the endpoint's host is put first in ``NO_PROXY`` (and ``no_proxy``, which wins where both are set),
    the user's entries kept for anything else (a ``*`` of theirs alone: it already names every host)."""
    kept = {name: value for name, value in base.items() if not name.startswith("AWS_")}
    users = [entry.strip() for entry in (base.get("no_proxy") or base.get("NO_PROXY") or "").split(",")]
    # A '*' (no proxy for any host) only means that alone for Python's clients (urllib's proxy_bypass):
    # "127.0.0.1,*" sent every other host to the proxy.
    bypass = (
        "*" if "*" in users else ",".join(dict.fromkeys([urlsplit(url).hostname or "127.0.0.1", *filter(None, users)]))
    )
    return {
        **kept,
        **client_environment(url),
        **NO_AWS_FILES,
        "NO_PROXY": bypass,
        "no_proxy": bypass,
    }


def set_aside_users_profile(environ: MutableMapping[str, str]) -> None:
    """No profile and empty config and credentials files in ``environ``, the endpoint's own process
    environment (it calls no AWS): botocore reads them in every session made there, moto's (its
    regions of a service) and the endpoint's (its region list, its service models), and a profile the
    files do not hold failed each with ProfileNotFound: every request was answered 500."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        environ.pop(name, None)
    environ.update(NO_AWS_FILES)
