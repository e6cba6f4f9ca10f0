"""Synthetic H.264 test videos with known face positions, made from a real photograph.

scikit-image bundles the public-domain "astronaut" portrait (no download). A crop of her head
moves across a textured background; the face box in every frame is known from a hand-annotated box
in the source photograph, independent of any detector. Used by the tests, the benchmarks and the
demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

# The face in skimage.data.astronaut() (512x512), annotated by hand: hairline to chin, ear to ear.
ASTRONAUT_FACE = (178, 62, 94, 116)  # left, top, width, height in pixels
# The head crop that moves (hair and neck included, so the face has context).
HEAD_CROP = (130, 10, 200, 230)  # left, top, width, height
# A face-free crop of the same photograph: the space shuttle.
SHUTTLE_CROP = (350, 0, 140, 300)


@dataclass(frozen=True)
class Box:
    """A box in pixels."""

    left: float
    top: float
    width: float
    height: float

    def iou(self, other: Box) -> float:
        x1, y1 = max(self.left, other.left), max(self.top, other.top)
        x2 = min(self.left + self.width, other.left + other.width)
        y2 = min(self.top + self.height, other.top + other.height)
        inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union else 0.0


@dataclass(frozen=True)
class SyntheticVideo:
    """A video written to ``path`` and where the face is at any moment (None: no face)."""

    path: Path
    width: int
    height: int
    fps: int
    frame_count: int
    with_face: bool

    def face_at(self, timestamp_ms: float) -> Box | None:
        if not self.with_face:
            return None
        frame_index = min(self.frame_count - 1, round(timestamp_ms * self.fps / 1000))
        x, y = _crop_position(frame_index, self.frame_count, self.width, self.height, HEAD_CROP)
        face_left, face_top, face_width, face_height = ASTRONAUT_FACE
        return Box(x + face_left - HEAD_CROP[0], y + face_top - HEAD_CROP[1], face_width, face_height)

    @property
    def duration_ms(self) -> float:
        return self.frame_count * 1000 / self.fps


def _crop_position(index: int, count: int, width: int, height: int, crop: tuple[int, ...]) -> tuple[int, int]:
    """Left to right across the frame, bobbing a little up and down."""
    progress = index / max(1, count - 1)
    x = round(10 + progress * (width - crop[2] - 20))
    y = round((height - crop[3]) / 2 + 0.25 * (height - crop[3]) * np.sin(progress * 2 * np.pi))
    return x, y


def _background(width: int, height: int) -> np.ndarray:
    """A smooth gradient with a grid texture: something to encode, nothing face-like."""
    yy, xx = np.mgrid[0:height, 0:width]
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[..., 0] = (60 + 80 * xx / width).astype(np.uint8)
    frame[..., 1] = (90 + 60 * yy / height).astype(np.uint8)
    frame[..., 2] = 140
    frame[(xx % 40 < 2) | (yy % 40 < 2)] = (200, 200, 200)
    return frame


def make_video(
    path: Path,
    *,
    seconds: float = 2.0,
    width: int = 640,
    height: int = 360,
    fps: int = 30,
    with_face: bool = True,
    container: str = "mp4",
    codec: str = "libx264",
) -> SyntheticVideo:
    """Write the clip and return where its face is. ``codec`` other than H.264 makes an
    unsupported video on purpose (for the emulator's and launcher's error paths)."""
    from skimage import data  # test and demo dependency only

    photo = data.astronaut()
    crop = HEAD_CROP if with_face else SHUTTLE_CROP
    patch = photo[crop[1] : crop[1] + crop[3], crop[0] : crop[0] + crop[2]]
    background = _background(width, height)
    frame_count = round(seconds * fps)
    path = Path(path)
    with av.open(str(path), mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=fps)
        assert isinstance(stream, av.video.stream.VideoStream), f"{codec} is not a video codec"
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frame_count):
            frame = background.copy()
            x, y = _crop_position(index, frame_count, width, height, crop)
            frame[y : y + crop[3], x : x + crop[2]] = patch
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return SyntheticVideo(path, width, height, fps, frame_count, with_face)
