"""AWS clients configured the AWS way: AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL (read by boto3
itself), botocore's retry modes for throttling, and the stack's region as the fallback."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

# botocore's "standard" mode retries ThrottlingException, ProvisionedThroughputExceededException,
# LimitExceededException and transient network errors with exponential backoff and jitter.
# AWS_RETRY_MODE and AWS_MAX_ATTEMPTS, when set, win, as everywhere in the SDK.
DEFAULT_RETRY_MODE = "standard"
DEFAULT_MAX_ATTEMPTS = 8


def retry_config() -> Config:
    retries: dict[str, Any] = {}
    if "AWS_RETRY_MODE" not in os.environ:
        retries["mode"] = DEFAULT_RETRY_MODE
    if "AWS_MAX_ATTEMPTS" not in os.environ:
        retries["max_attempts"] = DEFAULT_MAX_ATTEMPTS
    return Config(retries=retries) if retries else Config()


class Clients:
    """One client per service, in the region from the environment or profile, else the stack's."""

    def __init__(self, fallback_region: str) -> None:
        session = boto3.session.Session()
        self.region = session.region_name or fallback_region
        self._session = session
        self._config = retry_config()
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, region_name=self.region, config=self._config)
        return self._clients[service]
