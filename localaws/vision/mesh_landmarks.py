"""What MediaPipe's face mesh (``face_mesh.py``: 468 points) measures of a detected face: head pose
(the canonical face fitted with OpenCV's ``solvePnP``) and whether eyes and mouth are open and the
mouth smiles. ``serve --landmarks mesh`` uses it instead of dlib's 68 points (``landmarks.py``, the
default, whose model is licensed for research only); docs/local-endpoint.md compares the two.

Point numbers are the mesh's (0-based; MediaPipe's canonical face model has the same vertices):
left and right as seen in the image. The eye on the left of the image has its outer corner at 33 and
its inner at 133, the other its inner at 362 and its outer at 263; the nose tip is 4; the mouth's
outer corners are 61 and 291, its inner corners 78 and 308, the inner lips' middles 13 (upper) and
14 (lower).

Pose, in the service's terms and this project's signs (``faces.py``): Roll positive when the eye on
the right of the image is lower, Yaw positive when the nose points to the right of the image, Pitch
positive when the face looks up. Measured errors are in bench/README.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import landmarks

# MediaPipe's canonical face (synthetic/data/canonical_face_model.obj, Apache-2.0, Copyright 2020 The
# MediaPipe Authors) at the mesh's points the face's expression does not move: eye corners, the
# nose's ridge, tip and wings, the forehead, the face's outline at the temples. Mouth, cheeks and
# chin, which smiles and open mouths move, are left out. In camera-aligned axes: x to the right of
# the image, y down, z away from the camera; millimetres, the nose tip at the origin.
MODEL_POINTS = {
    33: (-44.5, -31.3, 44.1),  # outer corner of the eye on the left of the image
    133: (-18.6, -30.5, 38.3),  # its inner corner
    362: (18.6, -30.5, 38.3),  # inner corner of the other eye
    263: (44.5, -31.3, 44.1),  # its outer corner
    168: (0.0, -37.3, 23.5),  # the nose's ridge, from its root
    6: (0.0, -29.4, 18.0),
    197: (0.0, -21.9, 12.7),
    195: (0.0, -15.2, 8.1),
    5: (0.0, -8.3, 3.4),
    4: (0.0, 0.0, 0.0),  # nose tip
    98: (-14.1, 12.5, 23.5),  # the nose's wings
    327: (14.1, 12.5, 23.5),
    2: (0.0, 16.3, 15.3),  # under the nose
    10: (0.0, -87.2, 31.1),  # the forehead
    151: (0.0, -70.1, 25.6),
    9: (0.0, -53.5, 22.0),
    108: (-16.2, -70.6, 26.7),
    337: (16.2, -70.6, 26.7),
    127: (-77.4, -28.3, 95.9),  # the face's outline at the temples
    356: (77.4, -28.3, 95.9),
    162: (-75.6, -45.7, 85.8),
    389: (75.6, -45.7, 85.8),
}
MODEL_INDICES = tuple(MODEL_POINTS)
# The canonical face's straight ahead is not a real face's looking into a camera at eye level: fitted
# as it is, the evaluation set's dev split (press photographs, taken at eye level) read a median
# Pitch of -6.2. The face is turned by this (degrees) about the x axis, so that they read 0, as the
# 68-point fit's generic face was tuned to (``landmarks.py``); the mesh itself, facing the camera,
# then reads a Pitch of +6.2 (bench/emulator_truth.py's mesh_zero).
CANONICAL_TILT = 6.2


def _tilted(points: np.ndarray, degrees: float) -> np.ndarray:
    angle = math.radians(degrees)
    about_x = np.array([[1, 0, 0], [0, math.cos(angle), -math.sin(angle)], [0, math.sin(angle), math.cos(angle)]])
    return points @ about_x.T


MODEL = _tilted(np.array([MODEL_POINTS[i] for i in MODEL_INDICES], dtype=np.float64), CANONICAL_TILT)

# Each eye's six points for the eye aspect ratio, in ``ExpressionSpec``'s order.
EYE_POINTS = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))
# The inner lips' facing pairs (upper, lower), and the inner mouth's corners.
LIP_PAIRS = ((82, 87), (13, 14), (312, 317))
MOUTH_INNER_CORNERS = (78, 308)
MOUTH_CORNERS = (61, 291)

# Thresholds, fitted on the evaluation set's dev split (faces labelled by eye, bench/truth_attributes.json);
# accuracy on its held-out split is in docs/local-endpoint.md. The slopes shape the confidences: each
# is the logistic slope most likely on the dev split's labels (for the eyes, whose dev faces are all
# open, it only says how far open eyes read above the threshold).
# The eyes: every open eye of the dev split reads 0.2 or more but one (0.10, a squint); the threshold
# is midway. The dev split has no shut eye: the eye model's lids (``face_mesh.with_eyes``) close on
# them, where the face mesh's own barely move (they read 0.2-0.33 on shut eyes).
EYE_OPEN_RATIO = 0.15  # eye aspect ratio of the lids the eye model places
EYE_SLOPE = 0.022
# The mouth: the dev split's labels overlap from 0.03 to 0.18; 35 of its 43 faces are right at 0.041 and
# at 0.050, 34 between: the threshold is between.
MOUTH_OPEN_RATIO = 0.045  # inner-lip gap over the inner mouth's width
MOUTH_SLOPE = 0.058
SMILE_RATIO = 0.968  # mouth width (corner to corner) over the distance between the eyes' centres
SMILE_SLOPE = 0.05


EXPRESSIONS = landmarks.ExpressionSpec(
    eyes=EYE_POINTS,
    lip_pairs=LIP_PAIRS,
    mouth_inner_corners=MOUTH_INNER_CORNERS,
    mouth_corners=MOUTH_CORNERS,
    eyes_open=(EYE_OPEN_RATIO, EYE_SLOPE),
    mouth_open=(MOUTH_OPEN_RATIO, MOUTH_SLOPE),
    smile=(SMILE_RATIO, SMILE_SLOPE),
)


def pose(points: np.ndarray, width: int, height: int) -> dict[str, float]:
    """Roll, Yaw and Pitch from the face mesh's points (468 x 2 or 3, the frame's pixels)."""
    return landmarks.pose_from_points(np.asarray(points)[list(MODEL_INDICES), :2], width, height, MODEL)


def expressions(points: np.ndarray) -> dict[str, Any]:
    """EyesOpen, MouthOpen and Smile in the service's shape, from the face mesh's points with the
    eyes' lids placed by the eye model (``face_mesh.with_eyes``)."""
    return landmarks.expressions(points, EXPRESSIONS)
