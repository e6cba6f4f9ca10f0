"""The collector function: each completion on the stack's queue becomes a result object in the bucket.

For a SUCCEEDED job it pages GetFaceDetection into ``<resultsPrefix><video key>.faces.json``, the
very document the launcher writes (``results.write_results``, streamed through /tmp so memory does
not grow with the faces); for a FAILED job it writes ``<resultsPrefix><video key>.error.json`` with
the StatusMessage. A redelivered completion overwrites the same object: idempotent. A completion it
cannot fetch now is put back and tried again; a message that is not a completion is left to reach the
dead-letter queue.
"""

from __future__ import annotations

import itertools
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
from .runtime import FunctionSettings, RetryLater, batch_handler, put_json

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)  # one line per video in the function's log (the runtime's root logger says WARNING)


class Collector:
    def __init__(self, settings: FunctionSettings, s3: Any, rekognition: Any) -> None:
        self.settings = settings
        self._s3 = s3
        self._jobs = FaceDetection(rekognition)

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


handler = batch_handler(Collector)  # the Lambda entry point: launcher.functions.collector.handler
