"""How long a redaction takes, before it starts: what lets the redactor function (auto-processing,
``redact: true``) refuse a video that cannot be done within Lambda's 15 minutes instead of being
killed half-way. Pure functions over the video's size and frame count (``video_size`` reads them from
its header, nothing decoded), and the CPU cost per frame measured by ``bench/redaction.py`` (bench/README.md#redaction).

The cost of one frame, in CPU milliseconds, on this project's benchmark machine:

- **redaction** (decode, cover, encode at the default quality): ``REDACT_MS_PER_FRAME`` +
  ``REDACT_MS_PER_MEGAPIXEL`` x megapixels: 2.9 ms at 640x360, 8.7 at 1280x720, 18.4 at 1920x1080
  (the benchmark measured 2.8, 9.2 and 18.4);
- **the leak audit** with libfacedetection (``yuface``, the detector the function's layer carries),
  on each audited frame: ``AUDIT_MS_AT_540`` x (the copy the detector sees / 540 px)^2, the copy being
  the frame at a shorter side of at most 540 px: 32 ms at 640x360, 73 ms at 720p and above (the
  benchmark: 29 and 73), plus decoding the copy again.

A function with ``cpus`` vCPUs is counted as ``PARALLEL_SHARE`` of them busy (the encoder's and the
audit's threads do not keep every core full), and the estimate must fit ``SAFETY`` times over. A
Lambda function's vCPUs follow its memory (``lambda_vcpus``), not the cores the machine shows.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av

from .writer import UnreadableVideo

REDACT_MS_PER_FRAME = 1.0
REDACT_MS_PER_MEGAPIXEL = 8.4
AUDIT_MS_AT_540 = 73.0
DETECTION_SHORT_SIDE = 540  # as launcher.redact.audit's (the copy is never enlarged)
DECODE_MS_PER_MEGAPIXEL = 2.0  # the audit decodes the copy again
PARALLEL_SHARE = 2 / 3
# Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB, six at 10,240 MB
# (its largest). /proc/cpuinfo shows more cores than that at small sizes, so os.cpu_count() misleads.
MB_PER_VCPU = 1769
MAX_VCPUS = 6
SAFETY = 1.5
# Kept for the upload and the result objects: a tenth of the function's time, at least 1 s. At 900 s,
# 90 s: a 600 MB copy (about 34 minutes of 1920x1080) uploads in a fraction of it within a region.
RESERVE_SHARE = 0.1
MIN_RESERVE_SECONDS = 1.0
# How big the copy may get, per pixel of every frame (the benchmark's 1920x1080 copy: 17 MB a
# minute at 30 fps, 0.0046 bytes a pixel), with a margin for busier pictures.
COPY_BYTES_PER_PIXEL = 0.02


@dataclass(frozen=True)
class VideoSize:
    """What the estimate needs of a video, from its header."""

    frames: int
    width: int
    height: int
    duration_s: float

    def describe(self) -> str:
        length = f"{self.duration_s:.1f} s" if self.duration_s < 120 else f"{self.duration_s / 60:.1f} min"
        return f"{self.width}x{self.height}, {self.frames} frames ({length})"


def video_size(source: Path | BinaryIO | io.RawIOBase) -> VideoSize:
    """The video's frame count, size and duration from its header (an MP4's sample table: nothing
    decoded; without a count, duration x average frame rate)."""
    try:
        container = av.open(str(source) if isinstance(source, Path) else source, mode="r")
    except (av.error.FFmpegError, OSError) as error:
        raise UnreadableVideo(f"cannot read the video: {error}") from None
    with container:
        if not container.streams.video:
            raise UnreadableVideo("the file has no video stream")
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = container.duration / av.time_base if container.duration else 0.0
        frames = stream.frames
        if not frames:
            rate = stream.average_rate or stream.guessed_rate
            frames = math.ceil(duration * rate) if rate else 0
        return VideoSize(frames, stream.width, stream.height, duration)


def cpu_ms_per_frame(width: int, height: int, every: int) -> float:
    """CPU milliseconds per frame of the video: its redaction, and its share of the audit."""
    megapixels = width * height / 1e6
    redact = REDACT_MS_PER_FRAME + REDACT_MS_PER_MEGAPIXEL * megapixels
    if every <= 0:
        return redact
    scale = min(1.0, DETECTION_SHORT_SIDE / max(1, min(width, height)))
    detect = AUDIT_MS_AT_540 * (min(width, height) * scale / DETECTION_SHORT_SIDE) ** 2
    return redact + DECODE_MS_PER_MEGAPIXEL * megapixels + detect / every


def lambda_vcpus(memory_mb: int) -> float:
    """The vCPUs Lambda gives a function of ``memory_mb``."""
    return min(MAX_VCPUS, memory_mb / MB_PER_VCPU)


def busy_cores(cpus: float) -> float:
    """How many of ``cpus`` the redaction keeps busy: all of one, two thirds of several."""
    return max(min(cpus, 1.0), cpus * PARALLEL_SHARE)


def wall_seconds(size: VideoSize, every: int, cpus: float) -> float:
    """The wall-clock estimate, without the safety factor."""
    return size.frames * cpu_ms_per_frame(size.width, size.height, every) / 1000 / busy_cores(cpus)


def reserve_seconds(function_seconds: float) -> float:
    """Time kept back from the redaction for the upload and the result objects."""
    return max(MIN_RESERVE_SECONDS, RESERVE_SHARE * function_seconds)


@dataclass(frozen=True)
class Fit:
    """Whether a redaction fits the time (and /tmp) at hand, and where the line is."""

    size: VideoSize
    estimated_s: float  # wall clock, safety factor included
    available_s: float  # the function's remaining time, less the reserve
    copy_bytes: int  # the copy's size, estimated high
    free_bytes: int
    max_frames: int  # at this size, within the time available
    every: int

    @property
    def fits(self) -> bool:
        return self.estimated_s <= self.available_s and self.copy_bytes <= self.free_bytes

    @property
    def max_minutes_at_30fps(self) -> float:
        return self.max_frames / 30 / 60

    def describe(self) -> str:
        """Why it does not fit, in one line."""
        if self.copy_bytes > self.free_bytes:
            return (
                f"the redacted copy of this {self.size.describe()} video could take {self.copy_bytes / 1e6:.0f} MB; "
                f"the function has {self.free_bytes / 1e6:.0f} MB of /tmp"
            )
        return (
            f"redacting this {self.size.describe()} video would take about {self.estimated_s:.0f} s "
            f"({f'audit of every {self.every} frame(s) included' if self.every else 'no audit'}); the function has "
            f"{self.available_s:.0f} s for it: "
            f"at this size it can redact up to {self.max_frames} frames (about "
            f"{self.max_minutes_at_30fps:.0f} minutes at 30 fps)"
        )

    def to_api(self) -> dict[str, object]:
        return {
            "frames": self.size.frames,
            "width": self.size.width,
            "height": self.size.height,
            "durationSeconds": round(self.size.duration_s, 3),
            "estimatedSeconds": round(self.estimated_s, 1),
            "availableSeconds": round(self.available_s, 1),
            "maxFrames": self.max_frames,
            "maxMinutesAt30fps": round(self.max_minutes_at_30fps, 1),
            "estimatedCopyBytes": self.copy_bytes,
            "freeTmpBytes": self.free_bytes,
            "auditEvery": self.every,
        }


def fit(size: VideoSize, every: int, cpus: float, remaining_s: float, free_bytes: int) -> Fit:
    """Whether ``size`` can be redacted (and audited every ``every`` frames, 0: not) with ``cpus``
    vCPUs in ``remaining_s`` seconds, its copy in ``free_bytes`` of /tmp."""
    available = max(0.0, remaining_s - reserve_seconds(remaining_s))
    per_frame_s = SAFETY * cpu_ms_per_frame(size.width, size.height, every) / 1000 / busy_cores(cpus)
    return Fit(
        size,
        estimated_s=SAFETY * wall_seconds(size, every, cpus),
        available_s=available,
        copy_bytes=math.ceil(size.frames * size.width * size.height * COPY_BYTES_PER_PIXEL),
        free_bytes=free_bytes,
        max_frames=int(available / per_frame_s) if per_frame_s > 0 else 0,
        every=every,
    )
