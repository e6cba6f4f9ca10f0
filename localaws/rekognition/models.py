"""The Rekognition Video face-detection backend: jobs and their rules, no HTTP.

StartFaceDetection checks what the service checks (the request against botocore's model, the video
object in S3, the notification channel, idempotency, the open-job limit), stores the job in SQLite
and hands it to a worker pool; the API never waits on video work. A worker downloads the video,
samples frames, detects faces, stores each FaceDetail and, when the job ends, publishes the
documented completion message to the job's SNS topic.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from rekognition_limits import MAX_DURATION_MS, MAX_OPEN_JOBS, MAX_VIDEO_BYTES

from ..clients import ClientFactory
from ..vision.attributes import AgeGenderEstimator, AttributeEstimator
from ..vision.detector import (
    DEFAULT_DETECTOR,
    DETECTION_SHORT_SIDE,
    FaceDetector,
    load_detector,
    minimum_face_px,
)
from ..vision.emotions import EmotionModelUnavailable, shared_classifier
from ..vision.face import DetectedFace
from ..vision.face_mesh import MeshModelUnavailable
from ..vision.frames import DecodedFrame, SampledFrame, sample_frames
from ..vision.landmark_models import DEFAULT_LANDMARKS, landmark_model
from ..vision.overlap import without_straddling
from ..vision.video import UnsupportedVideo, probe
from .channel import check_notification_channel
from .exceptions import (
    IdempotentParameterMismatchException,
    InvalidPaginationTokenException,
    InvalidS3ObjectException,
    LimitExceededException,
    ResourceNotFoundException,
    VideoTooLargeException,
)
from .faces import face_detail
from .faults import FaultInjector
from .store import FAILED, IN_PROGRESS, SUCCEEDED, Job, JobStore, now_ms
from .validation import validate_request

log = logging.getLogger(__name__)

API_NAME = "StartFaceDetection"
TOKEN_LIFETIME_MS = 7 * 24 * 3600 * 1000  # the service remembers a ClientRequestToken 7 days
MAX_RESULTS = 1000
# One sample every 500 ms, the service's own cadence: AWS's published GetFaceDetection output (the AWS
# CLI's example) has faces at 467 and 967 ms in a 29.97 fps video, the frames on screen at 500 and
# 1000 ms, and its text-detection example the same 967 ms. ``serve --sample-interval-ms`` changes it
# (docs/local-endpoint.md).
DEFAULT_SAMPLE_INTERVAL_MS = 500
JOB_STORE = "rekognition.sqlite3"  # under the data folder: the jobs and their results
S3_OBJECT_ERROR = "Unable to get object metadata from S3. Check object key, region and/or access permissions."


@dataclass(frozen=True)
class EmulatorSettings:
    data_dir: Path
    max_open_jobs: int = MAX_OPEN_JOBS
    max_video_bytes: int = MAX_VIDEO_BYTES
    sample_interval_ms: int = DEFAULT_SAMPLE_INTERVAL_MS
    workers: int = 1
    detector: str = DEFAULT_DETECTOR
    landmarks: str = DEFAULT_LANDMARKS  # landmark_models.LANDMARK_MODELS: what Pose and the expressions come from

    def __post_init__(self) -> None:
        landmark_model(self.landmarks)  # ValueError naming the choices: every face would need the model


def reported_faces(detector: FaceDetector, sample: SampledFrame) -> list[DetectedFace]:
    """The faces the service would report in one sampled frame, in full-resolution pixels."""
    return service_rules(detector, sample, detector.detect(sample.detection_rgb))


def detected_in_order(
    detector: FaceDetector, frames: Iterable[DecodedFrame]
) -> Generator[tuple[SampledFrame, list[DetectedFace]], None, None]:
    """Each frame, in RGB, with its reported faces, in the frames' order. A detector that takes
    several frames at once (``frames_in_parallel``) gets them from as many threads, which also make
    each frame's RGB and downscaled copy; one more frame waits queued, so no thread idles while the
    next is fetched. Closing this stops the threads.

    Before any frame is detected in parallel, the detector is warmed up on this thread alone (its
    ``warm_up``, or else the first frame is detected here): a native library's first call from two
    threads at once can deadlock the process (``RetinaFaceDetector.warm_up``)."""
    at_once = max(1, int(getattr(detector, "frames_in_parallel", 1)))

    def detect(frame: DecodedFrame) -> tuple[SampledFrame, list[DetectedFace]]:
        sample = frame.sampled(DETECTION_SHORT_SIDE)
        return sample, reported_faces(detector, sample)

    if at_once == 1:
        yield from map(detect, frames)
        return
    frames = iter(frames)
    warm_up = getattr(detector, "warm_up", None)
    if warm_up is not None:
        warm_up()
    else:
        first = next(frames, None)
        if first is None:
            return
        yield detect(first)
    pool = ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="detect")
    pending: deque[Future[tuple[SampledFrame, list[DetectedFace]]]] = deque()
    try:
        for frame in frames:
            pending.append(pool.submit(detect, frame))
            if len(pending) > at_once:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(cancel_futures=True)


def service_rules(detector: FaceDetector, sample: SampledFrame, found: list[DetectedFace]) -> list[DetectedFace]:
    """Of the faces a detector found on the downscaled copy, scaled back to full resolution: those
    of at least the documented minimum size that, for a detector with a second check (``confirm``),
    pass it, less any box that straddles two of them (``vision/overlap.py``)."""
    height, width = sample.rgb.shape[:2]
    minimum = minimum_face_px(width, height)
    confirm = getattr(detector, "confirm", None)
    faces = []
    for candidate in found:
        face = candidate.scaled(sample.detection_scale)
        if face.at_least(minimum) and (confirm is None or confirm(sample.rgb, face)):
            faces.append(face)
    return without_straddling(faces)


def bucket_region(location_constraint: str | None) -> str:
    """The region of a bucket, from GetBucketLocation's answer (None for us-east-1, "EU" for the
    oldest eu-west-1 buckets)."""
    if not location_constraint:
        return "us-east-1"
    return "eu-west-1" if location_constraint == "EU" else location_constraint


def _request_hash(request: dict[str, Any]) -> str:
    """What makes two starts 'the same parameters' for an idempotency token."""
    significant = {k: v for k, v in request.items() if k != "ClientRequestToken"}
    significant.setdefault("FaceAttributes", "DEFAULT")
    return hashlib.sha256(json.dumps(significant, sort_keys=True).encode()).hexdigest()


def encode_next_token(job_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([job_id, offset]).encode()).decode()


def decode_next_token(token: str, job: Job) -> int:
    """The offset a NextToken stands for, if it was issued for this job's results."""
    try:
        job_id, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidPaginationTokenException("Invalid Token") from None
    if job_id != job.job_id or not isinstance(offset, int) or not 0 < offset < job.face_count:
        raise InvalidPaginationTokenException("Invalid Token")
    return offset


