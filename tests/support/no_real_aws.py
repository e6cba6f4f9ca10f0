"""Nothing the tests run reaches real AWS (the suite's autouse guard, tests/conftest.py).

A client a test forgets to point at the local endpoint would otherwise sign with a developer's own
credentials (``AWS_PROFILE``, ``~/.aws``) and call AWS, directly or through the developer's proxy.
Under the guard it signs with dummy keys, reads no profile or config file, names no proxy, and, in
the test process, cannot even resolve an AWS hostname, so it fails at once. A process a test starts
with ``os.environ`` inherits the environment part. moto's in-process mocks answer before any name is
resolved; the local endpoint is on 127.0.0.1.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from localaws.defaults import ACCESS_KEY_ID, NO_AWS_FILES, SECRET_ACCESS_KEY

# Domains of AWS's public endpoints: commercial, China, dual-stack, Lambda function URLs.
AWS_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "api.aws", "on.aws")
GUARD_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    # No ~/.aws: neither a profile's keys nor an endpoint_url or ignore_configured_endpoint_urls there.
    **NO_AWS_FILES,
    # Nor EC2's or a container's metadata service.
    "AWS_EC2_METADATA_DISABLED": "true",
}
# What would pick other credentials, or make botocore ignore AWS_ENDPOINT_URL.
GUARD_REMOVED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    # A developer's proxy: botocore would send a forgotten client's request for AWS to it, which
    # resolves the AWS name itself (the guard's getaddrinfo sees only the proxy's), and the endpoint's
    # 127.0.0.1 is out of its reach anyway. Lower-case names win over upper-case ones where both are set.
    *(f"{scheme}_proxy" for scheme in ("http", "https", "all")),
    *(f"{scheme}_PROXY" for scheme in ("HTTP", "HTTPS", "ALL")),
)


def is_aws_host(host: object) -> bool:
    """Whether a name passed to getaddrinfo is one of AWS's (str or bytes, any case, a final dot)."""
    name = (host.decode() if isinstance(host, bytes) else str(host or "")).rstrip(".").lower()
    return any(name == domain or name.endswith("." + domain) for domain in AWS_DOMAINS)


@contextmanager
def real_aws_blocked() -> Iterator[None]:
    """The guard, undone on exit."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if is_aws_host(host):
            raise socket.gaierror(socket.EAI_NONAME, f"tests may not reach real AWS ({host}): use the local endpoint")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        for name in GUARD_REMOVED:
            patch.delenv(name, raising=False)
        for name, value in GUARD_ENVIRONMENT.items():
            patch.setenv(name, value)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield
