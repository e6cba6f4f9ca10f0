"""Scenes with several faces for the redaction's tests and benchmark: real photographs' faces
moving fast, crossing, accelerating, entering and leaving at the frame's edges, at a variable frame
rate, with an AAC audio track. Where each face is (and how much of it is visible) is known for every
frame from the hand-annotated box of the photograph, independent of any detector.

Faces are scikit-image's astronaut (``ASTRONAUT_FACE``), as photographed or mirrored, at any scale.
Positions are functions of time (milliseconds), so a variable frame rate does not change the path.
"""

from __future__ import annotations

import fractions
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import av
import numpy as np

from . import ASTRONAUT_FACE, HEAD_CROP, Box, _scaled_patch, background

TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_RATE = 48000
AUDIO_FRAME = 1024  # AAC's frame size


@dataclass(frozen=True)
class Mover:
    """A head crossing the frame: visible from ``start_ms`` to ``end_ms``; its top-left corner goes
    from ``start`` to ``end`` (pixels, may be outside the frame) along ``ease`` (0-1 to 0-1 of the
    way: the identity is constant speed, ``t * t`` accelerates)."""

    start_ms: float
    end_ms: float
    start: tuple[float, float]
    end: tuple[float, float]
    scale: float = 1.0
    mirrored: bool = False
    ease: Callable[[float], float] = field(default=lambda progress: progress, compare=False)

    def corner(self, t: float) -> tuple[int, int] | None:
        if not self.start_ms <= t <= self.end_ms:
            return None
        way = self.ease((t - self.start_ms) / (self.end_ms - self.start_ms))
        x = self.start[0] + (self.end[0] - self.start[0]) * way
        y = self.start[1] + (self.end[1] - self.start[1]) * way
        return round(x), round(y)

    def face(self, corner: tuple[int, int], patch_width: int) -> Box:
        """The face box (pixels) for the head's top-left corner."""
        left, top, width, height = (value * self.scale for value in ASTRONAUT_FACE)
        left -= HEAD_CROP[0] * self.scale
        top -= HEAD_CROP[1] * self.scale
        if self.mirrored:
            left = patch_width - left - width
        return Box(corner[0] + left, corner[1] + top, width, height)


@dataclass(frozen=True)
class FaceInFrame:
    mover: int  # index in the scene's movers
    box: Box  # the whole face box, in pixels (may reach outside the frame)
    visible: np.ndarray  # bool mask (frame height x width): the face's pixels not covered by a later head


@dataclass(frozen=True)
class Scene:
    path: Path
    width: int
    height: int
    timestamps_ms: list[float]  # each frame's presentation time
    movers: Sequence[Mover]
    planted: frozenset[int] = frozenset()  # frames with a pasted face no mover accounts for
    planted_box: Box | None = None

    @property
    def frame_count(self) -> int:
        return len(self.timestamps_ms)

    def faces(self, frame: int) -> list[FaceInFrame]:
        """The faces of the movers in a frame, each with its visible pixels."""
        return _layout(self.movers, self.timestamps_ms[frame], self.width, self.height)[1]


RECOGNISABLE_SSIM = 0.35  # a face this similar to the original counts as recognisable (encoding alone: 0.98)


