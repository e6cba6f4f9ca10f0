"""The landmark models Pose, EyesOpen, MouthOpen and Smile can come from (``serve --landmarks``), by
name: everything the emulator and ``serve`` ask of one is here, so that another model is one more
entry of ``LANDMARK_MODELS`` (bench/emulator_truth.py's ``fit_faces`` adds, for its renders, where the
model's fit points lie on the canonical mesh).

``dlib68``, the default: dlib's 68 landmarks (``landmarks.py``; the model is licensed for research
only). ``mesh``: MediaPipe's face mesh and eye model (``face_mesh.py``, ``mesh_landmarks.py``;
Apache-2.0), not the default because its MouthOpen was clearly worse on the evaluation set's held-out
split (docs/local-endpoint.md, "The models' licences").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import face_mesh, landmarks, mesh_landmarks
from .face import DetectedFace


def _nothing_to_check() -> str | None:
    return None


def _nothing_to_load() -> None:
    return None


@dataclass(frozen=True)
class LandmarkModel:
    """One landmark model: its points of a face, what they measure, and whether it can run."""

    # For ``serve --help``: what the model is and its licence, after "come from: ".
    described: str
    # The model's points of one face of an RGB frame, in the frame's pixels.
    points: Callable[[np.ndarray, DetectedFace], np.ndarray]
    # Roll, Yaw and Pitch from the points in a (width, height) frame.
    pose: Callable[[np.ndarray, int, int], dict[str, float]]
    # EyesOpen, MouthOpen and Smile in the service's shape from the frame and the points (only
    # ``FaceAttributes=ALL`` asks).
    expressions: Callable[[np.ndarray, np.ndarray], dict[str, Any]]
    # Why the model cannot run, in one line, or None: ``serve``'s quick check at start (every face's
    # Pose needs the model, so it refuses to start rather than fail every job).
    problem: Callable[[], str | None] = _nothing_to_check
    # Loads the model now, on the calling thread, after the detector's warm-up (``models.py``): a job
    # fails before its first frame when it cannot.
    load: Callable[[], None] = _nothing_to_load


# The first is the default. The functions are looked up when called (hence the lambdas), so that a
# test's patch of one applies.
LANDMARK_MODELS: dict[str, LandmarkModel] = {
    # dlib and its model come with the endpoint's requirements (requirements-local.txt): nothing to
    # check; the predictor is read by the first face that needs it (``landmarks._predictor``).
    "dlib68": LandmarkModel(
        described="dlib's 68 landmarks (licensed for research only)",
        points=lambda rgb, face: landmarks.landmarks68(rgb, face),
        pose=lambda points, width, height: landmarks.pose(points, width, height),
        expressions=lambda rgb, points: landmarks.expressions(points),
    ),
    # The eyes' lids are placed by the eye model (the mesh's own barely close on shut eyes). OpenVINO's
    # first inference must run alone (``RetinaFaceDetector.warm_up``): hence ``load`` after the
    # detector's warm-up, before any frame is detected in parallel (``MeshModelUnavailable`` if a
    # network cannot be loaded).
    "mesh": LandmarkModel(
        described="MediaPipe's face mesh (Apache-2.0)",
        points=lambda rgb, face: face_mesh.face_mesh(rgb, face),
        pose=lambda points, width, height: mesh_landmarks.pose(points, width, height),
        expressions=lambda rgb, points: mesh_landmarks.expressions(face_mesh.with_eyes(rgb, points)),
        problem=lambda: face_mesh.check_mesh_model(),
        load=lambda: face_mesh.shared_model().load(),
    ),
}
DEFAULT_LANDMARKS = next(iter(LANDMARK_MODELS))


def landmark_model(name: str) -> LandmarkModel:
    """The model called ``name``; ValueError naming the choices if there is none."""
    try:
        return LANDMARK_MODELS[name]
    except KeyError:
        raise ValueError(f"landmarks {name!r}: expected one of {', '.join(LANDMARK_MODELS)}") from None


def described_choices() -> str:
    """The models' descriptions for ``serve --help``, joined as a sentence ("a, b or c")."""
    described = [model.described for model in LANDMARK_MODELS.values()]
    return " or ".join(filter(None, [", ".join(described[:-1]), described[-1]]))
