"""Synthetic H.264 test videos with known face positions, made from a real photograph.

scikit-image bundles the public-domain "astronaut" portrait (no download). A crop of her head
moves across a textured background, at any resolution and scaled to any face size; the face box in
every frame is known from a hand-annotated box in the source photograph, independent of any
detector. A second kind of clip shows only faces that are not human: a cartoon face drawn here and
scikit-image's cat photograph. Used by the tests, the benchmarks and the demo.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
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
    face_scale: float = 1.0  # the head's size against the photograph's

    def face_at(self, timestamp_ms: float) -> Box | None:
        if not self.with_face:
            return None
        frame_index = min(self.frame_count - 1, round(timestamp_ms * self.fps / 1000))
        crop_size = _scaled_size(HEAD_CROP, self.face_scale)
        x, y = _crop_position(frame_index, self.frame_count, self.width, self.height, crop_size)
        face_left, face_top, face_width, face_height = (value * self.face_scale for value in ASTRONAUT_FACE)
        crop_left, crop_top = HEAD_CROP[0] * self.face_scale, HEAD_CROP[1] * self.face_scale
        return Box(x + face_left - crop_left, y + face_top - crop_top, face_width, face_height)

    @property
    def face_width(self) -> float:
        return ASTRONAUT_FACE[2] * self.face_scale

    @property
    def duration_ms(self) -> float:
        return self.frame_count * 1000 / self.fps


def _scaled_size(crop: tuple[int, int, int, int], scale: float) -> tuple[int, int]:
    """(width, height) of a crop of the photograph scaled by ``scale``."""
    return round(crop[2] * scale), round(crop[3] * scale)


def _crop_position(index: int, count: int, width: int, height: int, size: tuple[int, int]) -> tuple[int, int]:
    """Left to right across the frame, bobbing a little up and down."""
    progress = index / max(1, count - 1)
    x = round(10 + progress * (width - size[0] - 20))
    y = round((height - size[1]) / 2 + 0.25 * (height - size[1]) * np.sin(progress * 2 * np.pi))
    return x, y


def background(width: int, height: int) -> np.ndarray:
    """A smooth gradient with a grid texture: something to encode, nothing face-like."""
    yy, xx = np.mgrid[0:height, 0:width]
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[..., 0] = (60 + 80 * xx / width).astype(np.uint8)
    frame[..., 1] = (90 + 60 * yy / height).astype(np.uint8)
    frame[..., 2] = 140
    frame[(xx % 40 < 2) | (yy % 40 < 2)] = (200, 200, 200)
    return frame


def _scaled_patch(photo: np.ndarray, crop: tuple[int, int, int, int], scale: float) -> np.ndarray:
    patch = photo[crop[1] : crop[1] + crop[3], crop[0] : crop[0] + crop[2]]
    if scale == 1.0:
        return patch
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(patch, _scaled_size(crop, scale), interpolation=interpolation)


def _write(
    path: Path, frames: Iterator[np.ndarray], width: int, height: int, fps: int, container: str, codec: str
) -> None:
    with av.open(str(path), mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=fps)
        assert isinstance(stream, av.video.stream.VideoStream), f"{codec} is not a video codec"
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)


def make_video(
    path: Path,
    *,
    seconds: float = 2.0,
    width: int = 640,
    height: int = 360,
    fps: int = 30,
    with_face: bool = True,
    face_width: float | None = None,
    container: str = "mp4",
    codec: str = "libx264",
) -> SyntheticVideo:
    """Write the clip and return where its face is. ``face_width`` (pixels) scales the head so that
    the face box is that wide (default: as photographed, 94 px). ``codec`` other than H.264 makes an
    unsupported video on purpose (for the emulator's and launcher's error paths)."""
    from skimage import data  # test and demo dependency only

    scale = face_width / ASTRONAUT_FACE[2] if face_width else 1.0
    crop = HEAD_CROP if with_face else SHUTTLE_CROP
    patch = _scaled_patch(data.astronaut(), crop, scale)
    patch_height, patch_width = patch.shape[:2]
    if patch_width > width - 20 or patch_height > height:
        raise ValueError(f"a face {face_width} px wide does not fit a {width}x{height} frame")
    backdrop = background(width, height)
    frame_count = round(seconds * fps)

    def frames() -> Iterator[np.ndarray]:
        for index in range(frame_count):
            frame = backdrop.copy()
            x, y = _crop_position(index, frame_count, width, height, (patch_width, patch_height))
            frame[y : y + patch_height, x : x + patch_width] = patch
            yield frame

    _write(Path(path), frames(), width, height, fps, container, codec)
    return SyntheticVideo(Path(path), width, height, fps, frame_count, with_face, scale)


def cartoon_face(side: int) -> np.ndarray:
    """A drawn face, ``side`` px wide: skin-coloured oval, eyes, brows, nose and a smile in flat
    colour. RetinaFace alone takes it for a face with a score above 0.9 at most sizes."""
    image = np.full((round(side * 1.2), side, 3), 255, dtype=np.uint8)
    centre_x, centre_y = side // 2, round(side * 0.6)
    line = max(2, side // 40)
    head = (round(side * 0.38), round(side * 0.48))
    cv2.ellipse(image, (centre_x, centre_y), head, 0, 0, 360, (230, 190, 150), -1)
    cv2.ellipse(image, (centre_x, centre_y), head, 0, 0, 360, (60, 40, 30), 2)
    for side_sign in (-1, 1):
        eye_x, eye_y = centre_x + side_sign * round(side * 0.15), round(centre_y - side * 0.08)
        eye = (round(side * 0.08), round(side * 0.045))
        cv2.ellipse(image, (eye_x, eye_y), eye, 0, 0, 360, (255, 255, 255), -1)
        cv2.ellipse(image, (eye_x, eye_y), eye, 0, 0, 360, (0, 0, 0), 2)
        cv2.circle(image, (eye_x, eye_y), round(side * 0.035), (40, 30, 20), -1)
        brow = round(side * 0.08)
        cv2.line(
            image,
            (eye_x - brow, eye_y - round(side * 0.09)),
            (eye_x + brow, eye_y - round(side * 0.1)),
            (50, 30, 20),
            line,
        )
    nose_top, nose_tip = (
        (centre_x, round(centre_y - side * 0.04)),
        (centre_x - round(side * 0.03), round(centre_y + side * 0.1)),
    )
    cv2.line(image, nose_top, nose_tip, (150, 100, 80), max(2, side // 60))
    mouth = (round(side * 0.12), round(side * 0.04))
    cv2.ellipse(image, (centre_x, round(centre_y + side * 0.2)), mouth, 0, 0, 180, (150, 40, 40), line)
    return image


def make_non_human_video(
    path: Path, *, seconds: float = 1.0, width: int = 640, height: int = 360, fps: int = 30
) -> SyntheticVideo:
    """A clip with faces that are not human and no human one: the drawn cartoon face (about 45% of
    the frame's height) and scikit-image's cat photograph (the frame's height), drifting slowly."""
    from skimage import data  # test and demo dependency only

    cartoon = cartoon_face(round(height * 0.45))
    cat = data.chelsea()
    cat = cv2.resize(
        cat, (round(cat.shape[1] * height / cat.shape[0] * 0.95), round(height * 0.95)), interpolation=cv2.INTER_AREA
    )
    backdrop = background(width, height)
    frame_count = round(seconds * fps)

    def frames() -> Iterator[np.ndarray]:
        for index in range(frame_count):
            frame = backdrop.copy()
            shift = round(index / max(1, frame_count - 1) * width * 0.05)
            frame[: cat.shape[0], width - cat.shape[1] - shift : width - shift] = cat
            top = (height - cartoon.shape[0]) // 2
            frame[top : top + cartoon.shape[0], 10 + shift : 10 + shift + cartoon.shape[1]] = cartoon
            yield frame

    _write(Path(path), frames(), width, height, fps, "mp4", "libx264")
    return SyntheticVideo(Path(path), width, height, fps, frame_count, with_face=False)
