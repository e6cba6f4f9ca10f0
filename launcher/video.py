"""Videos the way Rekognition Video accepts them: H.264 in MP4/MOV (or AVI), read with PyAV.

The launcher checks a file with it before uploading; the local emulator uses it to probe and sample
the videos it processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

# FFmpeg's demuxer names for the containers Rekognition Video documents (.mp4, .mov, and .avi).
SUPPORTED_FORMATS = {"mov,mp4,m4a,3gp,3g2,mj2": "QuickTime / MOV", "avi": "AVI (Audio Video Interleaved)"}
SUPPORTED_CODEC = "h264"
MAX_DURATION_MS = 6 * 3600 * 1000
MAX_VIDEO_BYTES = 10 * 1024**3

# FFmpeg's AVColorRange: 2 is JPEG (full); 1 (MPEG) and 0 (unspecified) are limited/TV range.
_FULL_RANGE = 2


class UnsupportedVideo(Exception):
    """The file is not a video Rekognition can read; the message says why."""


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
    if container.format.name not in SUPPORTED_FORMATS:
        raise UnsupportedVideo(
            f"unsupported container {container.format.long_name!r}: use MP4 or MOV (or AVI) with H.264 video"
        )
    if not container.streams.video:
        raise UnsupportedVideo("the file has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context.name != SUPPORTED_CODEC:
        raise UnsupportedVideo(f"unsupported codec {stream.codec_context.name!r}: Rekognition Video needs H.264")
    return stream


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
        return VideoMetadata(
            codec=stream.codec_context.name,
            duration_millis=duration_ms,
            format=SUPPORTED_FORMATS[container.format.name],
            frame_rate=float(rate),
            frame_height=stream.height,
            frame_width=stream.width,
            color_range="FULL" if stream.codec_context.color_range == _FULL_RANGE else "LIMITED",
        )
