"""The emulator's view of a video, read with PyAV: whether the service would accept it (the limits in
``rekognition_limits``), its GetFaceDetection ``VideoMetadata``, and its frames' times.

The launcher makes its own check before uploading (``launcher/probe.py``): neither side imports the
other, so a bug in one probe cannot pass both unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from rekognition_limits import CODEC, CONTAINERS

# FFmpeg's AVColorRange: 2 is JPEG (full); 1 (MPEG) and 0 (unspecified) are limited/TV range.
_FULL_RANGE = 2
# The largest frame the emulator decodes: DCI 4K (4096x2160), in either orientation. AWS documents no
# resolution limit for stored video; without one, a 200 KB H.264 file of 8192x8192 frames (a "pixel
# bomb": blank frames compress to almost nothing) takes the endpoint to about 2 GB of memory, since
# every frame in flight is decoded, converted to RGB and copied. A larger video's job ends FAILED.
MAX_FRAME_PIXELS = 4096 * 2160


class UnsupportedVideo(Exception):
    """The file is not a video Rekognition can read; the message says why."""


def check_frame_size(width: int, height: int) -> None:
    """UnsupportedVideo for a frame of more than ``MAX_FRAME_PIXELS`` pixels."""
    if width * height > MAX_FRAME_PIXELS:
        raise UnsupportedVideo(
            f"frames of {width}x{height} ({width * height} pixels) are larger than the local endpoint decodes: "
            f"at most {MAX_FRAME_PIXELS} pixels (4096x2160)"
        )


@dataclass(frozen=True)
class VideoMetadata:
    codec: str
    duration_millis: int
    format: str
    frame_rate: float
    frame_height: int
    frame_width: int
    color_range: str

    def to_api(self) -> dict[str, Any]:
        """The GetFaceDetection ``VideoMetadata`` shape."""
        return {
            "Codec": self.codec,
            "DurationMillis": self.duration_millis,
            "Format": self.format,
            "FrameRate": self.frame_rate,
            "FrameHeight": self.frame_height,
            "FrameWidth": self.frame_width,
            "ColorRange": self.color_range,
        }


def open_video(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise UnsupportedVideo(f"not a readable video container: {error}") from None


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    if container.format.name not in CONTAINERS:
        raise UnsupportedVideo(
            f"unsupported container {container.format.long_name!r}: use MP4 or MOV (or AVI) with H.264 video"
        )
    if not container.streams.video:
        raise UnsupportedVideo("the file has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context.name != CODEC:
        raise UnsupportedVideo(f"unsupported codec {stream.codec_context.name!r}: Rekognition Video needs H.264")
    return stream


def time_base(stream: av.video.stream.VideoStream) -> Fraction:
    """The unit of the stream's timestamps (PyAV gives None only for a stream it cannot time)."""
    if stream.time_base is None:
        raise UnsupportedVideo("the video stream has no time base: the file is corrupt")
    return stream.time_base


def probe(path: Path) -> VideoMetadata:
    """Container metadata, or UnsupportedVideo if Rekognition would refuse the file."""
    with open_video(path) as container:
        stream = video_stream(container)
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        if stream.duration is not None and stream.time_base is not None:
            duration_ms = int(stream.duration * stream.time_base * 1000)
        elif container.duration is not None:
            duration_ms = int(container.duration / 1000)  # container.duration is in microseconds
        else:
            duration_ms = int(stream.frames * 1000 / rate) if rate else 0
        if stream.width <= 0 or stream.height <= 0:
            raise UnsupportedVideo("the video stream has no frame size: the file is corrupt")
        check_frame_size(stream.width, stream.height)
        return VideoMetadata(
            codec=stream.codec_context.name,
            duration_millis=duration_ms,
            format=CONTAINERS[container.format.name],
            frame_rate=float(rate),
            frame_height=stream.height,
            frame_width=stream.width,
            color_range="FULL" if stream.codec_context.color_range == _FULL_RANGE else "LIMITED",
        )