class RekognitionBackend:
    def __init__(
        self,
        settings: EmulatorSettings,
        client: ClientFactory,
        detector: FaceDetector | None = None,
    ) -> None:
        self.settings = settings
        self._client = client
        self._detector = detector
        self._estimator: AttributeEstimator | None = None  # loaded by the first ALL job
        self._models_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()
        self.faults = FaultInjector()
        self._scratch = settings.data_dir / "scratch"
        self._scratch.mkdir(parents=True, exist_ok=True)
        self.store = JobStore(settings.data_dir / JOB_STORE)
        self._pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="face-job")
        self._checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="start-check")  # reads other services

    # -- lifecycle ---------------------------------------------------------------------------

    def resume_interrupted(self) -> list[str]:
        """Run again the jobs a previous process left IN_PROGRESS (their partial results dropped)."""
        resumed = []
        for job in self.store.open_jobs():
            self.store.restart(job.job_id)
            self._pool.submit(self._run, job.job_id)
            resumed.append(job.job_id)
        return resumed

    def shutdown(self) -> None:
        """Stop at once: running jobs stay IN_PROGRESS and resume at the next start."""
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._checks.shutdown(wait=True)
        self.store.close()

    def warm_up(self) -> None:
        """Load the face detector and warm it up (``FaceDetector.warm_up``), so that the first job
        neither waits for it nor races; ``serve`` runs this in the background as it starts. A
        detector that cannot load is logged here and fails the jobs with its message."""
        started = time.monotonic()
        try:
            detector = self._face_detector()
            self._warm_models(detector)
        except MeshModelUnavailable as error:  # the installation's fault: one line, the jobs fail with it
            log.error("%s", error)
            return
        except Exception:
            log.exception("the face detector %r could not be loaded", self.settings.detector)
            return
        log.info("face detector ready in %.1f s", time.monotonic() - started)

    def _warm_models(self, detector: FaceDetector) -> None:
        """The detector's warm-up, then the landmark model's (every face's Pose needs it), on this
        thread: OpenVINO's first inference must run alone (``RetinaFaceDetector.warm_up``), so the
        face mesh's first one (``--landmarks mesh``) comes after the detector's, before any frame is
        detected in parallel. Later calls return at once; ``MeshModelUnavailable`` if the mesh cannot
        be loaded."""
        warm_up = getattr(detector, "warm_up", None)
        if warm_up is not None:
            warm_up()
        landmark_model(self.settings.landmarks).load()

    def _face_detector(self) -> FaceDetector:
        with self._models_lock:
            if self._detector is None:
                self._detector = load_detector(self.settings.detector)
            return self._detector

    def _attribute_estimator(self) -> AttributeEstimator:
        with self._models_lock:
            if self._estimator is None:
                self._estimator = AgeGenderEstimator()
            return self._estimator

    # -- StartFaceDetection --------------------------------------------------------------------

    def start_face_detection(self, request: dict[str, Any], region: str, account_id: str) -> dict[str, Any]:
        """The checks that read other services (the object, the channel) run outside the start lock and
        side by side, so that starts overlap; the token and the open-job limit are decided under the
        lock, just before the job is stored, so that concurrent starts never exceed the limit or make
        two jobs for one token."""
        validate_request("StartFaceDetection", request)
        token = request.get("ClientRequestToken")
        request_hash = _request_hash(request)
        earlier = self._earlier_job(token, request_hash)
        if earlier is not None:
            return {"JobId": earlier}  # and no second notification
        self._check_limit(account_id)  # a full account is refused before any other check, as before
        video_check = self._checks.submit(self._check_video, request["Video"]["S3Object"], region)
        channel = request.get("NotificationChannel")
        try:
            if channel:
                check_notification_channel(channel["SNSTopicArn"], channel["RoleArn"], account_id, region)
        finally:
            video_check.result()  # the object's error comes first, as when the checks ran in turn
        with self._start_lock:
            earlier = self._earlier_job(token, request_hash)  # a concurrent start with the same token
            if earlier is not None:
                return {"JobId": earlier}
            self._check_limit(account_id)
            job = Job(
                job_id=secrets.token_hex(32),
                client_token=token,
                request_hash=request_hash,
                request=request,
                region=region,
                account_id=account_id,
                status=IN_PROGRESS,
                status_message=None,
                video_metadata=None,
                face_count=0,
                created_ms=now_ms(),
                finished_ms=None,
            )
            self.store.create(job)
        self._pool.submit(self._run, job.job_id)
        return {"JobId": job.job_id}

    def _earlier_job(self, token: str | None, request_hash: str) -> str | None:
        """The JobId a token already started (within its lifetime), if the parameters are the same."""
        if not token:
            return None
        earlier = self.store.by_token(token, since_ms=now_ms() - TOKEN_LIFETIME_MS)
        if earlier is None:
            return None
        if earlier.request_hash != request_hash:
            raise IdempotentParameterMismatchException(
                f"ClientRequestToken {token} was used for a job with different parameters."
            )
        return earlier.job_id

    def _check_limit(self, account_id: str) -> None:
        open_jobs = self.store.count_open()
        if open_jobs >= self.settings.max_open_jobs:
            raise LimitExceededException(
                f"{open_jobs} open Jobs for User {account_id}. Maximum limit: {self.settings.max_open_jobs}"
            )

    def _check_video(self, s3_object: dict[str, Any], region: str) -> None:
        params: dict[str, Any] = {"Bucket": s3_object.get("Bucket"), "Key": s3_object.get("Name")}
        if not params["Bucket"] or not params["Key"]:
            raise InvalidS3ObjectException(S3_OBJECT_ERROR)
        if s3_object.get("Version"):
            params["VersionId"] = s3_object["Version"]
        s3 = self._client("s3", region_name=region)
        try:
            location = s3.get_bucket_location(Bucket=params["Bucket"])["LocationConstraint"]
            head = s3.head_object(**params)
        except ClientError:
            raise InvalidS3ObjectException(S3_OBJECT_ERROR) from None
        if bucket_region(location) != region:  # Rekognition reads only its own region's buckets
            raise InvalidS3ObjectException(S3_OBJECT_ERROR)
        if head["ContentLength"] > self.settings.max_video_bytes:
            raise VideoTooLargeException(
                f"The video is {head['ContentLength']} bytes; the maximum is {self.settings.max_video_bytes} bytes."
            )

    # -- the worker ------------------------------------------------------------------------------

    def _run(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is None or job.status != IN_PROGRESS:
            return
        with tempfile.NamedTemporaryFile(dir=self._scratch, suffix=".video") as video_file:
            try:
                self._detect(job, Path(video_file.name))
                status, message = SUCCEEDED, None
            except UnsupportedVideo as error:
                status, message = FAILED, f"Unsupported video: {error}"
            except (EmotionModelUnavailable, MeshModelUnavailable) as error:  # the installation's fault, in one line
                status, message = FAILED, str(error)
            except ClientError as error:
                status, message = FAILED, f"Unable to read the video from S3: {error}"
            except Exception as error:  # a job must end FAILED, never hang IN_PROGRESS
                log.exception("face detection job %s failed", job_id)
                status, message = FAILED, f"Internal error: {error}"
        if self._stopping.is_set():
            return  # cut off by a shutdown, not by the video: it runs again at the next start
        self.store.finish(job_id, status, message)
        self._notify(job_id)

    def _detect(self, job: Job, path: Path) -> None:
        s3_object = job.request["Video"]["S3Object"]
        version = {"VersionId": s3_object["Version"]} if s3_object.get("Version") else None
        s3 = self._client("s3", region_name=job.region)
        s3.download_file(s3_object["Bucket"], s3_object["Name"], str(path), ExtraArgs=version)
        metadata = probe(path)
        self.store.set_metadata(job.job_id, metadata.to_api())
        if metadata.duration_millis > MAX_DURATION_MS:
            raise UnsupportedVideo(f"the video lasts {metadata.duration_millis} ms; the maximum is 6 hours")
        detector = self._face_detector()
        self._warm_models(detector)
        attributes = job.request.get("FaceAttributes", "DEFAULT")
        estimator = self._attribute_estimator() if attributes == "ALL" else None
        if attributes == "ALL":
            shared_classifier().load()  # before any frame: no half-filled job when the model is missing
        frames = sample_frames(path, self.settings.sample_interval_ms)
        found = detected_in_order(detector, frames)
        with contextlib.closing(frames), contextlib.closing(found):
            for sample, faces in found:
                if self._stopping.is_set():
                    return
                details = [
                    {
                        "Timestamp": sample.timestamp_ms,
                        "Face": face_detail(sample.rgb, face, attributes, estimator, self.settings.landmarks),
                    }
                    for face in faces
                ]
                self.store.add_faces(job.job_id, details)

    def _notify(self, job_id: str) -> None:
        job = self.store.get(job_id)
        channel = job.request.get("NotificationChannel") if job else None
        if not job or not channel:
            return
        message: dict[str, Any] = {"JobId": job.job_id, "Status": job.status, "API": API_NAME}
        if job.request.get("JobTag"):
            message["JobTag"] = job.request["JobTag"]
        s3_object = job.request["Video"]["S3Object"]
        message["Timestamp"] = job.finished_ms
        message["Video"] = {"S3ObjectName": s3_object["Name"], "S3Bucket": s3_object["Bucket"]}
        topic_arn = channel["SNSTopicArn"]
        try:
            self._client("sns", region_name=topic_arn.split(":")[3]).publish(
                TopicArn=topic_arn, Message=json.dumps(message)
            )
        except ClientError:
            log.exception("job %s: could not publish its completion to %s", job_id, topic_arn)

    # -- GetFaceDetection ------------------------------------------------------------------------

    def get_face_detection(self, request: dict[str, Any]) -> dict[str, Any]:
        validate_request("GetFaceDetection", request)
        job = self.store.get(request["JobId"])
        if job is None:
            raise ResourceNotFoundException(f"The job {request['JobId']} was not found.")
        response: dict[str, Any] = {"JobStatus": job.status, "JobId": job.job_id, "Video": job.request["Video"]}
        if job.request.get("JobTag"):
            response["JobTag"] = job.request["JobTag"]
        if job.status == IN_PROGRESS:
            return response
        if job.video_metadata:
            response["VideoMetadata"] = job.video_metadata
        if job.status == FAILED:
            response["StatusMessage"] = job.status_message
            response["Faces"] = []
            return response
        limit = min(request.get("MaxResults", MAX_RESULTS), MAX_RESULTS)
        offset = decode_next_token(request["NextToken"], job) if request.get("NextToken") else 0
        response["Faces"] = list(self.store.faces(job.job_id, offset, limit))
        if offset + limit < job.face_count:
            response["NextToken"] = encode_next_token(job.job_id, offset + limit)
        return response
