"""Sampling frames from a video for detection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from .video import UnsupportedVideo, open_video, time_base, video_stream


def sample_frames(path: Path, interval_ms: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (timestamp in ms, RGB frame) for the first frame at or after each multiple of
    ``interval_ms``. Every frame is decoded (H.264 needs its references); only sampled ones are
    converted. A decoding error mid-file raises UnsupportedVideo."""
    with open_video(path) as container:
        stream = video_stream(container)
        stream.thread_type = "AUTO"
        start = stream.start_time or 0
        next_ms = 0.0
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                timestamp_ms = float((frame.pts - start) * time_base(stream) * 1000)
                if timestamp_ms + 0.5 < next_ms:
                    continue
                yield round(timestamp_ms), frame.to_ndarray(format="rgb24")
                while next_ms <= timestamp_ms + 0.5:
                    next_ms += interval_ms
        except av.error.FFmpegError as error:
            raise UnsupportedVideo(f"the video is corrupt: {error}") from None
