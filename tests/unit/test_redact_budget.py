"""The redactor function's estimate (launcher.redact.budget): the cost per frame against the
benchmark's figures, Lambda's vCPUs, and where the line falls in 15 minutes."""

import pytest

from launcher.redact import budget
from launcher.redact.budget import VideoSize, fit
from synthetic import make_video

GB = 10**9
LAMBDA_10GB = budget.lambda_vcpus(10240)


@pytest.mark.parametrize(
    "width, height, measured_ms",
    [(640, 360, 2.8), (1280, 720, 9.2), (1920, 1080, 18.4)],  # bench/README.md#redaction, CPU ms per frame
)
def test_the_redaction_cost_is_the_benchmarks(width, height, measured_ms):
    assert budget.cpu_ms_per_frame(width, height, every=0) == pytest.approx(measured_ms, rel=0.1)


def test_the_audit_adds_the_detectors_cost_per_audited_frame():
    # libfacedetection: 29 ms at 640x360, 73 ms at 1280x720 (the same 540 px copy above that)
    alone = budget.cpu_ms_per_frame(1280, 720, every=0)
    assert budget.cpu_ms_per_frame(1280, 720, every=1) - alone == pytest.approx(73 + 1.8, rel=0.05)
    assert budget.cpu_ms_per_frame(1920, 1080, every=2) - budget.cpu_ms_per_frame(1920, 1080, every=0) == (
        pytest.approx(73 / 2 + 4.1, rel=0.05)
    )
    assert budget.cpu_ms_per_frame(640, 360, every=1) - budget.cpu_ms_per_frame(640, 360, every=0) == (
        pytest.approx(32 + 0.5, rel=0.05)
    )


def test_lambda_gives_cpu_by_memory():
    assert budget.lambda_vcpus(1769) == 1 and budget.lambda_vcpus(10240) == pytest.approx(5.79, abs=0.01)
    assert budget.busy_cores(1.0) == 1.0 and budget.busy_cores(6) == 4


def minutes(width, height, every=0, seconds=900.0):
    """The longest 30 fps video that fits a fresh 10 GB function."""
    return fit(VideoSize(1, width, height, 1 / 30), every, LAMBDA_10GB, seconds, 10 * GB).max_minutes_at_30fps


def test_where_the_line_is_in_fifteen_minutes():
    """The figures docs/redaction.md gives: what fits 900 s at 10 GB, audit off (the layer's case)
    and on, with the safety factor and the reserve."""
    assert minutes(1920, 1080) == pytest.approx(63, abs=1)
    assert minutes(1280, 720) == pytest.approx(132, abs=1)
    assert minutes(640, 360) == pytest.approx(394, abs=1)
    assert minutes(3840, 2160) == pytest.approx(16, abs=1)
    assert minutes(1920, 1080, every=2) == pytest.approx(20, abs=1)
    assert minutes(1280, 720, every=1) == pytest.approx(14, abs=1)


def test_a_video_past_the_line_is_refused_with_the_line_in_one_line():
    two_hours = VideoSize(30 * 7200, 1920, 1080, 7200.0)
    verdict = fit(two_hours, 0, LAMBDA_10GB, 900, 10 * GB)
    assert not verdict.fits and verdict.max_frames < two_hours.frames
    text = verdict.describe()
    assert "\n" not in text and "1920x1080, 216000 frames (120.0 min)" in text
    assert f"up to {verdict.max_frames} frames" in text
    ten_minutes = VideoSize(30 * 600, 1920, 1080, 600.0)
    assert fit(ten_minutes, 0, LAMBDA_10GB, 900, 10 * GB).fits
    assert not fit(ten_minutes, 0, LAMBDA_10GB, 60, 10 * GB).fits  # the same video with a minute left


def test_a_copy_that_may_not_fit_tmp_is_refused():
    size = VideoSize(30 * 600, 1920, 1080, 600.0)
    verdict = fit(size, 0, LAMBDA_10GB, 900, 512 * 10**6)  # Lambda's default /tmp
    assert not verdict.fits and "of /tmp" in verdict.describe()


def test_the_reserve_keeps_a_tenth_for_the_upload():
    assert budget.reserve_seconds(900) == 90 and budget.reserve_seconds(3) == 1
    assert fit(VideoSize(0, 640, 360, 0), 0, 1, 900, GB).available_s == 810


def test_the_size_comes_from_the_header(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", seconds=0.5)
    size = budget.video_size(clip.path)
    assert (size.frames, size.width, size.height) == (clip.frame_count, 640, 360)
    assert size.duration_s == pytest.approx(0.5, abs=0.05)