def rgb_frames(path: Path) -> Iterator[np.ndarray]:
    """Every frame of a video, as RGB arrays, in order."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def face_similarities(scene: Scene, copy: Path, min_visible: float = 0.2) -> list[tuple[int, int, float]]:
    """(frame, mover, SSIM against the original) of every face of the scene with at least
    ``min_visible`` of its box showing in a copy of it (a redacted one): the measure of whether a face
    is still recognisable, on its visible pixels. The two videos must have the same frames."""
    from skimage.metrics import structural_similarity  # test and benchmark dependency only

    found = []
    for index, (original, redacted) in enumerate(zip(rgb_frames(scene.path), rgb_frames(copy), strict=True)):
        for face in scene.faces(index):
            if face.visible.sum() < min_visible * face.box.width * face.box.height:
                continue
            rows, columns = np.nonzero(face.visible)
            window = slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1)
            before, after = original[window].mean(axis=2), redacted[window].mean(axis=2)
            if min(before.shape) < 7:  # SSIM's window
                continue
            found.append((index, face.mover, float(structural_similarity(before, after, data_range=255))))
    return found


def _patches(movers: Sequence[Mover]) -> list[np.ndarray]:
    from skimage import data  # test and benchmark dependency only

    photo = data.astronaut()
    patches = []
    for mover in movers:
        patch = _scaled_patch(photo, HEAD_CROP, mover.scale)
        patches.append(np.ascontiguousarray(patch[:, ::-1]) if mover.mirrored else patch)
    return patches


def _layout(
    movers: Sequence[Mover], t: float, width: int, height: int, patches: list[np.ndarray] | None = None
) -> tuple[list[tuple[int, tuple[int, int]]], list[FaceInFrame]]:
    """Where each visible head is at ``t`` (drawing order = mover order) and its face's visible mask."""
    placed = [(index, corner) for index, mover in enumerate(movers) if (corner := mover.corner(t)) is not None]
    sizes = [
        (round(HEAD_CROP[2] * mover.scale), round(HEAD_CROP[3] * mover.scale))
        if patches is None
        else (patches[index].shape[1], patches[index].shape[0])
        for index, mover in enumerate(movers)
    ]
    faces = []
    for order, (index, corner) in enumerate(placed):
        box = movers[index].face(corner, sizes[index][0])
        mask = np.zeros((height, width), dtype=bool)
        x0, y0 = max(0, round(box.left)), max(0, round(box.top))
        x1, y1 = min(width, round(box.left + box.width)), min(height, round(box.top + box.height))
        if x1 > x0 and y1 > y0:
            mask[y0:y1, x0:x1] = True
        for later, later_corner in placed[order + 1 :]:  # heads drawn later cover this face
            lx0, ly0 = max(0, later_corner[0]), max(0, later_corner[1])
            lx1 = min(width, later_corner[0] + sizes[later][0])
            ly1 = min(height, later_corner[1] + sizes[later][1])
            if lx1 > lx0 and ly1 > ly0:
                mask[ly0:ly1, lx0:lx1] = False
        faces.append(FaceInFrame(index, box, mask))
    return placed, faces


def _paste(frame: np.ndarray, patch: np.ndarray, corner: tuple[int, int]) -> None:
    height, width = frame.shape[:2]
    x, y = corner
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + patch.shape[1]), min(height, y + patch.shape[0])
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]


def variable_timestamps(
    seconds: float, steps_ms: Sequence[float] = (33.3, 33.3, 50.0, 16.7, 33.3, 66.7)
) -> list[float]:
    """Frame times cycling through ``steps_ms``: a variable frame rate (about 26 fps on average)."""
    times, t, step = [], 0.0, 0
    while t < seconds * 1000:
        times.append(t)
        t += steps_ms[step % len(steps_ms)]
        step += 1
    return times


def make_scene(
    path: Path,
    movers: Sequence[Mover],
    *,
    width: int = 640,
    height: int = 360,
    timestamps_ms: Sequence[float] | None = None,
    seconds: float = 3.0,
    audio: bool = True,
    planted: Sequence[int] = (),
    planted_at: tuple[int, int] | None = None,
    rotation: int = 0,
    crf: int = 18,
    backdrop: Callable[[float], np.ndarray] | None = None,
    codec: str = "libx264",
) -> Scene:
    """Write the scene as H.264 MP4 (4:2:0) with each frame at its own timestamp (a variable frame
    rate by default), an AAC tone as audio, and a face pasted at ``planted_at`` (a corner, pixels)
    in the ``planted`` frames: one no mover (and so no result) accounts for. ``backdrop(t)`` gives
    the background at t ms (default: a still gradient; ``panning_photographs`` is what a camera
    would give an encoder to do). ``codec="libvpx-vp9"`` (in a ``.mkv`` path: Matroska) allows an
    odd width or height in 4:2:0, as a browser's screen recording has."""
    times = list(timestamps_ms) if timestamps_ms is not None else variable_timestamps(seconds)
    patches = _patches(movers)
    still = background(width, height)
    backdrop = backdrop or (lambda t: still)
    planted_patch = _patches([Mover(0, 1, (0, 0), (0, 0), scale=0.6)])[0]
    planted_box = None
    if planted_at is not None:
        planted_box = Mover(0, 1, (0, 0), (0, 0), scale=0.6).face(planted_at, planted_patch.shape[1])
    duration_ms = times[-1] + (times[-1] - times[-2] if len(times) > 1 else 33.3)
    container = "matroska" if Path(path).suffix == ".mkv" else "mp4"
    options = {"crf": str(crf), "preset": "veryfast"}
    if codec == "libvpx-vp9":
        options = {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "8"}
    with av.open(str(path), mode="w", format=container) as output:
        video = cast("av.video.stream.VideoStream", output.add_stream(codec, rate=30, options=options))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = TIME_BASE
        if rotation:
            video.set_display_rotation(rotation)
        sound = output.add_stream("aac", rate=AUDIO_RATE) if audio else None
        for index, t in enumerate(times):
            frame = backdrop(t).copy()
            placed, _faces = _layout(movers, t, width, height, patches)
            for mover_index, corner in placed:
                _paste(frame, patches[mover_index], corner)
            if index in planted and planted_at is not None:
                _paste(frame, planted_patch, planted_at)
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts, picture.time_base = round(t / 1000 / TIME_BASE), TIME_BASE
            next_t = times[index + 1] if index + 1 < len(times) else duration_ms
            picture.duration = round((next_t - t) / 1000 / TIME_BASE)
            for packet in video.encode(picture):
                output.mux(packet)
        for packet in video.encode():
            output.mux(packet)
        if sound is not None:
            samples_total = round(duration_ms / 1000 * AUDIO_RATE)
            for start in range(0, samples_total, AUDIO_FRAME):
                count = min(AUDIO_FRAME, samples_total - start)
                phase = np.arange(start, start + count) / AUDIO_RATE
                tone = (0.2 * np.sin(2 * np.pi * (330 + 110 * phase) * phase)).astype(np.float32)[np.newaxis]
                chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = AUDIO_RATE, start
                for packet in sound.encode(chunk):
                    output.mux(packet)
            for packet in sound.encode():
                output.mux(packet)
    return Scene(Path(path), width, height, times, tuple(movers), frozenset(planted), planted_box)


