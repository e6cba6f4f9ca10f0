"""Shaping detections into Rekognition's FaceDetail: geometry, pose, quality."""

import math

import numpy as np
import pytest

from localaws.rekognition.faces import FRONTAL_NOSE_RATIO, face_detail
from localaws.rekognition.faces import five_point_pose as pose
from localaws.vision.attributes import age_range
from localaws.vision.face import DetectedFace

# A frontal face laid out like the five-point template: eyes level, nose centred.
FRONTAL = ((40.0, 50.0), (80.0, 50.0), (60.0, 50 + 40 * FRONTAL_NOSE_RATIO), (45.0, 90.0), (75.0, 90.0))


def rotated(points, degrees, centre=(60.0, 60.0)):
    angle = math.radians(degrees)
    cx, cy = centre
    return tuple(
        (
            cx + (x - cx) * math.cos(angle) - (y - cy) * math.sin(angle),
            cy + (x - cx) * math.sin(angle) + (y - cy) * math.cos(angle),
        )
        for x, y in points
    )


def test_frontal_face_has_no_rotation():
    assert pose(FRONTAL) == pytest.approx({"Roll": 0, "Yaw": 0, "Pitch": 0}, abs=1e-6)


@pytest.mark.parametrize("degrees", [-30, -5, 12, 45])
def test_roll_follows_the_eye_line_and_leaves_yaw_and_pitch(degrees):
    result = pose(rotated(FRONTAL, degrees))
    assert result["Roll"] == pytest.approx(degrees, abs=0.01)
    assert result["Yaw"] == pytest.approx(0, abs=0.01)
    assert result["Pitch"] == pytest.approx(0, abs=0.01)


def test_yaw_and_pitch_signs():
    nose_right = list(FRONTAL)
    nose_right[2] = (FRONTAL[2][0] + 10, FRONTAL[2][1])
    assert pose(tuple(nose_right))["Yaw"] > 10
    nose_up = list(FRONTAL)
    nose_up[2] = (FRONTAL[2][0], FRONTAL[2][1] - 8)
    assert pose(tuple(nose_up))["Pitch"] > 10


def test_face_detail_uses_ratios_of_the_frame():
    frame = np.full((200, 400, 3), 128, dtype=np.uint8)
    face = DetectedFace(left=100, top=50, width=80, height=100, confidence=0.98, landmarks=FRONTAL)
    detail = face_detail(frame, face)
    assert detail["BoundingBox"] == pytest.approx({"Width": 0.2, "Height": 0.5, "Left": 0.25, "Top": 0.25})
    assert detail["Confidence"] == pytest.approx(98)
    assert detail["Landmarks"][0] == {"Type": "eyeLeft", "X": 0.1, "Y": 0.25}
    assert detail["Quality"]["Brightness"] == pytest.approx(128 / 255 * 100, abs=0.5)
    assert detail["Quality"]["Sharpness"] == pytest.approx(0, abs=1e-6), "a flat patch has no edges"
    assert "Smile" not in detail


def test_boxes_reaching_past_the_frame_are_clipped():
    frame = np.zeros((100, 100, 3), dtype=np.uint8)
    face = DetectedFace(left=-10, top=80, width=30, height=40, confidence=0.9, landmarks=FRONTAL)
    box = face_detail(frame, face)["BoundingBox"]
    assert box == pytest.approx({"Width": 0.2, "Height": 0.2, "Left": 0.0, "Top": 0.8})


class FixedEstimator:
    def estimate(self, rgb, face):
        return {"AgeRange": {"Low": 30, "High": 38}, "Gender": {"Value": "Male", "Confidence": 97.0}}


def test_all_attributes_come_from_the_estimator_or_say_they_are_unknown():
    frame = np.zeros((100, 100, 3), dtype=np.uint8)
    face = DetectedFace(left=10, top=10, width=40, height=50, confidence=0.9, landmarks=FRONTAL)
    detail = face_detail(frame, face, "ALL", FixedEstimator())
    assert detail["AgeRange"] == {"Low": 30, "High": 38}
    assert detail["Gender"] == {"Value": "Male", "Confidence": 97.0}
    assert detail["Eyeglasses"] == {"Value": False, "Confidence": 0.0}
    assert set(detail["Smile"]) == {"Value", "Confidence"} and 50 <= detail["Smile"]["Confidence"] <= 100
    assert {emotion["Type"] for emotion in detail["Emotions"]} == {
        "HAPPY",
        "SAD",
        "ANGRY",
        "CONFUSED",
        "DISGUSTED",
        "SURPRISED",
        "CALM",
        "FEAR",
    }, "Emotions come from their model (tests/unit/test_emotions.py)"
    with pytest.raises(ValueError, match="estimator"):
        face_detail(frame, face, "ALL")


@pytest.mark.parametrize("age, confidence, expected", [(33, 23, (25, 41)), (40, 95, (37, 43)), (2, 10, (0, 11))])
def test_age_ranges_widen_as_confidence_falls(age, confidence, expected):
    assert age_range(age, confidence) == {"Low": expected[0], "High": expected[1]}
