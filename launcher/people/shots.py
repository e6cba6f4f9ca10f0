"""Hard cuts (shot boundaries) found in the video itself, so that an appearance never continues by
position from one shot into the next.

Every frame is decoded and shrunk to a tiny picture (``CutSettings.width`` x ``height``, RGB); two
consecutive pictures differ by a score in [0, 1]: the mean of their colour-histogram distance (half
the L1 distance of soft 8-bin histograms of R, G and B) and their mean absolute luma difference. A hard cut is a
lone spike: a frame whose score is at least ``min_score`` and ``ratio`` times the median score of the
frames around it (``window_ms`` on each side, the frame itself left out: the median ignores another
cut nearby), and the highest within ``min_shot_ms``. What this does with other edits:

- A camera pan or a person walking changes many pixels in every frame, but the colours stay (low
  histogram distance) and the neighbours change as much (no spike): not a cut.
- A fade to or from black and a dissolve spread their change over many frames: each frame changes
  by about the same small amount, so no frame stands out and they are *not* reported as cuts. A face
  that fades out and another that fades in at the same place are then linked by position only as
  long as the tracker's gap rule allows; with ``--people`` the face embedding still vetoes a link
  between two different people.
- A flash (one bright frame) gives two spikes a frame apart: only the stronger is reported, so a
  flash may be taken for a cut (appearances split there; with ``--people`` they are joined again).

The cut's timestamp is that of the first frame of the new shot, in milliseconds from the start of
the video (Rekognition's ``Timestamp`` clock). Decoding is the cost (measured per minute of 1080p in
``bench/appearances.py``); the pictures are shrunk by libswscale while decoding, and only a few
numbers per frame are kept.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

VideoInput = Path | BinaryIO | io.RawIOBase  # a local file, or a seekable file-like object (ranged S3 reads)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class CutDetectionError(Exception):
    """The video could not be decoded for cut detection; the message says why."""


@dataclass(frozen=True)
class CutSettings:
    width: int = 64  # the decoded frames are shrunk to this size before they are compared
    height: int = 36
    window_ms: int = 1000  # the neighbourhood, on each side, a cut must stand out from ...
    ratio: float = 3.0  # ... by at least this many times its median score ...
    min_shot_ms: int = 300  # only the strongest change within this distance is a cut
    min_score: float = 0.1  # ... and at least this (0-1): a cut between two alike shots scores 0.15-0.2
    bins: int = 8  # histogram bins per colour channel
    interpolation: str = "AREA"  # libswscale's shrinking: the mean of each area (its default, bicubic, costs more)


def difference(previous: np.ndarray, current: np.ndarray, bins: int = 8) -> float:
    """How unlike two small RGB pictures (H x W x 3, uint8) are, 0-1: the mean of the colour-histogram
    distance and the mean absolute luma difference."""
    return (_histogram_distance(previous, current, bins) + _luma_difference(previous, current)) / 2


def _histogram(picture: np.ndarray, bins: int) -> np.ndarray:
    """Per channel, a soft histogram: each pixel's weight shared between the two nearest of ``bins``
    bin centres, so that a gradual change (a fade) changes it gradually too."""
    position = picture.reshape(-1, 3).astype(np.float32) * ((bins - 1) / 255)
    low = np.minimum(position.astype(np.int64), bins - 2)
    upper_share = position - low
    histograms = []
    for channel in range(3):
        lows = low[:, channel]
        counts = np.bincount(lows, weights=1 - upper_share[:, channel], minlength=bins)
        counts += np.bincount(lows + 1, weights=upper_share[:, channel], minlength=bins)
        histograms.append(counts / max(1.0, float(counts.sum())))
    return np.concatenate(histograms) / 3


def _histogram_distance(previous: np.ndarray, current: np.ndarray, bins: int) -> float:
    return float(np.abs(_histogram(previous, bins) - _histogram(current, bins)).sum() / 2)


def _luma_difference(previous: np.ndarray, current: np.ndarray) -> float:
    luma_a = previous.astype(np.float32) @ _LUMA
    luma_b = current.astype(np.float32) @ _LUMA
    return float(np.abs(luma_a - luma_b).mean() / 255)


def scores(pictures: Iterable[tuple[int, np.ndarray]], bins: int = 8) -> tuple[list[int], list[float]]:
    """(timestamps, scores) for a sequence of (timestamp ms, small RGB picture): each frame's
    difference from the one before (the first frame's score is 0)."""
    times: list[int] = []
    values: list[float] = []
    previous: np.ndarray | None = None
    for timestamp, picture in pictures:
        times.append(timestamp)
        values.append(0.0 if previous is None else difference(previous, picture, bins))
        previous = picture
    return times, values


def find_cuts(times: Sequence[int], values: Sequence[float], settings: CutSettings | None = None) -> list[int]:
    """The timestamps of the frames that start a new shot, from each frame's score (``scores``)."""
    settings = settings or CutSettings()
    cuts: list[int] = []
    for i, value in enumerate(values):
        if i == 0 or value < settings.min_score:
            continue  # most frames: nothing more to look at
        low = bisect.bisect_left(times, times[i] - settings.window_ms)
        high = bisect.bisect_right(times, times[i] + settings.window_ms)
        neighbours = sorted([*values[low:i], *values[i + 1 : high]])
        if neighbours and value < settings.ratio * neighbours[len(neighbours) // 2]:
            continue  # not a spike: the frames around change as much (a pan, a fade, motion)
        near_low = bisect.bisect_left(times, times[i] - settings.min_shot_ms)
        near_high = bisect.bisect_right(times, times[i] + settings.min_shot_ms)
        if any(values[j] > value for j in range(near_low, near_high)) or any(
            values[j] == value for j in range(near_low, i)
        ):
            continue  # a stronger change nearby (a flash gives two): the earliest of the highest wins
        cuts.append(times[i])
    return cuts


def pictures(video: VideoInput, settings: CutSettings | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(timestamp ms, small RGB picture) of every frame of the video's first video stream."""
    settings = settings or CutSettings()
    source = str(video) if isinstance(video, Path) else video
    with av.open(source, mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: decoding is the cost
        start, time_base = stream.start_time or 0, stream.time_base
        if time_base is None:
            raise ValueError("the video stream has no time base")
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            small = frame.reformat(
                width=settings.width, height=settings.height, format="rgb24", interpolation=settings.interpolation
            )
            yield round(float((frame.pts - start) * time_base * 1000)), small.to_ndarray()


def detect_cuts(video: VideoInput, settings: CutSettings | None = None) -> list[int]:
    """The hard cuts of a video (local file or seekable file-like object), as timestamps in ms."""
    settings = settings or CutSettings()
    try:
        times, values = scores(pictures(video, settings), settings.bins)
    except (av.error.FFmpegError, ValueError, IndexError, OSError) as error:  # IndexError: no video stream
        raise CutDetectionError(str(error) or type(error).__name__) from None
    return find_cuts(times, values, settings)
