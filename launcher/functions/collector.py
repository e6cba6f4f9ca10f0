"""The collector function: each completion on the stack's queue becomes a result object in the bucket.

For a SUCCEEDED job it pages GetFaceDetection into ``<resultsPrefix><video key>.faces.json``, the
very document the launcher writes (``results.write_results``, streamed through /tmp so memory does
not grow with the faces); for a FAILED job it writes ``<resultsPrefix><video key>.error.json`` with
the StatusMessage. A redelivered completion overwrites the same object: idempotent. A completion it
cannot fetch now is put back and tried again; a message that is not a completion is left to reach the
dead-letter queue.

With ``redact: true`` (``REDACTOR_FUNCTION`` set), a SUCCEEDED job on a video under the incoming
prefix then gets the redactor function invoked asynchronously (``InvocationType=Event``): the
collector does not wait for minutes of encoding. An invocation Lambda refuses puts the completion
back, to be collected (the same object again) and handed on again.
"""

from __future__ import annotations

import itertools
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from ..jobs.detection import FaceDetection
from ..jobs.errors import LauncherError
from ..jobs.formats import write_results
from ..jobs.notifications import parse_completion
from ..jobs.result_objects import CONTENT_TYPE, ResultKeys, failed_job_document, result_metadata
from ..jobs.s3video import S3Video
from .runtime import FunctionSettings, RetryLater, batch_handler, client, put_json

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)  # one line per video in the function's log (the runtime's root logger says WARNING)


class Collector:
    def __init__(self, settings: FunctionSettings, s3: Any, rekognition: Any, functions: Any = None) -> None:
        self.settings = settings
        self._s3 = s3
        self._jobs = FaceDetection(rekognition)
        self._lambda: Any = functions  # the Lambda client; made on the first video to redact

    def handle(self, record: dict[str, Any]) -> None:
        completion = parse_completion(record["body"])
        if completion is None:
            raise RetryLater("not a Rekognition completion", backoff=False)
        try:
            pages = self._jobs.pages(completion.job_id)
            first = next(pages)
        except LauncherError as error:
            raise RetryLater(str(error)) from None
        s3_object = first["Video"]["S3Object"]
        video = S3Video(s3_object["Bucket"], s3_object["Name"], s3_object.get("Version"))
        keys = ResultKeys.of(self.settings.results_prefix, video.key)
        metadata = result_metadata(completion.job_id, video)
        if first["JobStatus"] != "SUCCEEDED":
            put_json(self._s3, self.settings.bucket, keys.error, failed_job_document(first), metadata)
            log.warning(
                "job %s on %s ended %s: %s",
                completion.job_id,
                video.uri,
                first["JobStatus"],
                first.get("StatusMessage"),
            )
            return
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "faces.json"
            try:
                summary = write_results(itertools.chain([first], pages), path, "json")
            except LauncherError as error:
                raise RetryLater(str(error)) from None
            self._s3.upload_file(
                str(path),
                self.settings.bucket,
                keys.faces,
                ExtraArgs={"ContentType": CONTENT_TYPE, "Metadata": metadata},
            )
        log.info("job %s on %s: %s", completion.job_id, video.uri, summary.describe())
        if self._redacts(video):
            self._redact(completion.job_id, video, keys.faces)

    def _redacts(self, video: S3Video) -> bool:
        """Whether to hand the video to the redactor: one of the stack's uploads (under the incoming
        prefix), never a result (a redacted copy is an .mp4 too: it must not be redacted again)."""
        settings = self.settings
        return bool(
            settings.redactor_function
            and video.key.startswith(settings.incoming_prefix)
            and not video.key.startswith(settings.results_prefix)
        )

    def _redact(self, job_id: str, video: S3Video, faces_key: str) -> None:
        """Hand the video to the redactor function, without waiting for it."""
        event = {"JobId": job_id, "Video": {"S3Object": video.as_s3_object()}, "Results": faces_key}
        if self._lambda is None:
            self._lambda = client("lambda")
        try:
            self._lambda.invoke(
                FunctionName=self.settings.redactor_function, InvocationType="Event", Payload=json.dumps(event)
            )
        except Exception as error:  # botocore's ClientError or a connection error: try the completion again
            raise RetryLater(f"could not hand {video.uri} to the redactor: {error}") from None
        log.info("job %s on %s: redaction requested", job_id, video.uri)


handler = batch_handler(Collector)  # the Lambda entry point: launcher.functions.collector.handler
