"""The redactor function (``redact: true``): a redacted copy of each video the stack processed.

Invoked asynchronously by the collector after it wrote ``<resultsPrefix><key>.faces.json`` for a
SUCCEEDED job (event: ``JobId``, ``Video.S3Object``, ``Results``: the results' key). It reads the
results, then the video version the job ran on through ranged reads (``S3ObjectReader``), writes the
copy to /tmp with the launcher's own redaction (``launcher.redact``: every face of every frame
covered, the audio copied) and, when a face detector is importable, its leak audit (``NO_AUDIT``
says why the layer has none), then uploads
``<resultsPrefix><key>.redacted.mp4`` and ``<resultsPrefix><key>.redaction.json`` (the audit: the
``Redaction`` member the launcher puts in its results), in that order.

Before it starts it checks that the video fits the function's remaining time and /tmp
(``launcher.redact.budget``: frames x size against the measured cost per frame). A video that does
not fit, or an unreadable one, gets ``<resultsPrefix><key>.redacted.error.json`` naming the limit and
what to do instead, and no copy. If the time runs short mid-way anyway, it stops while a tenth of the
function's time is left, writes the same error object and uploads nothing: the copy in S3 is always
whole. (Not ``<key>.error.json``: that one says the job failed, and the launcher waits on it.)

Each object carries the job's ID and the video version in its metadata, as the collector's do; a
later version of the same key overwrites them, and removes what a run for another version left
(``clear``): a copy after an error, an error after a copy. A run for a version that is no longer the
key's current one (its completion came late) writes nothing. What is under a key is the outcome of
the newest version the redactor ran on (a version whose job failed never reaches it).

The package: this module, ``launcher/jobs``, ``launcher/redact`` and the report's thumbnails; PyAV,
NumPy and Pillow come from the function's layer (``make redactor-layer``).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from ..jobs.errors import LauncherError, from_client_error
from ..jobs.formats import read_summary
from ..jobs.result_objects import VERSION_METADATA, result_metadata
from ..jobs.s3video import S3ObjectReader, S3Video, head_object
from ..redact import budget
from ..redact.audit import AuditDetector, default_every, load_detector
from ..redact.options import SUFFIX, RedactOptions
from ..redact.redaction import redact
from ..redact.writer import UnreadableVideo
from .runtime import client, put_json

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

AUDIT_FILE_SUFFIX = ".redaction.json"
ERROR_SUFFIX = ".redacted.error.json"
VIDEO_CONTENT_TYPE = "video/mp4"
# The leak audit runs when a detector is importable (``load_detector("auto")``). The layer built by
# ``make redactor-layer`` carries none: libfacedetection (yuface) publishes no wheel for Python 3.12,
# Lambda's Python 3.11 runtime is deprecated, and OpenCV or RetinaFace's runtime would take the layer
# past Lambda's 250 MB. The copy is then written unaudited, and .redaction.json says so.
NO_AUDIT = (
    "not audited: the function's layer has no face detector (libfacedetection has no wheel for Python 3.12); "
    "run the launcher with --redact where the audit matters"
)


@dataclass(frozen=True)
class RedactionKeys:
    copy: str
    audit: str
    error: str

    @classmethod
    def of(cls, results_prefix: str, video_key: str) -> RedactionKeys:
        base = f"{results_prefix}{video_key}"
        return cls(f"{base}{SUFFIX}", f"{base}{AUDIT_FILE_SUFFIX}", f"{base}{ERROR_SUFFIX}")


def aws_failure(error: Exception, doing: str) -> str:
    """One line for an AWS error met while ``doing`` (the error object's Message, not a traceback:
    retrying the invocation would meet it again, for up to 15 minutes each time)."""
    if isinstance(error, ClientError):
        return str(from_client_error(error, doing))
    return f"{doing}: {error}"


AWS_ERRORS = (ClientError, BotoCoreError, S3UploadFailedError)


class OutOfTime(LauncherError):
    """The function's time ran short mid-way: stop before Lambda ends it."""


