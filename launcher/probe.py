"""The launcher's own check of a video, before anything is sent or started: would Rekognition Video
take it, and what is it (container, codec, size, duration)?

The limits come from ``rekognition_limits``; the decision is the launcher's (refuse before
uploading, or list the refusal in ``--plan``). The emulator probes videos on its own
(``localaws/vision/video.py``). A source is a local path or a seekable file object, such as
``launcher.jobs.s3video.S3ObjectReader`` over an S3 object (only the ranges PyAV asks for are read).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av

from rekognition_limits import CODEC, CONTAINERS

Source = Path | BinaryIO | io.RawIOBase
USE_INSTEAD = "use a whole MP4 or MOV (or AVI) file with H.264 video"


class UnsupportedVideo(Exception):
    """The file is not a video Rekognition can read; the message says why."""


@dataclass(frozen=True)
class VideoFacts:
    """What the probe read of a video the service can take."""

    duration_ms: int
    container: str  # FFmpeg's long name, e.g. "QuickTime / MOV"
    codec: str  # FFmpeg's codec name: "h264"
    width: int
    height: int


def describe(source: Source) -> VideoFacts:
    """The video's facts, or UnsupportedVideo if Rekognition would refuse its container, stream or codec.
    A path is read through a file object: FFmpeg would take ``clip:1.mp4`` for a protocol name."""
    if isinstance(source, Path):
        with source.open("rb") as file:
            if os.fstat(file.fileno()).st_size == 0:  # PyAV would fail seeking in it, with EINVAL
                raise UnsupportedVideo(f"the file is empty (0 bytes): {USE_INSTEAD}")
            return describe(file)
    try:
        container = av.open(source, mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, av.error.FFmpegError) and error.strerror else error
        raise UnsupportedVideo(f"not a readable video container ({reason}): {USE_INSTEAD}") from None
    with container:
        if container.format.name not in CONTAINERS:
            raise UnsupportedVideo(f"unsupported container {container.format.long_name!r}: {USE_INSTEAD}")
        if not container.streams.video:
            raise UnsupportedVideo("the file has no video stream")
        stream = container.streams.video[0]
        if stream.codec_context.name != CODEC:
            raise UnsupportedVideo(f"unsupported codec {stream.codec_context.name!r}: Rekognition Video needs H.264")
        if stream.width <= 0 or stream.height <= 0:
            raise UnsupportedVideo("the video stream has no frame size: the file is corrupt")
        if stream.duration is not None and stream.time_base is not None:
            duration = int(stream.duration * stream.time_base * 1000)
        elif container.duration is not None:
            duration = int(container.duration / 1000)  # container.duration is in microseconds
        else:
            rate = stream.average_rate or stream.guessed_rate or Fraction(0)
            duration = int(stream.frames * 1000 / rate) if rate else 0
        return VideoFacts(duration, container.format.long_name, stream.codec_context.name, stream.width, stream.height)


def duration_ms(path: Path) -> int:
    """The video's duration in ms, or UnsupportedVideo if Rekognition would refuse its container,
    stream or codec."""
    return describe(path).duration_ms
