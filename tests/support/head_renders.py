"""Scikit-image's astronaut painted on MediaPipe's canonical mesh and rendered turned by known angles
(synthetic/head_render.py), read by the emulator's steps: the render tests of each landmark model
(tests/unit/test_head_render.py, test_mesh_landmarks.py) share one rendering so they judge alike."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pytest
from skimage import data

from localaws.vision.detector import RetinaFaceDetector
from localaws.vision.landmark_models import LandmarkModel
from localaws.vision.landmarks import landmarks68
from synthetic.head_render import View, render, texture_from_photo

SIZE = (1280, 720)
# (roll, yaw, pitch): each axis alone and all three at once, either way, within |Yaw| 30 (the range
# whose error is documented: docs/local-endpoint.md, "Pose").
TURNS = [(0, 25, -15), (-20, 0, 0), (15, -20, 10)]

Measure = Callable[[float, float, float], dict[str, float]]


def astronaut_renders(model: LandmarkModel) -> Measure:
    """``measure(roll, yaw, pitch)``: the Pose the emulator's steps read on the astronaut rendered
    turned so: RetinaFace, then ``model``'s points of the face found, then its fit. The photograph is
    placed on the mesh by dlib's 68 landmarks, whichever model is measured (the texture is the same
    for all)."""
    detector = RetinaFaceDetector()
    photo = np.ascontiguousarray(data.astronaut())
    (face,) = detector.detect(photo)
    texture = texture_from_photo(photo, landmarks68(photo, face))

    @functools.cache
    def measure(roll: float, yaw: float, pitch: float) -> dict[str, float]:
        image = render(texture, View(roll, yaw, pitch, SIZE, 180, (0.45, 0.55)))
        (found,) = detector.detect(image)
        return model.pose(model.points(image, found), *SIZE)

    return measure


def assert_reads_the_turn(measure: Measure, roll: float, yaw: float, pitch: float, tolerance: dict[str, float]) -> None:
    """Each angle read within ``tolerance`` (degrees, per axis) of the turn."""
    measured = measure(roll, yaw, pitch)
    truth = {"Roll": roll, "Yaw": yaw, "Pitch": pitch}
    for axis, allowed in tolerance.items():
        assert measured[axis] == pytest.approx(truth[axis], abs=allowed), (axis, measured)


def assert_moves_with_the_turn(measure: Measure, roll: float, yaw: float, pitch: float) -> None:
    """From the same face facing the camera, each angle moves with the turn by at least a quarter of
    it: a flipped sign moves it the other way."""
    facing = measure(0, 0, 0)
    measured = measure(roll, yaw, pitch)
    for axis, turn in {"Roll": roll, "Yaw": yaw, "Pitch": pitch}.items():
        if turn:
            assert (measured[axis] - facing[axis]) / turn > 0.25, (axis, facing, measured)
