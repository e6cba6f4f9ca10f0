"""Rekognition Video face detection, as the launcher uses it: one small wrapper whose methods mirror
the operations, catching ClientError once at this boundary and raising what the caller can act on.

Throttling and ProvisionedThroughputExceeded are retried by botocore's own retry modes (see
``launcher.aws``). LimitExceeded (too many open jobs in the account), which botocore retries only
briefly, is retried here too, telling the user, with backoff until the launch's deadline: a slot
frees when any job ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.exceptions import ClientError, ConnectionClosedError

from .errors import BadInput, ExitCode, LauncherError, from_client_error
from .s3video import S3Video

if TYPE_CHECKING:
    from mypy_boto3_rekognition import RekognitionClient
    from mypy_boto3_rekognition.type_defs import GetFaceDetectionResponseTypeDef

log = logging.getLogger(__name__)

MAX_RESULTS = 1000  # GetFaceDetection's maximum page
IN_PROGRESS = "IN_PROGRESS"
DEFAULT_RETRY_WAIT_SECONDS = 5.0  # the first wait after LimitExceededException, then doubled
MAX_RETRY_WAIT_SECONDS = 60.0  # the doubling's ceiling, and the most --retry-wait may ask for
# What a start may meet when the account or the service is busy: wait and try again, never give up.
RETRY_LATER = (ExitCode.LIMIT_EXCEEDED, ExitCode.THROTTLED, ExitCode.PROVISIONED_THROUGHPUT_EXCEEDED)


@cache
def _input_member(operation: str, member: str) -> Any:
    model = botocore.session.get_session().get_service_model("rekognition")
    input_shape = model.operation_model(operation).input_shape
    assert input_shape is not None, f"{operation} takes no input"
    return input_shape.members[member]


def check_parameter(operation: str, member: str, value: str, option: str) -> None:
    """Refuse a value the service would refuse, by botocore's model of it, before anything is sent."""
    shape = _input_member(operation, member)
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max")
    pattern = shape.metadata.get("pattern")
    if len(value) < low or (high is not None and len(value) > high):
        raise BadInput(f"{option} {value!r} must be {low} to {high} characters long")
    if pattern and not re.fullmatch(pattern, value):
        raise BadInput(f"{option} {value!r} may contain only the characters {pattern}")


@dataclass(frozen=True)
class StartRequest:
    video: S3Video
    topic_arn: str
    role_arn: str
    attributes: str = "DEFAULT"
    job_tag: str | None = None
    token: str | None = None

    def derived_token(self) -> str:
        """Same video version and parameters, same token: running a command twice starts one job.
        Every parameter goes in, since the service refuses a known token with other parameters."""
        significant = [
            self.video.bucket,
            self.video.key,
            self.video.version,
            self.attributes,
            self.job_tag,
            self.topic_arn,
            self.role_arn,
        ]
        return hashlib.sha256(json.dumps(significant).encode()).hexdigest()  # 64 of [0-9a-f]

    def as_api(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "Video": {"S3Object": self.video.as_s3_object()},
            "NotificationChannel": {"SNSTopicArn": self.topic_arn, "RoleArn": self.role_arn},
            "FaceAttributes": self.attributes,
            "ClientRequestToken": self.token or self.derived_token(),
        }
        if self.job_tag:
            request["JobTag"] = self.job_tag
        return request


class FaceDetection:
    def __init__(self, client: RekognitionClient, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._sleep = sleep

    def start_once(self, request: StartRequest) -> str:
        """One StartFaceDetection call: the JobId, or a LauncherError whose exit code says whether it
        is worth trying again later (``RETRY_LATER``)."""
        try:
            return self._client.start_face_detection(**request.as_api())["JobId"]
        except ClientError as error:
            raise from_client_error(error, f"starting face detection on {request.video.uri}") from None

    def start(
        self,
        request: StartRequest,
        deadline: float,
        first_wait: float = DEFAULT_RETRY_WAIT_SECONDS,
        max_wait: float = MAX_RETRY_WAIT_SECONDS,
    ) -> str:
        """StartFaceDetection; on LimitExceeded, wait and try again (doubling the wait) until ``deadline``
        (a time.monotonic() value)."""
        wait = first_wait
        while True:
            try:
                return self.start_once(request)
            except LauncherError as error:
                remaining = deadline - time.monotonic()
                if error.exit_code != ExitCode.LIMIT_EXCEEDED or remaining <= 0:
                    raise
                log.warning(
                    "Rekognition has too many open jobs in this account; trying again in %.0f s",
                    min(wait, remaining),
                )
                self._sleep(min(wait, remaining))
                wait = min(wait * 2, max_wait)

    def status(self, job_id: str) -> GetFaceDetectionResponseTypeDef:
        """The job's status, from a one-face page. An answer without a status is what a connection cut
        mid-answer can leave (botocore reads an empty body as {}): reported as the cut it is."""
        try:
            response = self._client.get_face_detection(JobId=job_id, MaxResults=1)
        except ClientError as error:
            raise from_client_error(error, "reading the job's status", job_id) from None
        if "JobStatus" not in response:
            raise ConnectionClosedError(endpoint_url=self._client.meta.endpoint_url)
        return response

    def pages(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Every page of results (there is no botocore paginator for GetFaceDetection)."""
        params: dict[str, Any] = {"JobId": job_id, "MaxResults": MAX_RESULTS}
        while True:
            try:
                # A plain JSON document from here on: the result writers copy its members through.
                page: dict[str, Any] = {**self._client.get_face_detection(**params)}
            except ClientError as error:
                raise from_client_error(error, "fetching results", job_id) from None
            if page["JobStatus"] == IN_PROGRESS:
                raise LauncherError(
                    f"job {job_id} is still IN_PROGRESS: its results are not ready", ExitCode.UNEXPECTED
                )
            yield page
            if not page.get("NextToken"):
                return
            params["NextToken"] = page["NextToken"]
