"""Grabbing the frames a report shows: the frame at a result's timestamp, from a local video or
straight from S3 (ranged reads of just the parts PyAV asks for, never a download of the whole
object), and a thumbnail of a face cut from it.

A Rekognition ``Timestamp`` is milliseconds from the start of the video; the frame it names is the
first frame shown at or after it (to the nearest millisecond).
"""

from __future__ import annotations

import base64
import contextlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import av
from PIL import Image

from ..jobs.appearances import Box

if TYPE_CHECKING:
    pass

SEEK_AFTER_MS = 2000  # a wanted frame further ahead than this is reached by seeking, not decoding on
THUMBNAIL_HEIGHT = 160  # pixels
MARGIN = 0.35  # context around the face box, in box sizes on each side
JPEG_QUALITY = 80

VideoSource = Path | BinaryIO | io.RawIOBase  # a local file, or a file-like object such as S3ObjectReader


class UnreadableVideo(Exception):
    """The frames could not be read; the message says why."""


def frames_at(video: VideoSource, timestamps: Iterable[int]) -> Iterator[tuple[int, av.VideoFrame]]:
    """(timestamp, frame) for each wanted timestamp the video reaches, in time order. Far-apart
    timestamps are reached by seeking to the keyframe before them; near ones by decoding on."""
    wanted = sorted(set(timestamps))
    # A local file is opened here and handed over as a file object: FFmpeg never reads its name, so
    # `clip:1.mp4` is not taken for a protocol, and a name that is not UTF-8 opens as the bytes it is.
    with contextlib.ExitStack() as files:
        source = files.enter_context(video.open("rb")) if isinstance(video, Path) else video
        yield from _frames_at(source, wanted)


def _frames_at(source: BinaryIO | io.RawIOBase, wanted: list[int]) -> Iterator[tuple[int, av.VideoFrame]]:
    with av.open(source, mode="r") as container:
        stream = container.streams.video[0]
        start, time_base = stream.start_time or 0, stream.time_base
        if time_base is None:
            raise ValueError("the video stream has no time base")
        decoded: Iterator[av.VideoFrame] | None = None
        last: tuple[float, av.VideoFrame] | None = None  # the latest decoded frame and its time
        for target in wanted:
            if last is not None and last[0] + 0.5 >= target:
                yield target, last[1]
                continue
            if decoded is None or last is None or target > last[0] + SEEK_AFTER_MS:
                container.seek(start + int(target / 1000 / time_base), stream=stream, backward=True)
                decoded = container.decode(stream)
            for frame in decoded:
                if frame.pts is None:
                    continue
                last = (float((frame.pts - start) * time_base * 1000), frame)
                if last[0] + 0.5 >= target:
                    yield target, frame
                    break


@dataclass(frozen=True)
class Thumbnail:
    """A JPEG of a face with some context around it, and where the face box is in it (pixels)."""

    jpeg: bytes
    width: int
    height: int
    box: tuple[float, float, float, float]  # left, top, width, height

    def data_uri(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")


def thumbnail(image: Image.Image, box: Box, height: int = THUMBNAIL_HEIGHT) -> Thumbnail:
    """The face ``box`` (ratios of the frame) with a margin around it, scaled to ``height`` pixels."""
    frame_width, frame_height = image.size
    left, top = box.left * frame_width, box.top * frame_height
    width, height_px = box.width * frame_width, box.height * frame_height
    crop = (
        max(0, int(left - MARGIN * width)),
        max(0, int(top - MARGIN * height_px)),
        min(frame_width, int(left + width * (1 + MARGIN)) + 1),
        min(frame_height, int(top + height_px * (1 + MARGIN)) + 1),
    )
    if crop[2] - crop[0] < 2 or crop[3] - crop[1] < 2:  # a box outside the frame: show the whole frame
        crop = (0, 0, frame_width, frame_height)
    scale = height / (crop[3] - crop[1])
    out_width = max(1, round((crop[2] - crop[0]) * scale))
    picture = image.crop(crop).resize((out_width, height), Image.Resampling.LANCZOS)
    encoded = io.BytesIO()
    picture.convert("RGB").save(encoded, format="JPEG", quality=JPEG_QUALITY)
    face_box = ((left - crop[0]) * scale, (top - crop[1]) * scale, width * scale, height_px * scale)
    return Thumbnail(encoded.getvalue(), out_width, height, face_box)


def thumbnails(video: VideoSource, wanted: dict[int, tuple[int, Box]]) -> dict[int, Thumbnail]:
    """A thumbnail per key of ``wanted`` (key: (timestamp, box)), decoding each frame once."""
    by_timestamp: dict[int, list[tuple[int, Box]]] = {}
    for key, (timestamp, box) in wanted.items():
        by_timestamp.setdefault(timestamp, []).append((key, box))
    made = {}
    try:
        for timestamp, frame in frames_at(video, by_timestamp):
            image = frame.to_image()
            for key, box in by_timestamp[timestamp]:
                made[key] = thumbnail(image, box)
    except (av.error.FFmpegError, ValueError, IndexError) as error:  # IndexError: no video stream
        raise UnreadableVideo(str(error)) from None
    return made
