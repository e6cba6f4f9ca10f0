"""The launcher's own check of a local video, before anything is sent: would Rekognition Video take it?

The limits come from ``rekognition_limits``; the decision is the launcher's (refuse before
uploading). The emulator probes videos on its own (``localaws/vision/video.py``).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from rekognition_limits import CODEC, CONTAINERS


class UnsupportedVideo(Exception):
    """The file is not a video Rekognition can read; the message says why."""


def duration_ms(path: Path) -> int:
    """The video's duration in ms, or UnsupportedVideo if Rekognition would refuse its container,
    stream or codec."""
    # Opened here and handed to FFmpeg as a file object: FFmpeg never parses the name, so `clip:1.mp4` is
    # not taken for a protocol, and a name that is not UTF-8 opens as the bytes the file system gave.
    with path.open("rb") as file:
        try:
            container = av.open(file, mode="r")
        except (av.error.FFmpegError, UnicodeDecodeError) as error:
            raise UnsupportedVideo(f"not a readable video container: {error}") from None
        with container:
            return _duration_ms(container)


def _duration_ms(container: av.container.InputContainer) -> int:
    """The duration of an open container, or why Rekognition would refuse it."""
    if container.format.name not in CONTAINERS:
        raise UnsupportedVideo(
            f"unsupported container {container.format.long_name!r}: use MP4 or MOV (or AVI) with H.264 video"
        )
    if not container.streams.video:
        raise UnsupportedVideo("the file has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context.name != CODEC:
        raise UnsupportedVideo(f"unsupported codec {stream.codec_context.name!r}: Rekognition Video needs H.264")
    if stream.width <= 0 or stream.height <= 0:
        raise UnsupportedVideo("the video stream has no frame size: the file is corrupt")
    if stream.duration is not None and stream.time_base is not None:
        return int(stream.duration * stream.time_base * 1000)
    if container.duration is not None:
        return int(container.duration / 1000)  # container.duration is in microseconds
    rate = stream.average_rate or stream.guessed_rate or Fraction(0)
    return int(stream.frames * 1000 / rate) if rate else 0
