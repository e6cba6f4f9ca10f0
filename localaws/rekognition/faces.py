"""Shaping a detected face into Rekognition's ``FaceDetail``.

Coordinates become ratios of the frame. Pose is a 3D face fitted with OpenCV's ``solvePnP`` to a
landmark model's points, one of ``vision/landmark_models.py``'s (``serve --landmarks``; their measured
errors are in docs/local-endpoint.md): ``dlib68``, the default, a generic face fitted to dlib's 68
landmarks (``vision/landmarks.py``; the model is licensed for research only), or ``mesh``, MediaPipe's
canonical face fitted to its face mesh's 468 points (``vision/face_mesh.py``, ``vision/mesh_landmarks.py``;
Apache-2.0). Either way Roll is positive when eyeRight is lower in the image, Yaw positive when the
nose points to the right of the image, Pitch positive when the face looks up.

``five_point_pose`` is the earlier estimate from the five landmarks alone, kept for comparison
(bench/emulator_truth.py): it read -26 degrees of Pitch for the astronaut smiling at the camera, and
a median of -12 on the evaluation set's dev faces. It works so:
- Roll: the angle of the line from eyeLeft to eyeRight, in degrees; positive when eyeRight is lower
  in the image (the head tilts clockwise as seen).
- Yaw: from how far the nose sits beside the eyes' midpoint, measured along the eye line, for a head
  whose nose tip stands ``NOSE_DEPTH`` half inter-ocular distances in front of the eyes; positive when
  the nose is right of the midpoint in the image.
- Pitch: from where the nose sits between the eye line and the mouth line, against the frontal
  ratio of the standard five-point face template (ArcFace's); positive when the face looks up.

Quality: Brightness is the mean luma of the face box (0-100); Sharpness is the variance of the
Laplacian of the face scaled to 64x64, mapped onto 0-100.

With ``FaceAttributes=ALL``, AgeRange and Gender come from a bundled model (``attributes.py``);
EyesOpen, MouthOpen and Smile from the same landmark model's points (with ``mesh``, the eyes' lids
placed by MediaPipe's eye model); Emotions from a bundled expression model (``emotions.py``, loaded by
the first ``ALL`` job, once per process); the attributes no bundled model can tell
(``NO_MODEL_BOOLEANS``) are returned in the service's shape with ``Confidence`` 0, documented as
unknown.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from ..vision import emotions
from ..vision.attributes import AttributeEstimator
from ..vision.face import DetectedFace
from ..vision.landmark_models import DEFAULT_LANDMARKS, landmark_model

LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")
NOSE_DEPTH = 0.7  # nose-tip protrusion, in half inter-ocular distances
FRONTAL_NOSE_RATIO = 0.495  # (nose - eyes) / (mouth - eyes), vertically, in ArcFace's template
NOSE_DEPTH_OVER_MOUTH = 0.5  # nose-tip protrusion over the eye-to-mouth distance
SHARPNESS_SCALE = 300.0  # Laplacian variance that maps to about 63 (1 - 1/e)

NO_MODEL_BOOLEANS = ("Eyeglasses", "Sunglasses", "Beard", "Mustache")


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


def five_point_pose(landmarks: tuple[tuple[float, float], ...]) -> dict[str, float]:
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = landmarks
    roll = math.degrees(math.atan2(ry - ly, rx - lx))
    # Undo the roll around the eyes' midpoint, so the eye line is horizontal.
    cx, cy = (lx + rx) / 2, (ly + ry) / 2
    cos_r, sin_r = math.cos(math.radians(-roll)), math.sin(math.radians(-roll))

    def unrolled(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - cx, y - cy
        return dx * cos_r - dy * sin_r, dx * sin_r + dy * cos_r

    eye_distance = math.hypot(rx - lx, ry - ly) or 1.0
    nose_x, nose_y = unrolled(nx, ny)
    mouth_y = (unrolled(mlx, mly)[1] + unrolled(mrx, mry)[1]) / 2
    yaw = math.degrees(math.atan2(nose_x / eye_distance * 2, NOSE_DEPTH))
    nose_ratio = nose_y / mouth_y if mouth_y > 0 else FRONTAL_NOSE_RATIO
    pitch = math.degrees(math.atan((FRONTAL_NOSE_RATIO - nose_ratio) / NOSE_DEPTH_OVER_MOUTH))
    return {"Roll": round(roll, 3), "Yaw": round(yaw, 3), "Pitch": round(pitch, 3)}


def quality(rgb: np.ndarray, face: DetectedFace) -> dict[str, float]:
    height, width = rgb.shape[:2]
    x0, y0 = max(0, int(face.left)), max(0, int(face.top))
    x1, y1 = min(width, int(face.left + face.width)), min(height, int(face.top + face.height))
    if x1 <= x0 or y1 <= y0:
        return {"Brightness": 0.0, "Sharpness": 0.0}
    luma = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    brightness = float(luma.mean()) / 255 * 100
    laplacian_variance = float(cv2.Laplacian(cv2.resize(luma, (64, 64)), cv2.CV_64F).var())
    sharpness = 100 * (1 - math.exp(-laplacian_variance / SHARPNESS_SCALE))
    return {"Brightness": round(brightness, 3), "Sharpness": round(sharpness, 3)}


def _unknown_attributes() -> dict[str, Any]:
    return {name: {"Value": False, "Confidence": 0.0} for name in NO_MODEL_BOOLEANS}


def face_detail(
    rgb: np.ndarray,
    face: DetectedFace,
    attributes: str = "DEFAULT",
    estimator: AttributeEstimator | None = None,
    landmarks: str = DEFAULT_LANDMARKS,
) -> dict[str, Any]:
    """The FaceDetail for one face in one frame; ``estimator`` is needed for ``ALL``; ``landmarks``:
    one of ``landmark_models.LANDMARK_MODELS``."""
    height, width = rgb.shape[:2]
    model = landmark_model(landmarks)
    points = model.points(rgb, face)
    left, top = _clip01(face.left / width), _clip01(face.top / height)
    detail: dict[str, Any] = {
        "BoundingBox": {
            "Width": _clip01((face.left + face.width) / width) - left,
            "Height": _clip01((face.top + face.height) / height) - top,
            "Left": left,
            "Top": top,
        },
        "Landmarks": [
            {"Type": kind, "X": x / width, "Y": y / height}
            for kind, (x, y) in zip(LANDMARK_TYPES, face.landmarks, strict=True)
        ],
        "Pose": model.pose(points, width, height),
        "Quality": quality(rgb, face),
        "Confidence": round(face.confidence * 100, 4),
    }
    if attributes == "ALL":
        if estimator is None:
            raise ValueError("FaceAttributes ALL needs an attribute estimator")
        detail.update(estimator.estimate(rgb, face))
        detail.update(model.expressions(rgb, points))
        detail.update(_unknown_attributes())
        detail["Emotions"] = emotions.emotions(rgb, face)
    return detail
