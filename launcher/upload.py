"""A local video: checked, then uploaded once under a content-addressed key, pinned to the version
uploaded. (An ``s3://`` video is parsed and pinned by ``s3video``.)"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from tqdm import tqdm

from rekognition_limits import MAX_DURATION_MS, MAX_VIDEO_BYTES

from .jobs.errors import (
    MISSING_RESOURCE_CODES,
    BadInput,
    ExitCode,
    LauncherError,
    error_code,
    from_client_error,
    unreadable,
)
from .jobs.s3video import S3Video, head_object, is_s3_uri, parse_s3_uri, pin_s3_video
from .probe import UnsupportedVideo, duration_ms
from .terminal import one_line

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "videos/"
# Multipart above 64 MiB, in 64 MiB parts: 10 GB is 160 parts, well under S3's 10,000.
TRANSFER = TransferConfig(multipart_threshold=64 * 1024**2, multipart_chunksize=64 * 1024**2)
_HASH_CHUNK = 8 * 1024**2
DIGEST_METADATA = "sha256"  # x-amz-meta-sha256: what an upload holds, to know it need not be redone


def check_local_video(path: Path) -> None:
    """Refuse, before anything is sent, a file Rekognition would refuse."""
    if not path.is_file():
        raise BadInput(f"video {path} does not exist (or is not a file)")
    size = path.stat().st_size
    if size > MAX_VIDEO_BYTES:
        raise BadInput(f"video {path} is {size} bytes; Rekognition takes at most {MAX_VIDEO_BYTES} (10 GB): split it")
    try:
        duration = duration_ms(path)
    except UnsupportedVideo as error:
        raise BadInput(f"video {path}: {error}") from None
    except OSError as error:
        reason, fix = unreadable(error, "the video")
        raise BadInput(f"video {path} cannot be read ({reason}): {fix}") from None
    if duration > MAX_DURATION_MS:
        raise BadInput(f"video {path} lasts {duration / 3600000:.1f} hours; the maximum is 6: split it")


def sha256_of(path: Path, progress_bar: bool = True) -> str:
    digest = hashlib.sha256()
    with (
        path.open("rb") as video,
        tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            desc="hashing",
            leave=False,
            disable=None if progress_bar else True,
        ) as progress,
    ):
        while chunk := video.read(_HASH_CHUNK):
            digest.update(chunk)
            progress.update(len(chunk))
    return digest.hexdigest()


def upload(
    s3: S3Client,
    path: Path,
    bucket: str,
    key: str | None = None,
    prefix: str = UPLOAD_PREFIX,
    progress_bars: bool = True,
) -> tuple[S3Video, bool]:
    """Upload unless the same bytes are already there; return the pinned version and whether it
    uploaded. By default the key is the prefix and the content's SHA-256, so a file is never uploaded twice."""
    digest = sha256_of(path, progress_bars)
    key = key or f"{prefix}{digest}{path.suffix.lower()}"
    with one_upload_at_a_time(bucket, key, digest) as heartbeat:
        return _upload(s3, path, bucket, key, digest, progress_bars, heartbeat)


def upload_lock_path(bucket: str, key: str, digest: str) -> Path:
    # Two hex digits: at most 256 lock files in the temporary folder, however many videos are uploaded
    # (two different videos that share one wait for each other's upload, no more).
    name = hashlib.sha256(f"{bucket}/{key}/{digest}".encode()).hexdigest()[:2]
    return Path(tempfile.gettempdir()) / f"rekognition-faces-upload-{name}.lock"


# A launch waiting for another's upload of the same video gives up once that upload has not moved for
# this long: the other may be stopped (Ctrl-Z) or hung, and it waited forever. Progress, not the
# upload's length, is bounded: a 10 GB upload takes longer than any fixed bound, and botocore's own
# stalls (a 60 s read timeout, then a retry with backoff) stay well under it.
UPLOAD_STALL_SECONDS = 300.0
_LOCK_POLL_SECONDS = 0.25
_SHARED = "the same video's, or another video's whose lock file is the same"
_HEARTBEAT_SECONDS = 1.0


@contextmanager
def one_upload_at_a_time(bucket: str, key: str, digest: str) -> Iterator[Callable[[], None]]:
    """Two launches of one new video at once on this machine (two terminals, two batches) each
    uploaded it: two object versions, so two tokens and two jobs. The second now waits for the first
    upload (an ``flock`` on a file in the temporary folder, released by the kernel however the first
    ends), then finds the bytes there. Best effort: a lock file that cannot be opened locks nothing.

    Yields a heartbeat for the holder to call as its upload moves (it touches the lock file); a
    waiter gives up, with one line, when the holder has not moved for ``UPLOAD_STALL_SECONDS`` (read
    when called)."""
    path = upload_lock_path(bucket, key, digest)
    try:
        lock = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        yield lambda: None
        return
    try:
        _wait_for_lock(lock, path, UPLOAD_STALL_SECONDS)
        heartbeat = _Heartbeat(lock)
        heartbeat()
        yield heartbeat
    finally:
        os.close(lock)  # releases the lock


