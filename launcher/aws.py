"""AWS clients configured the AWS way: AWS_PROFILE, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL (read by
boto3 itself; boto3 ignores AWS_REGION), botocore's retry modes for throttling, and the stack's region
as the fallback."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final, Literal, overload

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from .jobs.errors import BadInput

if TYPE_CHECKING:
    from botocore.config import _RetryDict  # botocore-stubs name the retries TypedDict privately
    from mypy_boto3_rekognition import RekognitionClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# botocore's "standard" mode retries ThrottlingException, ProvisionedThroughputExceededException,
# LimitExceededException and transient network errors with exponential backoff and jitter.
# AWS_RETRY_MODE and AWS_MAX_ATTEMPTS, when set, win, as everywhere in the SDK.
DEFAULT_RETRY_MODE: Final = "standard"
DEFAULT_MAX_ATTEMPTS = 8


def retry_config() -> Config:
    retries: _RetryDict = {}
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

    @overload
    def __call__(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    def __call__(self, service: Literal["sqs"]) -> SQSClient: ...
    @overload
    def __call__(self, service: Literal["rekognition"]) -> RekognitionClient: ...
    def __call__(self, service: Literal["s3", "sqs", "rekognition"]) -> S3Client | SQSClient | RekognitionClient:
        if service not in self._clients:
            try:
                self._clients[service] = self._session.client(service, region_name=self.region, config=self._config)
            except ValueError as error:
                if isinstance(error, BotoCoreError):  # e.g. a malformed region: reported as AWS's own errors are
                    raise
                # botocore's "Invalid endpoint: <url>", from AWS_ENDPOINT_URL or the profile's endpoint_url
                raise BadInput(
                    f"{error}: set AWS_ENDPOINT_URL to a URL such as http://127.0.0.1:4566, or unset it"
                ) from None
        client: S3Client | SQSClient | RekognitionClient = self._clients[service]
        return client
