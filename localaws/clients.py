"""boto3 clients of the local endpoint: signed with the local credentials, typed per service.

Callers that name their service get its typed client (``local_client("s3", url)`` is an ``S3Client``);
callers that pass the name through (the endpoint's and the deployer's client caches) get ``Any``.

Every client is made from one boto3 session: a session loads each service's model once, and a client
made from a fresh session loads it again (about 12 MB for S3, against 0.5 MB from a shared one).
Making a client from a session is not thread-safe (using the client is), hence the lock.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, get_args, overload
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.config import Config

from .defaults import DEFAULT_REGION, DUMMY_CREDENTIALS

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_rekognition import RekognitionClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient

# What the endpoint answers (moto in-process, our Rekognition emulator) and the deployer may create.
# cloudwatch (alarms, dashboards) and kms (the alarm topic's key) have no typed stubs here: Any.
Service = Literal["s3", "sns", "sqs", "iam", "sts", "rekognition", "lambda", "logs", "cloudwatch", "kms"]
SERVICES: tuple[str, ...] = get_args(Service)


def _own_session() -> boto3.session.Session:
    """A session that reads none of the user's AWS set-up: the endpoint's clients name their endpoint,
    credentials and region, and an ``AWS_PROFILE`` that ~/.aws does not hold stopped ``serve`` with
    botocore's ProfileNotFound traceback as this module was imported (a profile's retry or addressing
    settings would also have reached them)."""
    unset = (None, None, None, None)  # botocore's session variable: (config key, env var, default, conversion)
    core = botocore.session.Session(
        session_vars={
            "profile": unset,
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
        }
    )
    return boto3.session.Session(botocore_session=core)


_SESSION = _own_session()
_SESSION_LOCK = threading.Lock()


@overload
def local_client(
    service: Literal["s3"], endpoint_url: str, region_name: str = ..., config: Config | None = ...
) -> S3Client: ...
@overload
def local_client(
    service: Literal["sns"], endpoint_url: str, region_name: str = ..., config: Config | None = ...
) -> SNSClient: ...
@overload
def local_client(
    service: Literal["sqs"], endpoint_url: str, region_name: str = ..., config: Config | None = ...
) -> SQSClient: ...
@overload
def local_client(
    service: Literal["iam"], endpoint_url: str, region_name: str = ..., config: Config | None = ...
) -> IAMClient: ...
@overload
def local_client(
    service: Literal["sts"], endpoint_url: str, region_name: str = ..., config: Config | None = ...
) -> STSClient: ...
@overload
def local_client(
    service: Literal["rekognition"], endpoint_url: str, region_name: str = ..., config: Config | None = ...
) -> RekognitionClient: ...
@overload
def local_client(
    service: Literal["lambda"], endpoint_url: str, region_name: str = ..., config: Config | None = ...
) -> LambdaClient: ...
@overload
def local_client(
    service: Literal["logs"], endpoint_url: str, region_name: str = ..., config: Config | None = ...
) -> CloudWatchLogsClient: ...
@overload
def local_client(service: str, endpoint_url: str, region_name: str = ..., config: Config | None = ...) -> Any: ...
def local_client(
    service: str, endpoint_url: str, region_name: str = DEFAULT_REGION, config: Config | None = None
) -> Any:
    if service not in SERVICES:
        raise ValueError(f"the local endpoint has no {service!r} service; it answers {', '.join(SERVICES)}")
    with _SESSION_LOCK:
        return _SESSION.client(
            cast(Service, service),  # checked just above
            region_name=region_name,
            endpoint_url=endpoint_url,
            config=_direct_to_loopback(endpoint_url, config),
            **DUMMY_CREDENTIALS,
        )


def _direct_to_loopback(endpoint_url: str, config: Config | None) -> Config | None:
    """``config``, with no proxy when the endpoint is on this machine's loopback: botocore sends every
    request through an ``HTTP_PROXY`` of the environment unless ``NO_PROXY`` names the host, and a
    proxy cannot reach this machine's 127.0.0.1. Started from a shell behind a company's proxy, the
    endpoint's own calls to itself failed (every StartFaceDetection: InternalServerError, "Failed to
    connect to proxy URL"), and so did the deployer's."""
    host = urlsplit(endpoint_url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost: the environment's proxies apply
        loopback = False
    if not loopback:
        return config
    direct = Config(proxies={})  # given, even empty, botocore does not read the environment's
    return direct if config is None else config.merge(direct)


class ClientFactory(Protocol):
    """``client(service, region_name=...)``: typed per service, like boto3.client (the emulator's and the
    deployer's)."""

    @overload
    def __call__(self, service: Literal["s3"], region_name: str = ...) -> S3Client: ...
    @overload
    def __call__(self, service: Literal["sns"], region_name: str = ...) -> SNSClient: ...
    @overload
    def __call__(self, service: Literal["sqs"], region_name: str = ...) -> SQSClient: ...
    @overload
    def __call__(self, service: Literal["iam"], region_name: str = ...) -> IAMClient: ...
    @overload
    def __call__(self, service: Literal["sts"], region_name: str = ...) -> STSClient: ...
    @overload
    def __call__(self, service: Literal["rekognition"], region_name: str = ...) -> RekognitionClient: ...
    @overload
    def __call__(self, service: Literal["lambda"], region_name: str = ...) -> LambdaClient: ...
    @overload
    def __call__(self, service: Literal["logs"], region_name: str = ...) -> CloudWatchLogsClient: ...
    @overload
    def __call__(self, service: str, region_name: str = ...) -> Any: ...