def _wait_for_lock(lock: int, path: Path, stall_seconds: float) -> None:
    """Take the exclusive lock, waiting while its holder's heartbeat (the lock file's modification
    time) moves; a holder still for ``stall_seconds`` is refused in one line naming it and the fix."""
    if _locked(lock):
        return
    # Not "the same video": 256 lock files serve every video (upload_lock_path), so another video's
    # upload, often the same batch's, holds this one's lock about once in 256 uploads at once.
    log.warning(
        "another upload on this machine holds the lock %s (%s): waiting for it, so as not to upload the same "
        "video twice (giving up if it makes no progress for %g s)",
        path,
        _SHARED,
        stall_seconds,
    )
    seen, moved = os.fstat(lock).st_mtime_ns, time.monotonic()
    while True:
        time.sleep(_LOCK_POLL_SECONDS)
        if _locked(lock):
            return
        now, mtime = time.monotonic(), os.fstat(lock).st_mtime_ns
        if mtime != seen:
            seen, moved = mtime, now
        elif now - moved >= stall_seconds:
            raise LauncherError(
                f"another upload on this machine holds the lock {path} ({_SHARED}) but has sent nothing for "
                f"{stall_seconds:g} s (a launch stopped with Ctrl-Z, or hung): resume or end it, then run this "
                "again",
                ExitCode.BAD_INPUT,
            )


def _locked(lock: int) -> bool:
    """The exclusive lock taken now, or False if another process holds it."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class _Heartbeat:
    """Touches the lock file (at most once a second) to tell waiters the upload moves."""

    def __init__(self, lock: int) -> None:
        self._lock = lock
        self._last = -_HEARTBEAT_SECONDS

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._last < _HEARTBEAT_SECONDS:
            return
        self._last = now
        with suppress(OSError):  # another user's lock file: its waiters then bound the wait by time alone
            os.utime(self._lock)


def _upload(
    s3: S3Client,
    path: Path,
    bucket: str,
    key: str,
    digest: str,
    progress_bars: bool,
    heartbeat: Callable[[], None] = lambda: None,
) -> tuple[S3Video, bool]:
    existing = head_object(s3, S3Video(bucket, key, None))
    if existing is not None and existing.get("Metadata", {}).get(DIGEST_METADATA) == digest:
        return S3Video(bucket, key, existing.get("VersionId")), False
    try:
        with tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            desc=f"uploading {one_line(path.name)}",
            disable=None if progress_bars else True,
        ) as progress:

            def sent(count: int) -> None:
                progress.update(count)
                heartbeat()

            s3.upload_file(
                str(path),
                bucket,
                key,
                ExtraArgs={"Metadata": {DIGEST_METADATA: digest}},
                Config=TRANSFER,
                Callback=sent,
            )
    except ClientError as error:
        raise from_client_error(error, f"uploading {path} to s3://{bucket}/{key}") from None
    except S3UploadFailedError as error:  # what upload_file raises when S3 refuses a part or the upload
        cause = error.__context__  # boto3 raises it while handling S3's ClientError
        if isinstance(cause, ClientError) and (
            error_code(cause) in MISSING_RESOURCE_CODES or error_code(cause).isdigit()  # a bare HTTP status
        ):
            raise from_client_error(cause, f"uploading {path} to s3://{bucket}/{key}") from None
        raise LauncherError(
            f"uploading {path} to s3://{bucket}/{key} failed: {error}. What to do: check that the "
            "stack's bucket exists and that you may write to it (the launcher policy)",
            ExitCode.AWS_ERROR,
        ) from None
    head = head_object(s3, S3Video(bucket, key, None))
    if head is None:
        raise LauncherError(f"s3://{bucket}/{key} is missing right after its upload")
    return S3Video(bucket, key, head.get("VersionId")), True


def pinned_video(
    s3: S3Client,
    video: str,
    bucket: str,
    key: str | None = None,
    prefix: str = UPLOAD_PREFIX,
    progress_bars: bool = True,
) -> tuple[S3Video, bool]:
    """The object version to run on, and whether it was uploaded now: an s3:// URI's (the current
    version unless it names one), or a local file's upload to ``bucket`` under ``prefix`` (checked
    beforehand with ``check_local_video``)."""
    if is_s3_uri(video):
        return pin_s3_video(s3, parse_s3_uri(video)), False
    return upload(s3, Path(video), bucket, key, prefix, progress_bars)
