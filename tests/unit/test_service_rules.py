"""The service's rules on what a detector finds: the minimum face size, scaled with the frame, a
detector's second check, and no box straddling two faces."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace

import numpy as np
import pytest

from localaws.rekognition.models import detected_in_order, service_rules
from localaws.vision.detector import DETECTION_SHORT_SIDE, minimum_face_px
from localaws.vision.face import DetectedFace
from localaws.vision.frames import DecodedFrame, SampledFrame, downscaled
from localaws.vision.overlap import without_straddling
from synthetic import Box


def square(side: float, left: float = 10.0) -> DetectedFace:
    eyes = ((left + side * 0.3, 10 + side * 0.4), (left + side * 0.7, 10 + side * 0.4))
    mouth = ((left + side * 0.35, 10 + side * 0.8), (left + side * 0.65, 10 + side * 0.8))
    return DetectedFace(left, 10.0, side, side, 0.99, (*eyes, (left + side / 2, 10 + side * 0.6), *mouth))


class Fixed:
    def __init__(self, faces: list[DetectedFace]) -> None:
        self.faces = faces

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        return self.faces


def sample(width: int, height: int) -> SampledFrame:
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    return SampledFrame(0, rgb, downscaled(rgb, DETECTION_SHORT_SIDE))


@pytest.mark.parametrize(
    ("width", "height", "minimum"),
    [(1920, 1080, 40.0), (1080, 1920, 40.0), (1280, 720, 80 / 3), (640, 360, 40 / 3), (3840, 2160, 80.0)],
)
def test_the_minimum_face_scales_with_the_shorter_side(width, height, minimum):
    assert minimum_face_px(width, height) == pytest.approx(minimum)


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1280, 720), (640, 360)])
def test_faces_below_the_minimum_are_dropped_after_scaling_back(width, height):
    frame = sample(width, height)
    scale = frame.detection_scale
    minimum = minimum_face_px(width, height)
    just_below, at_minimum = square(minimum / scale * 0.99, left=10), square(minimum / scale, left=300)
    kept = service_rules(Fixed([just_below, at_minimum]), frame, [just_below, at_minimum])
    assert len(kept) == 1
    assert kept[0].width == pytest.approx(minimum) and kept[0].left == pytest.approx(300 * scale)


def test_a_face_must_be_wide_and_tall_enough():
    frame = sample(1920, 1080)
    narrow = DetectedFace(0, 0, 19.0, 60.0, 0.99, square(20).landmarks)
    assert service_rules(Fixed([narrow]), frame, [narrow]) == []


def test_a_detector_with_a_second_check_has_it_applied():
    class Doubting(Fixed):
        def confirm(self, rgb: np.ndarray, face: DetectedFace) -> bool:
            assert rgb.shape == (1080, 1920, 3), "the check sees the full-resolution frame"
            return face.left < 100

    frame = sample(1920, 1080)
    faces = [square(50, left=10), square(50, left=300)]
    kept = service_rules(Doubting(faces), frame, faces)
    assert [face.left for face in kept] == [20.0]


class Overlapping:
    """Takes ``frames_in_parallel`` frames at once and records how many it had at the same time.
    Each frame's face sits at its timestamp, so the order of the results shows. Having no
    ``warm_up``, it gets its first frame alone (``detected_in_order``), so that one waits for no partner."""

    def __init__(self, frames_in_parallel: int) -> None:
        self.frames_in_parallel = frames_in_parallel
        self.barrier = threading.Barrier(frames_in_parallel, timeout=5)
        self.lock = threading.Lock()
        self.running = self.most = self.calls = 0

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
            first = self.calls == 1
        try:
            with contextlib.suppress(threading.BrokenBarrierError):  # the last frames have no partner
                if not first:
                    self.barrier.wait(timeout=0.5)
            return [square(50, left=float(rgb[0, 0, 0]))]
        finally:
            with self.lock:
                self.running -= 1


def stamped(count: int) -> list[DecodedFrame]:
    return [
        DecodedFrame(index * 200, np.full((360, 640, 3), index, dtype=np.uint8), planar=False) for index in range(count)
    ]


def test_frames_are_detected_in_parallel_and_reported_in_order():
    detector = Overlapping(frames_in_parallel=2)
    found = list(detected_in_order(detector, stamped(8)))
    assert detector.most == 2, "two frames were in the detector at once"
    assert [sample.timestamp_ms for sample, _ in found] == [index * 200 for index in range(8)]
    assert [faces[0].left for _, faces in found] == [float(index) for index in range(8)]


def test_a_detector_without_frames_in_parallel_gets_one_frame_at_a_time():
    detector = Overlapping(frames_in_parallel=1)
    del detector.frames_in_parallel
    assert len(list(detected_in_order(detector, stamped(4)))) == 4
    assert detector.most == 1


def test_closing_early_stops_detecting():
    detector = Overlapping(frames_in_parallel=2)
    found = detected_in_order(detector, stamped(50))
    next(found)
    found.close()
    assert detector.calls <= 4, "only the frames already handed out were detected"


# -- boxes that straddle two faces ---------------------------------------------------------------


def box(left: float, top: float, width: float, height: float) -> DetectedFace:
    face = square(width, left)
    return replace(face, top=top, height=height)


def test_a_box_covering_most_of_two_faces_is_dropped_and_the_faces_kept():
    left_face, right_face = box(100, 100, 60, 70), box(165, 105, 60, 70)
    straddling = box(110, 90, 110, 90)  # covers most of both
    frame = sample(640, 360)
    kept = service_rules(Fixed([]), frame, [left_face, straddling, right_face])
    assert [face.left for face in kept] == [100, 165]


def test_a_box_covering_one_face_or_little_of_two_is_kept():
    left_face, right_face = box(100, 100, 60, 70), box(165, 105, 60, 70)
    one = box(95, 95, 70, 80)  # most of the left face only
    edges = box(140, 100, 50, 70)  # a little of each
    assert len(without_straddling([left_face, right_face, one])) == 3
    assert len(without_straddling([left_face, right_face, edges])) == 3


@pytest.fixture(scope="module")
def two_heads() -> tuple[np.ndarray, list[Box]]:
    """Two real heads side by side, touching (scikit-image's astronaut, and mirrored)."""
    from skimage import data

    from synthetic import ASTRONAUT_FACE, HEAD_CROP

    left, top, width, height = HEAD_CROP
    head = data.astronaut()[top : top + height, left : left + width]
    frame = np.full((360, 640, 3), 120, dtype=np.uint8)
    frame[60 : 60 + height, 100 : 100 + width] = head
    frame[60 : 60 + height, 100 + width : 100 + 2 * width] = head[:, ::-1]
    face_left, face_top, face_width, face_height = ASTRONAUT_FACE
    first = Box(100 + face_left - left, 60 + face_top - top, face_width, face_height)
    mirrored_left = 100 + width + (width - (face_left - left) - face_width)
    return frame, [first, Box(mirrored_left, first.top, face_width, face_height)]


def test_two_adjacent_real_faces_give_two_boxes(two_heads):
    from localaws.rekognition.models import reported_faces
    from localaws.vision.detector import RetinaFaceDetector

    frame, truth = two_heads
    faces = reported_faces(RetinaFaceDetector(), SampledFrame(0, frame, downscaled(frame, DETECTION_SHORT_SIDE)))
    found = sorted((Box(f.left, f.top, f.width, f.height) for f in faces), key=lambda b: b.left)
    assert len(found) == 2, found
    for box_, face in zip(found, truth, strict=True):
        assert box_.iou(face) >= 0.5
