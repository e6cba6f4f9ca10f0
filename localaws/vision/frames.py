"""Sampling frames from a video for detection, decoded on a thread of their own.

Only what is sampled costs more than decoding: H.264 needs every reference frame decoded, but a
frame no other frame refers to (most B-frames of a typical encode) is skipped by the decoder when it
cannot be on screen at the next sampling instant (``skip_frame = NONREF`` on its packet). The decoding runs in a
background thread, ahead of the caller by at most ``READ_AHEAD`` samples, so decoding and detection
use both cores. Decoding is the one step that cannot be shared between threads, so that thread only
decodes and copies the sampled frame's planes out; the conversion to RGB and the detector's
downscaled copy (``DecodedFrame.sampled``) are made by the threads that detect.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Generator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .video import UnsupportedVideo, check_frame_size, open_video, time_base, video_stream

READ_AHEAD = 3  # sampled frames decoded ahead of the detector
_POLL_SECONDS = 0.1  # how often a blocked decoder checks that its reader is still there


@dataclass(frozen=True)
class DecodedFrame:
    """A sampled frame as it left the decoder: H.264's usual 4:2:0 planes, stacked as OpenCV's I420
    (height * 3/2 rows: Y, then U, then V), or RGB for any other pixel format or an odd size."""

    timestamp_ms: int
    pixels: np.ndarray
    planar: bool

    def sampled(self, max_short_side: int) -> SampledFrame:
        """RGB at full size (OpenCV's BT.601 conversion, what libswscale assumes for an untagged
        stream) and a copy downscaled for the detector."""
        rgb = cv2.cvtColor(self.pixels, cv2.COLOR_YUV2RGB_I420) if self.planar else self.pixels
        return SampledFrame(self.timestamp_ms, rgb, downscaled(rgb, max_short_side))


@dataclass(frozen=True)
class SampledFrame:
    """One sampled frame: full-resolution RGB, and a copy downscaled for the detector."""

    timestamp_ms: int
    rgb: np.ndarray
    detection_rgb: np.ndarray

    @property
    def detection_scale(self) -> float:
        """Full-resolution pixels per detection-frame pixel (1.0 when not downscaled)."""
        return self.rgb.shape[0] / self.detection_rgb.shape[0]


def downscaled(rgb: np.ndarray, max_short_side: int) -> np.ndarray:
    """``rgb`` scaled so that its shorter side is at most ``max_short_side`` (never upscaled).

    Shrinking by 2 or more averages areas, so that no pixel is skipped. Shrinking by less (1280x720
    to 960x540) is bilinear, which then skips none either: OpenCV's area average is fast only for
    whole factors (0.6 ms for 1920x1080 to 960x540) and took 6.6 ms for 1280x720, against 1.0 ms."""
    height, width = rgb.shape[:2]
    scale = max_short_side / min(height, width)
    if scale >= 1:
        return rgb
    interpolation = cv2.INTER_AREA if scale <= 0.5 else cv2.INTER_LINEAR
    return cv2.resize(rgb, (round(width * scale), round(height * scale)), interpolation=interpolation)


def decoded_frame(frame: av.VideoFrame, timestamp_ms: int) -> DecodedFrame:
    """The frame's pixels, taken from the decoder's buffers as cheaply as they can be: a copy of the
    planes (0.4 ms at 1920x1080), or libswscale's RGB where OpenCV's I420 does not apply."""
    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        return DecodedFrame(timestamp_ms, frame.to_ndarray(format="yuv420p"), planar=True)
    return DecodedFrame(timestamp_ms, frame.to_ndarray(format="rgb24"), planar=False)


def decode_samples(path: Path, interval_ms: int) -> Generator[DecodedFrame, None, None]:
    """The sampled frames in order, placed as Rekognition Video places them (docs/local-endpoint.md):
    at every multiple of ``interval_ms`` from the start (0, 500, 1000, ... ms), the frame on screen
    at that instant, that is the last frame that starts at or before it; its timestamp is that
    frame's start in whole milliseconds, rounded down. At 29.97 fps and 500 ms this gives 0, 467,
    967, 1468, ... as AWS's published outputs show (467 and 967). A frame on screen at several
    instants (a video of fewer frames per second than samples) is sampled once."""
    with open_video(path) as container:
        stream = video_stream(container)
        context = stream.codec_context
        # One decoding thread: the decoder already has a core of its own beside the detector, and
        # FFmpeg's frame threads would cost CPU and hold frames back, so fewer could be skipped.
        context.thread_count = 1
        check_frame_size(stream.width, stream.height)
        start = stream.start_time or 0
        to_ms = time_base(stream) * 1000
        rate = stream.average_rate or stream.guessed_rate
        frame_ms = Fraction(1000) / rate if rate else None
        next_ms = Fraction(0)  # the next sampling instant
        held: tuple[av.VideoFrame, Fraction] | None = None  # the latest frame, not yet sampled
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and frame_ms is not None:
                    # A frame that starts two frames or more before the next instant is not on
                    # screen at it: let the decoder drop it if no other frame refers to it. Frames
                    # come out a little after their packets go in, so next_ms may lag; a lag only
                    # makes fewer frames skippable, never a sample.
                    early = (packet.pts - start) * to_ms + 2 * frame_ms < next_ms
                    context.skip_frame = "NONREF" if early else "DEFAULT"
                for frame in packet.decode():
                    check_frame_size(frame.width, frame.height)  # a stream may change size midway
                    if frame.pts is None:
                        continue
                    at_ms = (frame.pts - start) * to_ms
                    while at_ms > next_ms:  # this frame starts after the instant: the held one was on screen
                        if held is not None:
                            yield decoded_frame(held[0], math.floor(held[1]))
                            held = None
                        next_ms += interval_ms
                    if held is None or at_ms >= held[1]:
                        held = (frame, at_ms)
            # The last frame is on screen from its start for one frame's time.
            if held is not None and (frame_ms is None or next_ms < held[1] + frame_ms):
                yield decoded_frame(held[0], math.floor(held[1]))
        except av.error.FFmpegError as error:
            raise UnsupportedVideo(f"the video is corrupt: {error}") from None


def sample_frames(path: Path, interval_ms: int) -> Generator[DecodedFrame, None, None]:
    """The sampled frames, decoded in a background thread. Stopping early (closing the iterator)
    stops the decoder; a decoding error is raised here, as UnsupportedVideo."""
    samples: queue.Queue[DecodedFrame | BaseException | None] = queue.Queue(maxsize=READ_AHEAD)
    stopped = threading.Event()

    def put(item: DecodedFrame | BaseException | None) -> bool:
        while not stopped.is_set():
            try:
                samples.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        try:
            with contextlib.closing(decode_samples(path, interval_ms)) as decoded:
                for sample in decoded:
                    if not put(sample):
                        return  # the reader has gone: closing stops decoding and closes the file
            put(None)
        except BaseException as error:  # handed to the reader, who raises it
            put(error)

    decoder = threading.Thread(target=decode, name="frame-decoder", daemon=True)
    decoder.start()
    try:
        while (item := samples.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stopped.set()
        decoder.join()
