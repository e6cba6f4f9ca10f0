"""AWS clients configured the AWS way: AWS_PROFILE, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL (read by
boto3 itself; boto3 ignores AWS_REGION), botocore's retry modes for throttling, and the stack's region
as the fallback."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, overload
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound
from botocore.retries.standard import ExponentialBackoff, RetryContext, TransientRetryableChecker

from .jobs.errors import BadInput, ExitCode, LauncherError

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
T = TypeVar("T")
log = logging.getLogger(__name__)


# A batch uploads two videos at once (PREPARE_WORKERS), each in up to 10 parts at once (boto3's
# TransferConfig) through one S3 client: beyond botocore's 10 connections, urllib3 warned
# "Connection pool is full, discarding connection" for each one it dropped.
MAX_POOL_CONNECTIONS = 32


def retry_config() -> Config:
    retries: _RetryDict = {}
    if "AWS_RETRY_MODE" not in os.environ:
        retries["mode"] = DEFAULT_RETRY_MODE
    if "AWS_MAX_ATTEMPTS" not in os.environ:
        retries["total_max_attempts"] = DEFAULT_MAX_ATTEMPTS  # as AWS_MAX_ATTEMPTS counts: the first one too
    if retries:
        return Config(retries=retries, max_pool_connections=MAX_POOL_CONNECTIONS)
    return Config(max_pool_connections=MAX_POOL_CONNECTIONS)


@dataclass(frozen=True)
class AwsSettings:
    """--region, --profile and --endpoint-url, as the AWS CLI has them: when given, they win over
    AWS_DEFAULT_REGION, AWS_PROFILE and AWS_ENDPOINT_URL."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None


class Clients:
    """One client per service, in the region from --region, the environment or profile, else the stack's."""

    def __init__(self, fallback_region: str, settings: AwsSettings | None = None) -> None:
        settings = settings or AwsSettings()
        try:
            session = boto3.session.Session(profile_name=settings.profile, region_name=settings.region)
        except ProfileNotFound as error:
            raise BadInput(f"{error}: check --profile or AWS_PROFILE (aws configure list-profiles)") from None
        self.region = session.region_name or fallback_region
        self._session = session
        self._endpoint_url = settings.endpoint_url
        self._config = retry_config()
        self._clients: dict[str, Any] = {}

    def check_region(self, stack_region: str) -> None:
        """The stack's queue, topic and bucket are in its region: refused before anything starts
        when the clients would call another."""
        if self.region != stack_region:
            raise BadInput(
                f"the stack is in {stack_region} but the AWS region here is {self.region} (from --region, "
                f"AWS_DEFAULT_REGION or the profile): pass --region {stack_region}, or unset AWS_DEFAULT_REGION"
            )

    def client(self, service: str, config: Config | None = None) -> Any:
        """A new client of ``service`` with these settings (``config`` instead of the retry config)."""
        try:
            # botocore takes a port out of range, and the first call then fails as "unreachable";
            # reading it raises ValueError("Port out of range 0-65535").
            _ = urlsplit(self._endpoint_url or os.environ.get("AWS_ENDPOINT_URL", "")).port
            return self._session.client(  # type: ignore[call-overload]  # any service, by name
                service, region_name=self.region, config=config or self._config, endpoint_url=self._endpoint_url
            )
        except ValueError as error:
            if isinstance(error, BotoCoreError):  # e.g. a malformed region: reported as AWS's own errors are
                raise
            # botocore's "Invalid endpoint: <url>", from AWS_ENDPOINT_URL or the profile's endpoint_url
            raise BadInput(
                f"{error}: give --endpoint-url or AWS_ENDPOINT_URL a URL such as http://127.0.0.1:4566, or unset it"
            ) from None
        except OSError as error:  # the profile's credential_process cannot be run, a config file read
            where = f" {error.filename}" if error.filename else ""
            raise LauncherError(
                f"cannot get AWS credentials: cannot run or read{where}: {error.strerror or error}. What to do: check "
                "the profile's credential_process and the AWS config files (--profile, AWS_PROFILE, AWS_CONFIG_FILE)",
                ExitCode.AWS_ERROR,
            ) from None

    @overload
    def __call__(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    def __call__(self, service: Literal["sqs"]) -> SQSClient: ...
    @overload
    def __call__(self, service: Literal["rekognition"]) -> RekognitionClient: ...
    def __call__(self, service: Literal["s3", "sqs", "rekognition"]) -> S3Client | SQSClient | RekognitionClient:
        if service not in self._clients:
            self._clients[service] = self.client(service)
        client: S3Client | SQSClient | RekognitionClient = self._clients[service]
        return client


def max_attempts() -> int:
    """AWS_MAX_ATTEMPTS, as the SDK reads it, else the launcher's default."""
    try:
        return max(1, int(os.environ["AWS_MAX_ATTEMPTS"]))
    except (KeyError, ValueError):
        return DEFAULT_MAX_ATTEMPTS


def retry_transient(
    call: Callable[[], T], attempts: int | None = None, sleep: Callable[[float], None] = time.sleep
) -> T:
    """``call()``, tried again on what botocore's standard retry mode calls transient (a dropped or
    refused connection, a timeout, RequestTimeout), with botocore's own backoff and jitter, up to
    ``attempts`` (AWS_MAX_ATTEMPTS) in all. Used where a client runs without botocore's retries, so
    that its other errors (LimitExceeded) reach the caller at once; the call must be idempotent
    (a StartFaceDetection with its ClientRequestToken is)."""
    attempts = attempts or max_attempts()
    checker, backoff = TransientRetryableChecker(), ExponentialBackoff()
    attempt = 1
    while True:
        try:
            return call()
        except (BotoCoreError, ClientError) as error:
            parsed = error.response if isinstance(error, ClientError) else None
            context = RetryContext(attempt, parsed_response=parsed, caught_exception=None if parsed else error)
            if attempt >= attempts or not checker.is_retryable(context):
                raise
            delay = backoff.delay_amount(context)
            log.info("%s; trying again in %.2f s (attempt %d of %d)", error, delay, attempt + 1, attempts)
            sleep(delay)
            attempt += 1
