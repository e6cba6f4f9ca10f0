"""What can go wrong, what to do about it, and the exit code that says which it was.

Every failure the launcher reports is a LauncherError: one line for the user (what went wrong and
what to do) and a documented exit code, so scripts can tell a bad input from a failed job from a
service refusal.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from enum import IntEnum
from http import HTTPStatus
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from rekognition_limits import MAX_OPEN_JOBS


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    BAD_INPUT = 2  # a missing or unusable argument, file, URI, token, tag or stack output
    JOB_FAILED = 3  # the job ended FAILED (or ERROR): its StatusMessage says why
    TIMEOUT = 4  # --timeout passed before the job ended; it keeps running (re-attach with --attach)
    # a batch ended with videos FAILED or in ERROR (each one's error is in batch.jsonl), or --recursive left out a
    # subfolder it could not read
    BATCH_INCOMPLETE = 5
    REDACTION_LEAKS = 6  # --redact: the copy is written, but the leak audit found faces in it (results: Redaction)
    ACCESS_DENIED = 10
    INVALID_PARAMETER = 11
    INVALID_S3_OBJECT = 12
    VIDEO_TOO_LARGE = 13
    IDEMPOTENT_PARAMETER_MISMATCH = 14
    LIMIT_EXCEEDED = 15
    THROTTLED = 16
    PROVISIONED_THROUGHPUT_EXCEEDED = 17
    INTERNAL_SERVER_ERROR = 18
    RESOURCE_NOT_FOUND = 19
    INVALID_PAGINATION_TOKEN = 20
    AWS_ERROR = 21  # any other AWS error (S3, SQS, credentials, network)
    INTERRUPTED = 130  # Ctrl-C


class LauncherError(Exception):
    def __init__(self, message: str, exit_code: ExitCode = ExitCode.UNEXPECTED, request_id: str | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.request_id = request_id  # AWS's, when a service refused: what AWS support asks for


class BadInput(LauncherError):
    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.BAD_INPUT)


# Each exception in StartFaceDetection's and GetFaceDetection's service model: the exit code, and
# what to do about it.
SERVICE_ERRORS: dict[str, tuple[ExitCode, str]] = {
    "AccessDeniedException": (
        ExitCode.ACCESS_DENIED,
        "attach the stack's launcherPolicyArn to the identity running the launcher (iam:PassRole on the "
        "stack's role and read access to the video are needed), and check the role's trust policy",
    ),
    "InvalidParameterException": (
        ExitCode.INVALID_PARAMETER,
        "check the stack outputs (topicArn, roleArn) and the --token / --job-tag values",
    ),
    "InvalidS3ObjectException": (
        ExitCode.INVALID_S3_OBJECT,
        "check that the object exists, that you may read it, and that the bucket is in the region "
        "Rekognition is called in (AWS_DEFAULT_REGION or the stack's region)",
    ),
    "VideoTooLargeException": (ExitCode.VIDEO_TOO_LARGE, "split the video: Rekognition takes at most 10 GB"),
    "IdempotentParameterMismatchException": (
        ExitCode.IDEMPOTENT_PARAMETER_MISMATCH,
        "this --token was used for a job with other parameters in the last 7 days: pick another --token, "
        "or leave it out to derive one",
    ),
    "LimitExceededException": (
        ExitCode.LIMIT_EXCEEDED,
        f"the account has too many open video jobs ({MAX_OPEN_JOBS} by default): wait for some to finish, or ask AWS "
        "for a higher quota",
    ),
    "ThrottlingException": (ExitCode.THROTTLED, "Rekognition is throttling requests: try again in a while"),
    "ProvisionedThroughputExceededException": (
        ExitCode.PROVISIONED_THROUGHPUT_EXCEEDED,
        "the account's request rate is exceeded: try again in a while, or ask AWS for a higher quota",
    ),
    "InternalServerError": (ExitCode.INTERNAL_SERVER_ERROR, "Rekognition failed internally: try again"),
    "ResourceNotFoundException": (
        ExitCode.RESOURCE_NOT_FOUND,
        "no such job in this account and region (results are kept 7 days): check the job ID and AWS_DEFAULT_REGION",
    ),
    "InvalidPaginationTokenException": (
        ExitCode.INVALID_PAGINATION_TOKEN,
        "a results page token expired (they last 24 hours): run the command again to fetch from the start",
    ),
}


# A stack resource that is not there: on AWS it was deleted; on a local endpoint, the endpoint was most
# likely started empty (--ephemeral, another --data-dir, or a state from before it kept state).
MISSING_RESOURCE_CODES = {
    "NoSuchBucket": "s3",
    "AWS.SimpleQueueService.NonExistentQueue": "sqs",
    "QueueDoesNotExist": "sqs",
    "NonExistentQueue": "sqs",
}
LOCAL_HOSTS = {"localhost", "localhost.localdomain"}


def local_endpoint(service: str) -> str | None:
    """The endpoint URL the SDK uses for ``service`` (AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL),
    if it is on this machine (a loopback address or name)."""
    url = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() in LOCAL_HOSTS
    return url if loopback else None


def _python() -> str:
    """The interpreter running now (a pasted ``python`` may be another one, without this project's packages)."""
    relative = os.path.relpath(sys.executable)
    return relative if not relative.startswith("..") and len(relative) < len(sys.executable) else sys.executable


def _missing_resource_advice(code: str) -> str:
    service = MISSING_RESOURCE_CODES[code]
    what = "bucket" if service == "s3" else "queue"
    url = local_endpoint(service)
    if url:
        return (
            f"the local endpoint at {url} does not hold the stack's {what}: run `{_python()} scripts/local.py deploy` "
            "again (an endpoint started with --ephemeral or another --data-dir starts empty), then launch again"
        )
    return f"the stack's {what} is gone: check the stack outputs, or deploy the stack again (`pulumi up`)"


def _http_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def unreadable(error: OSError, what: str) -> tuple[str, str]:
    """Why a file or folder cannot be read, and what to do: its permissions if they are the cause,
    else the disk (``what``: what to copy elsewhere, "the video", "the videos")."""
    if isinstance(error, PermissionError):
        return str(error.strerror), "check its permissions"
    return str(error.strerror or error), f"check the disk, or copy {what} elsewhere"


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def request_id(error: ClientError) -> str | None:
    """AWS's id of the request, which every AWS reply carries (as a header even when the body is a bare
    status or a web page, which botocore leaves out of ``RequestId``); None from a server that is not AWS."""
    metadata = error.response.get("ResponseMetadata", {})
    headers = metadata.get("HTTPHeaders", {})
    return metadata.get("RequestId") or headers.get("x-amzn-requestid") or headers.get("x-amz-request-id") or None


def from_client_error(error: ClientError, doing: str, job_id: str | None = None) -> LauncherError:
    """One line: what failed (with which job), the service's message, and what to do."""
    code = error_code(error)
    message = error.response.get("Error", {}).get("Message") or str(error)
    exit_code, advice = SERVICE_ERRORS.get(
        code, (ExitCode.AWS_ERROR, "check your AWS credentials, region and endpoint")
    )
    if code in MISSING_RESOURCE_CODES:
        advice = _missing_resource_advice(code)
    if code.isdigit():  # no AWS error in the reply, only an HTTP status: the body may be a whole web page
        message = _http_reason(int(code))
        if not request_id(error):  # AWS sends bare statuses too (an S3 HEAD's 400, 403, 412), always with its id
            advice = (
                f"the endpoint answered HTTP {code} with no AWS error in it: check that AWS_ENDPOINT_URL "
                "(or --endpoint-url) is an AWS endpoint, such as the URL the local one prints when it starts"
            )
    where = f" (job {job_id})" if job_id else ""
    return LauncherError(
        f"{doing}{where} failed: {code or 'error'}: {message}. What to do: {advice}.", exit_code, request_id(error)
    )
