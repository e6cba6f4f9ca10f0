"""The emulator's decoded frames: H.264's usual 4:2:0 leaves the decoding thread as planes and becomes
RGB on a detecting thread, as libswscale would make it; other pixel formats and odd sizes fall back to
libswscale's RGB."""

from __future__ import annotations

import av
import numpy as np
import pytest

from localaws.vision.frames import decoded_frame

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
