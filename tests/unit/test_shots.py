"""The cut detector on synthetic frame sequences: a hard cut, a fade, a dissolve and a camera pan."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from skimage import data

from launcher.people.shots import CutDetectionError, CutSettings, detect_cuts, find_cuts, scores

FPS = 25
STEP = 40  # ms per frame at 25 fps
SIZE = (64, 36)


def small(picture: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(picture).resize(SIZE, Image.Resampling.BILINEAR))


def still(picture: np.ndarray, frames: int, noise: float = 2.0, seed: int = 0) -> list[np.ndarray]:
    """A shot of a still picture with a little sensor noise in every frame."""
    rng = np.random.default_rng(seed)
    base = small(picture).astype(np.float32)
    return [np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8) for _ in range(frames)]


def cuts_of(frames: list[np.ndarray]) -> list[int]:
    times, values = scores((index * STEP, frame) for index, frame in enumerate(frames))
    return find_cuts(times, values, CutSettings())


def test_a_hard_cut_is_found_at_the_first_frame_of_the_new_shot() -> None:
    frames = still(data.astronaut(), 50) + still(data.coffee(), 50, seed=1)
    assert cuts_of(frames) == [50 * STEP]


def test_two_cuts_between_three_shots() -> None:
    frames = still(data.astronaut(), 40) + still(data.coffee(), 40, seed=1) + still(data.chelsea(), 40, seed=2)
    assert cuts_of(frames) == [40 * STEP, 80 * STEP]


def test_a_still_shot_has_no_cut() -> None:
    assert cuts_of(still(data.astronaut(), 100, noise=4.0)) == []


def test_a_fade_to_black_and_back_is_not_a_cut() -> None:
    picture = small(data.astronaut()).astype(np.float32)
    levels = [1.0] * 30 + [1 - i / 25 for i in range(26)] + [i / 25 for i in range(26)] + [1.0] * 30
    frames = [(picture * level).astype(np.uint8) for level in levels]
    assert cuts_of(frames) == []


def test_a_dissolve_is_not_a_cut() -> None:
    a, b = small(data.astronaut()).astype(np.float32), small(data.coffee()).astype(np.float32)
    shares = [0.0] * 30 + [i / 30 for i in range(31)] + [1.0] * 30
    frames = [(a * (1 - share) + b * share).astype(np.uint8) for share in shares]
    assert cuts_of(frames) == []


def test_a_camera_pan_is_not_a_cut() -> None:
    """A 16:9 window sliding across a large photograph, 6 pixels a frame, starting and stopping."""
    photo = np.asarray(Image.fromarray(data.astronaut()).resize((1024, 1024)))
    window_width, window_height = 640, 360
    offsets = [0] * 25 + [6 * i for i in range(60)] + [354] * 25
    frames = [small(photo[200 : 200 + window_height, x : x + window_width]) for x in offsets]
    values = scores((index * STEP, frame) for index, frame in enumerate(frames))[1]
    assert max(values) > 0.02  # the pan does change the pictures
    assert cuts_of(frames) == []


def test_a_fast_pan_with_a_cut_in_it_finds_the_cut() -> None:
    photo = np.asarray(Image.fromarray(data.astronaut()).resize((1024, 1024)))
    panning = [small(photo[200:560, 8 * i : 8 * i + 640]) for i in range(40)]
    assert cuts_of(panning + still(data.coffee(), 40)) == [40 * STEP]


def write_video(path: Path, frames: list[np.ndarray], width: int = 320, height: int = 180) -> None:
    with av.open(str(path), mode="w") as output:
        stream = output.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in frames:
            picture = np.asarray(Image.fromarray(frame).resize((width, height)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)


def test_cuts_of_an_encoded_video_from_a_file_and_a_file_object(tmp_path: Path) -> None:
    photos = [data.astronaut(), data.coffee(), data.chelsea()]
    frames = [photo for photo in photos for _ in range(FPS)]  # three 1 s shots
    path = tmp_path / "slideshow.mp4"
    write_video(path, frames)
    assert detect_cuts(path) == [1000, 2000]
    with path.open("rb") as stream:
        assert detect_cuts(stream) == [1000, 2000]


def test_a_file_that_is_no_video_raises_one_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a-video.mp4"
    path.write_bytes(b"this is not a video" * 100)
    with pytest.raises(CutDetectionError):
        detect_cuts(path)


def test_a_flash_is_at_most_one_cut() -> None:
    """One white frame in a still shot: two changes a frame apart, reported once at most."""
    frames = still(data.astronaut(), 40)
    frames[20] = np.full_like(frames[20], 255)
    assert len(cuts_of(frames)) <= 1


def test_motion_in_every_frame_raises_the_bar_for_a_cut() -> None:
    """Busy frames (noise as strong as a small cut) next to a change of the same size: not a cut."""
    busy = still(data.astronaut(), 60, noise=90.0)
    times, values = scores((index * STEP, frame) for index, frame in enumerate(busy))
    assert min(values[1:]) > 0.1  # every frame changes more than the floor ...
    assert find_cuts(times, values) == []  # ... and none stands out