class Redactor:
    def __init__(self, bucket: str, results_prefix: str, s3: Any) -> None:
        self.bucket, self.results_prefix = bucket, results_prefix
        self._s3 = s3
        self._detector: AuditDetector | None = None  # loaded once per execution environment
        self._no_detector = ""  # why there is none, once looked for

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        s3_object = event["Video"]["S3Object"]
        video = S3Video(s3_object["Bucket"], s3_object["Name"], s3_object.get("Version"))
        job_id = event.get("JobId")
        keys = RedactionKeys.of(self.results_prefix, video.key)
        metadata = result_metadata(job_id, video)
        remaining = context.get_remaining_time_in_millis() / 1000
        reserve = budget.reserve_seconds(remaining)

        def error(code: str, message: str, limit: dict[str, Any] | None = None) -> dict[str, Any]:
            document: dict[str, Any] = {
                "Redaction": "NOT_WRITTEN",
                "Code": code,
                "Message": message,
                "Video": {"S3Object": video.as_s3_object()},
                **({"JobId": job_id} if job_id else {}),
                **({"Limit": limit} if limit else {}),
            }
            put_json(self._s3, self.bucket, keys.error, document, metadata)
            self.clear(video, (keys.copy, keys.audit), same_version_too=False)  # not this version's copy
            log.warning("no redacted copy of %s: %s", video.uri, message)
            return {"written": None, "error": keys.error}

        if not self._is_current(video):  # its completion came late: the newer version's run writes
            log.info("%s is no longer its key's current version: not redacted", video.uri)
            return {"written": None, "superseded": True}
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            results = folder / "faces.json"
            try:
                self._s3.download_file(self.bucket, event["Results"], str(results))
            except AWS_ERRORS as failure:
                return error(
                    "ResultsUnreadable", aws_failure(failure, f"reading s3://{self.bucket}/{event['Results']}")
                )
            summary = read_summary(results, "json")
            results.unlink()
            try:
                with S3ObjectReader(self._s3, video) as reader:
                    size = budget.video_size(reader)
            except LauncherError as failure:
                return error("UnreadableVideo", str(failure))
            except AWS_ERRORS as failure:
                return error("UnreadableVideo", aws_failure(failure, f"reading {video.uri}"))
            detector = self._audit_detector()
            every = default_every(size.width, size.height) if detector is not None else 0
            cpus = budget.lambda_vcpus(int(context.memory_limit_in_mb))
            fit = budget.fit(size, every, cpus, remaining, shutil.disk_usage(folder).free)
            if not fit.fits:
                return error(
                    "VideoTooLongForLambda",
                    f"{fit.describe()}. Redact it with the launcher instead: scripts/launch.py {video.uri} "
                    "--outputs OUTPUTS --redact",
                    fit.to_api(),
                )
            done = {"written": 0, "audited": 0}

            def on_time(step: str) -> None:
                done[step] += 1
                if context.get_remaining_time_in_millis() / 1000 < reserve:
                    raise OutOfTime(
                        f"the function's time ran short ({reserve:.0f} s left) after {done['written']} of about "
                        f"{size.frames} frames written and {done['audited']} audited ({size.describe()}): "
                        f"nothing was uploaded. Redact it with the launcher instead: scripts/launch.py "
                        f"{video.uri} --outputs OUTPUTS --redact"
                    )

            # Not the key's last part: a key's part may be longer than a file name may be (1024 bytes
            # against 255), and the copy is only uploaded from here under keys.copy.
            out = folder / f"copy{SUFFIX}"
            options = RedactOptions(out=out, audit_every=every, overwrite=True)
            try:
                with S3ObjectReader(self._s3, video) as reader:
                    redaction = redact(
                        reader,
                        summary.appearances,
                        out,
                        options,
                        on_frame=lambda: on_time("written"),
                        detector=detector,
                        on_audited=lambda: on_time("audited"),
                    )
            except OutOfTime as failure:
                return error("OutOfTime", str(failure), fit.to_api())
            except UnreadableVideo as failure:
                return error("UnreadableVideo", str(failure))
            except LauncherError as failure:
                return error("RedactionFailed", str(failure))
            except AWS_ERRORS as failure:
                return error("UnreadableVideo", aws_failure(failure, f"reading {video.uri}"))
            try:
                self._s3.upload_file(
                    str(out),
                    self.bucket,
                    keys.copy,
                    ExtraArgs={"ContentType": VIDEO_CONTENT_TYPE, "Metadata": metadata},
                )
            except AWS_ERRORS as failure:  # upload_file aborts its multipart upload: nothing half-written
                return error("UploadFailed", aws_failure(failure, f"writing s3://{self.bucket}/{keys.copy}"))
            audit = {**redaction.to_api(), "output": f"s3://{self.bucket}/{keys.copy}"}
            if detector is None:
                # the fixed explanation, then what loading the detector itself said
                audit["auditSkipped"] = f"{NO_AUDIT} ({self._no_detector})" if self._no_detector else NO_AUDIT
            document = {"Redaction": audit, "Video": {"S3Object": video.as_s3_object()}, "JobId": job_id}
            put_json(self._s3, self.bucket, keys.audit, document, metadata)
            self.clear(video, (keys.error,), same_version_too=True)  # this copy replaces any failure
        log.info("%s: %s", video.uri, redaction.describe().replace(str(out), keys.copy))
        return {"written": keys.copy, "audit": keys.audit, "leakFrames": [leak.frame for leak in redaction.audit.leaks]}

    def clear(self, video: S3Video, keys: tuple[str, ...], same_version_too: bool) -> None:
        """Deletes those of ``keys`` that a run for another version of ``video`` left, so that what is
        under the key is its current version's outcome:

        - only when this run's version is the key's current one: runs can end out of order (a late
          run of an older version removes nothing);
        - only objects of another version, or of this one too when ``same_version_too`` (a copy
          replaces its own version's failure; a failure never removes its own version's copy);
        - only objects that exist: in the stack's versioned bucket a delete of a missing key would
          leave a delete marker.

        A failure is logged, not raised: what this run wrote stands, and its own object says what
        happened."""
        if not self._is_current(video):
            log.info("%s is not the key's current version: nothing of another version removed", video.uri)
            return
        for key in keys:
            try:
                head = self._s3.head_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                # Without s3:ListBucket (the function has none) S3 answers a missing key with 403.
                if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") not in (403, 404):
                    log.warning("could not look at s3://%s/%s: %s", self.bucket, key, aws_failure(error, "HeadObject"))
                continue
            except AWS_ERRORS as failure:
                log.warning("could not look at s3://%s/%s: %s", self.bucket, key, failure)
                continue
            if head.get("Metadata", {}).get(VERSION_METADATA) == (video.version or "") and not same_version_too:
                continue
            try:
                self._s3.delete_object(Bucket=self.bucket, Key=key)
            except AWS_ERRORS as failure:
                log.warning("left s3://%s/%s of another version: %s", self.bucket, key, failure)

    def _is_current(self, video: S3Video) -> bool:
        """Whether the run's video version is its key's current version (an unpinned run: yes)."""
        if not video.version:
            return True
        try:
            head = head_object(self._s3, S3Video(video.bucket, video.key, None))
        except LauncherError as failure:
            log.warning("could not tell whether %s is the current version: %s", video.uri, failure)
            return False
        return head is not None and head.get("VersionId") == video.version

    def _audit_detector(self) -> AuditDetector | None:
        """The leak audit's detector, if the function's environment has one (looked for once)."""
        if self._detector is None and not self._no_detector:
            try:
                self._detector = load_detector("auto")
            except LauncherError as missing:
                self._no_detector = str(missing)
                log.info("no leak audit: %s", missing)
        return self._detector


_made: list[Redactor] = []


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: launcher.functions.redactor.handler. AWS's errors become the error
    object (botocore has retried what can be retried); anything else is raised, and is not run again:
    the stack sets the function's MaximumRetryAttempts to 0 (components/auto_processing.py)."""
    if not _made:
        _made.append(Redactor(os.environ["BUCKET_NAME"], os.environ["RESULTS_PREFIX"], client("s3")))
    return _made[0].handle(event, context)
