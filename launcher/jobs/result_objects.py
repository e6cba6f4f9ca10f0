"""Where an auto-processing stack keeps a video's result, and what an error result holds.

The collector function writes ``<resultsPrefix><video key>.faces.json`` (the document the launcher
writes locally) or ``<resultsPrefix><video key>.error.json``; the launcher of such a stack waits for
them. Each carries the job's ID and the video version in its metadata, so a reader can tell a result
of this job from one left by an earlier version of the same key. Standard library only: the
serverless functions use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .formats import HEADER_MEMBERS
from .s3video import S3Video

FACES_SUFFIX = ".faces.json"
ERROR_SUFFIX = ".error.json"
JOB_ID_METADATA = "job-id"  # x-amz-meta-job-id
VERSION_METADATA = "video-version"  # x-amz-meta-video-version
CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class ResultKeys:
    faces: str
    error: str

    @classmethod
    def of(cls, results_prefix: str, video_key: str) -> ResultKeys:
        return cls(f"{results_prefix}{video_key}{FACES_SUFFIX}", f"{results_prefix}{video_key}{ERROR_SUFFIX}")


def result_metadata(job_id: str | None, video: S3Video) -> dict[str, str]:
    metadata = {VERSION_METADATA: video.version or ""}
    if job_id:
        metadata[JOB_ID_METADATA] = job_id
    return metadata


def failed_job_document(first_page: dict[str, Any]) -> dict[str, Any]:
    """A FAILED job's result: GetFaceDetection's header members (JobStatus, StatusMessage, ...)."""
    return {member: first_page[member] for member in HEADER_MEMBERS if member in first_page}


def not_started_document(video: S3Video, code: str, message: str) -> dict[str, Any]:
    """A video the service refused to start on (unreadable, too large...): no job, the refusal."""
    return {
        "JobStatus": "NOT_STARTED",
        "StatusMessage": f"{code}: {message}",
        "Video": {"S3Object": video.as_s3_object()},
    }
