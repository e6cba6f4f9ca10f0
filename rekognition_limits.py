"""Amazon Rekognition Video's documented limits for stored-video face detection, in one place.

Both sides read them and each makes its own decision about a video: the launcher refuses it before
uploading (``launcher/probe.py``), the local emulator ends the job FAILED
(``localaws/vision/video.py``). This module imports nothing, so either may depend on it while
``launcher/`` and ``localaws/`` never import each other (``tests/unit/test_layering.py``).

Sources: the Rekognition Developer Guide (stored videos, quotas) and botocore's service model.
"""

from __future__ import annotations

from typing import Final

# FFmpeg's demuxer names for the containers the service documents (.mp4 and .mov; botocore's doc also
# lists .avi), with the ``Format`` name GetFaceDetection's VideoMetadata reports for each.
CONTAINERS: Final = {"mov,mp4,m4a,3gp,3g2,mj2": "QuickTime / MOV", "avi": "AVI (Audio Video Interleaved)"}
# The one definition of "a video file" by its name: the suffixes of those containers, compared in lower
# case. The launcher, the batch's discovery, the starter function and the component's S3 event filter
# (which matches case-sensitively, so it lists each in both cases) all read it.
VIDEO_SUFFIXES: Final = (".mp4", ".mov", ".avi")


def is_video_name(name: str) -> bool:
    """Whether a file or key name has a video suffix, in any case."""
    return name.lower().endswith(VIDEO_SUFFIXES)


def suffix_variants() -> tuple[str, ...]:
    """Each suffix as written in lower and upper case, for case-sensitive filters such as S3's."""
    return tuple(variant for suffix in VIDEO_SUFFIXES for variant in (suffix, suffix.upper()))


CODEC: Final = "h264"  # FFmpeg's name for H.264, the only codec the service reads
MAX_VIDEO_BYTES: Final = 10 * 1024**3  # 10 GB, else VideoTooLargeException
MAX_DURATION_MS: Final = 6 * 3600 * 1000  # 6 hours
MAX_OPEN_JOBS: Final = 20  # concurrent stored-video jobs per account (default quota), else LimitExceededException