def crossing_movers(width: int, height: int, seconds: float = 3.0) -> list[Mover]:
    """Three heads: one enters at the left edge and leaves at the right in about 1.6 s (fast); a
    mirrored one does the opposite, crossing it (drawn over it) mid-frame; a smaller one comes in at
    the top, accelerating, and leaves at the bottom. Sizes scale with the frame's height."""
    unit = height / 360
    head_w = HEAD_CROP[2] * 0.7 * unit
    small_h = HEAD_CROP[3] * 0.45 * unit
    end = seconds * 1000
    return [
        Mover(100, 100 + 0.55 * end, (-head_w * 0.7, height * 0.2), (width - head_w * 0.3, height * 0.1), 0.7 * unit),
        Mover(
            0.1 * end,
            0.1 * end + 0.55 * end,
            (width - head_w * 0.2, height * 0.15),
            (-head_w * 0.8, height * 0.25),
            0.7 * unit,
            mirrored=True,
        ),
        Mover(
            0.45 * end,
            end - 100,
            (width * 0.6, -small_h * 0.8),
            (width * 0.4, height - small_h * 0.1),
            0.45 * unit,
            ease=lambda progress: progress * progress,
        ),
    ]


def scene_faces(scene: Scene, interval_ms: float = 500.0, min_visible: float = 0.4) -> list[dict[str, object]]:
    """GetFaceDetection ``Faces`` entries as the service would give them for the scene, sampled every
    ``interval_ms`` (each sample is the first frame at or after it, its Timestamp that frame's time):
    a face is reported where at least ``min_visible`` of its box shows (not off the frame, not behind
    another head), with its whole box (which may reach outside the frame, as the service's does).
    Timestamps count from the first frame, as the emulator's and the launcher's do."""
    entries: list[dict[str, object]] = []
    first = scene.timestamps_ms[0]
    sample, frame = first, 0
    while frame < scene.frame_count:
        while frame < scene.frame_count and scene.timestamps_ms[frame] < sample:
            frame += 1
        if frame >= scene.frame_count:
            break
        t = scene.timestamps_ms[frame]
        for face in scene.faces(frame):
            box = face.box
            if face.visible.sum() < min_visible * box.width * box.height:
                continue
            bounding = {
                "Width": box.width / scene.width,
                "Height": box.height / scene.height,
                "Left": box.left / scene.width,
                "Top": box.top / scene.height,
            }
            entries.append({"Timestamp": round(t - first), "Face": {"BoundingBox": bounding, "Confidence": 99.9}})
        sample += interval_ms
    return entries


def panning_photographs(width: int, height: int, speed_px_per_s: float = 60.0) -> Callable[[float], np.ndarray]:
    """A background with a photograph's detail that pans like a moving camera: scikit-image's
    coffee, rocket and chelsea photographs side by side (no faces), scaled to the frame's height,
    sliding left at ``speed_px_per_s``."""
    from PIL import Image
    from skimage import data  # test and benchmark dependency only

    strips = []
    for photo in (data.coffee(), data.rocket(), data.chelsea()):
        scale = height / photo.shape[0]
        size = (max(1, round(photo.shape[1] * scale)), height)
        strips.append(np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BILINEAR)))
    strip = np.concatenate(strips, axis=1)
    while strip.shape[1] < 2 * width:
        strip = np.concatenate([strip, strip], axis=1)
    span = strip.shape[1] - width

    def at(t: float) -> np.ndarray:
        offset = round(t / 1000 * speed_px_per_s) % span
        return strip[:, offset : offset + width]

    return at
