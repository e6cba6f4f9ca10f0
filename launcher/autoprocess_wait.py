"""Waiting for a job's result object, on a stack with autoProcess on.

There the collector function owns the completion queue, so the launcher does not receive from it:
it watches the bucket for ``<resultsPrefix><video key>.faces.json`` (or ``.error.json``) written for
this very job (the job ID is in the object's metadata; an object left by an earlier version of the
same key is not taken for it). HeadObject every half second at first, then less often, up to 5 s.
If the job has ended and no result appears within the grace period, the collector is not doing its
work: the error says where to look, instead of waiting to the deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .jobs.errors import ExitCode, LauncherError, from_client_error
from .jobs.notifications import FINAL_STATUSES, Timeout
from .jobs.result_objects import JOB_ID_METADATA, ResultKeys
from .jobs.s3video import S3Video, head_object

FIRST_POLL_SECONDS = 0.5
MAX_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class ResultObject:
    key: str
    failed: bool  # an .error.json


class ResultWaiter:
    def __init__(
        self,
        s3: Any,
        bucket: str,
        results_prefix: str,
        job_status: Callable[[str], str],
        grace_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = results_prefix
        self._job_status = job_status
        self._grace = grace_seconds
        self._clock = clock
        self._sleep = sleep

    def wait(
        self, job_id: str, video_key: str, deadline: float, on_tick: Callable[[], object] = lambda: None
    ) -> ResultObject:
        keys = ResultKeys.of(self._prefix, video_key)
        started = self._clock()
        ended_at: float | None = None
        interval = FIRST_POLL_SECONDS
        while True:
            for key, failed in ((keys.faces, False), (keys.error, True)):
                head = head_object(self._s3, S3Video(self._bucket, key, None))
                if head is not None and head.get("Metadata", {}).get(JOB_ID_METADATA) == job_id:
                    return ResultObject(key, failed)
            now = self._clock()
            if ended_at is None and now - started >= self._grace and self._job_status(job_id) in FINAL_STATUSES:
                ended_at = now
            if ended_at is not None and now - ended_at >= self._grace:
                raise LauncherError(
                    f"job {job_id} has ended but no result object s3://{self._bucket}/{keys.faces} appeared. What to "
                    "do: check the collector function's logs and the completion dead-letter queue",
                    ExitCode.UNEXPECTED,
                )
            if now >= deadline:
                raise Timeout(job_id, deadline - started)
            on_tick()
            self._sleep(max(0.0, min(interval, deadline - now)))
            interval = min(interval * 2, MAX_POLL_SECONDS)

    def read(self, result: ResultObject) -> dict[str, Any]:
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=result.key)["Body"].read()
        except ClientError as error:
            raise from_client_error(error, f"reading s3://{self._bucket}/{result.key}") from None
        return json.loads(body)
