"""The starter function: each new video version under the incoming prefix gets one face-detection job.

Fed by the intake queue, which S3 fills with ObjectCreated events. For each object version it starts
face detection with the stack's topic and role and the token the launcher derives
(``StartRequest.derived_token``), so a version never gets two jobs: not on a redelivered event, not
when a user also runs the launcher on it. The collector function picks up the completion.

- Too many open jobs, throttling, an internal error, access denied: the record is put back (partial
  batch failure) and tried again after a backoff; after the queue's maxReceiveCount tries it goes to
  the intake dead-letter queue, never lost.
- A video the service will never take (unreadable object, too large, refused parameters): an error
  result is written instead of retrying forever.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from rekognition_limits import is_video_name

from ..jobs.detection import FaceDetection, StartRequest
from ..jobs.errors import BadInput, ExitCode, LauncherError
from ..jobs.result_objects import ResultKeys, not_started_document, result_metadata
from ..jobs.s3video import S3Video, pin_s3_video
from .runtime import FunctionSettings, RetryLater, batch_handler, put_json, video_of_record

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)  # one line per video in the function's log (the runtime's root logger says WARNING)

# The service's answer will not change on a retry: write an error result instead.
PERMANENT = {
    ExitCode.INVALID_S3_OBJECT,
    ExitCode.VIDEO_TOO_LARGE,
    ExitCode.INVALID_PARAMETER,
    ExitCode.IDEMPOTENT_PARAMETER_MISMATCH,
}


class Starter:
    def __init__(self, settings: FunctionSettings, s3: Any, rekognition: Any) -> None:
        self.settings = settings
        self._s3 = s3
        self._jobs = FaceDetection(rekognition)

    def handle(self, record: dict[str, Any]) -> None:
        body = json.loads(record["body"])
        if body.get("Event") == "s3:TestEvent":  # sent once when the notification is configured
            return
        for s3_record in body["Records"]:
            if s3_record.get("eventName", "").startswith("ObjectCreated:"):
                self.start(video_of_record(s3_record))

    def wanted(self, video: S3Video) -> bool:
        return video.key.startswith(self.settings.incoming_prefix) and is_video_name(video.key)

    def start(self, video: S3Video) -> None:
        if not self.wanted(video):
            log.info("ignoring %s: not a video under %s", video.uri, self.settings.incoming_prefix)
            return
        try:
            video = pin_s3_video(self._s3, video)
        except BadInput as error:  # the version was deleted before its turn: nothing to run on
            self._not_started(video, "NoSuchVersion", str(error))
            return
        except LauncherError as error:
            raise RetryLater(str(error)) from None
        request = StartRequest(video, self.settings.topic_arn, self.settings.role_arn)
        try:
            job_id = self._jobs.start(request, deadline=time.monotonic())  # no waiting here: the queue waits
        except LauncherError as error:
            if error.exit_code in PERMANENT:
                self._not_started(video, error.exit_code.name, str(error))
                return
            raise RetryLater(str(error)) from None
        log.info("job %s on %s", job_id, video.uri)

    def _not_started(self, video: S3Video, code: str, message: str) -> None:
        log.warning("no job on %s: %s", video.uri, message)
        key = ResultKeys.of(self.settings.results_prefix, video.key).error
        put_json(
            self._s3,
            self.settings.bucket,
            key,
            not_started_document(video, code, message),
            result_metadata(None, video),
        )


handler = batch_handler(Starter)  # the Lambda entry point: launcher.functions.starter.handler
