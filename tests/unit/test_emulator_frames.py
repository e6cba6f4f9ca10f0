"""The emulator's sampling and decoded frames: which frames are sampled and their timestamps (the
service's cadence); H.264's usual 4:2:0 leaves the decoding thread as planes and becomes
RGB on a detecting thread, as libswscale would make it; other pixel formats and odd sizes fall back to
libswscale's RGB."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from localaws.vision.frames import decode_samples, decoded_frame

RNG = np.random.default_rng(7)


def picture(width: int, height: int) -> np.ndarray:
    """Smooth colour gradients with noise: what a camera gives, not a test card."""
    rows, columns = np.mgrid[0:height, 0:width]
    base = np.stack([columns * 255 / width, rows * 255 / height, (rows + columns) * 127 / (width + height)], axis=-1)
    return np.clip(base + RNG.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def as_decoded(rgb: np.ndarray, pixel_format: str) -> av.VideoFrame:
    """A frame in ``pixel_format``, as a decoder would hand it over."""
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pixel_format)


def test_usual_h264_frames_leave_the_decoder_as_planes_and_become_the_same_rgb():
    frame = as_decoded(picture(1920, 1080), "yuv420p")
    decoded = decoded_frame(frame, 200)
    assert decoded.planar and decoded.pixels.shape == (1620, 1920)
    sample = decoded.sampled(540)
    reference = frame.to_ndarray(format="rgb24").astype(int)  # libswscale's conversion
    assert sample.timestamp_ms == 200
    assert sample.rgb.shape == (1080, 1920, 3) and sample.detection_rgb.shape == (540, 960, 3)
    difference = np.abs(sample.rgb.astype(int) - reference)
    assert difference.mean() < 1.5 and difference.max() <= 8


@pytest.mark.parametrize(
    ("width", "height", "pixel_format"),
    [(641, 361, "yuv420p"), (640, 360, "yuvj420p"), (640, 360, "yuv444p")],
    ids=["odd size", "full range", "4:4:4"],
)
def test_other_frames_leave_the_decoder_as_libswscale_rgb(width, height, pixel_format):
    frame = as_decoded(picture(width, height), pixel_format)
    decoded = decoded_frame(frame, 0)
    assert not decoded.planar
    sample = decoded.sampled(540)
    np.testing.assert_array_equal(sample.rgb, frame.to_ndarray(format="rgb24"))
    assert sample.detection_rgb is sample.rgb, "a frame under 540 px is detected as it is"


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080), (3840, 2160), (1080, 1920)])
def test_the_detection_copy_has_a_shorter_side_of_540(width, height):
    sample = decoded_frame(as_decoded(picture(width, height), "yuv420p"), 0).sampled(540)
    assert min(sample.detection_rgb.shape[:2]) == 540
    assert sample.detection_scale == pytest.approx(min(width, height) / 540)


# -- the cadence: which frames are sampled, and their timestamps ------------------------------------


def clip(path, rate, frames: int, b_frames: bool = True):
    """A small H.264 clip at ``rate`` frames per second (a Fraction for NTSC rates)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        if not b_frames:
            stream.options = {"bf": "0"}
        for index in range(frames):
            rgb = np.full((48, 64, 3), index * 4 % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("b_frames", [True, False])
def test_at_29_97_fps_samples_fall_where_aws_published_them(tmp_path, b_frames):
    """AWS's get-face-detection example: faces at 467 and 967 ms in a 29.97 fps video (frames 14 and
    29, on screen at 500 and 1000 ms, their starts rounded down)."""
    path = clip(tmp_path / "ntsc.mp4", Fraction(30000, 1001), 100, b_frames)
    timestamps = [frame.timestamp_ms for frame in decode_samples(path, 500)]
    assert timestamps == [0, 467, 967, 1468, 1968, 2469, 2969]


def test_each_sample_is_the_frame_on_screen_at_its_instant(tmp_path):
    path = clip(tmp_path / "pal.mp4", 25, 60)
    samples = list(decode_samples(path, 500))
    assert [frame.timestamp_ms for frame in samples] == [0, 480, 1000, 1480, 2000]
    # each frame's grey level is four times its number: frame 12 starts at 480 ms, frame 25 at 1000 ms
    greys = [int(np.median(cv2.cvtColor(f.pixels, cv2.COLOR_YUV2RGB_I420))) for f in samples]
    assert greys == pytest.approx([0, 48, 100, 148, 200], abs=3)


def test_a_frame_on_screen_at_several_instants_is_sampled_once(tmp_path):
    path = clip(tmp_path / "slow.mp4", 1, 4)
    assert [frame.timestamp_ms for frame in decode_samples(path, 500)] == [0, 1000, 2000, 3000]


def test_a_custom_interval_places_samples_the_same_way(tmp_path):
    path = clip(tmp_path / "ntsc.mp4", Fraction(30000, 1001), 40)
    assert [frame.timestamp_ms for frame in decode_samples(path, 200)] == [0, 166, 367, 567, 767, 967, 1167]
