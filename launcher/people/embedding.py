"""A face embedding (a biometric template): 128 numbers per face picture, close for pictures of the
same person and far apart for different people.

The model is dlib's ResNet face-recognition network (``dlib_face_recognition_resnet_model_v1``,
99.38% on the LFW verification benchmark as published by dlib's author), with dlib's 5-point
landmark model to align the face; both weight files ship inside the ``face-recognition-models`` wheel
(CC0) and run on ``dlib-bin``: nothing is downloaded at run time. The face is found from the box
Rekognition gave: the landmark model places its 5 points inside that box, the face is cut out
aligned (150 x 150 pixels) and the network computes the embedding. Euclidean distances under about
0.6 mean "same person" (dlib's own threshold).

Templates live only in memory: nothing here writes them anywhere.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "dlib ResNet face recognition v1 (face-recognition-models 0.3.0, CC0; 99.38% on LFW)"
DIMENSIONS = 128
MIN_FACE_PIXELS = 24  # a face box narrower than this in the frame gives no usable embedding


class EmbeddingUnavailable(Exception):
    """The embedding model could not be loaded; the message says why in one line."""


@dataclass(frozen=True)
class FaceBox:
    """A face's box as ratios of the frame (Rekognition's BoundingBox)."""

    left: float
    top: float
    width: float
    height: float


def _models_folder() -> Path:
    # Located without importing the package: its __init__ imports pkg_resources, which newer
    # setuptools no longer ship.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailable("the face-recognition-models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class FaceEmbedder:
    """Loads the models once; ``embed`` gives the embedding of one face in one RGB frame."""

    def __init__(self, models: Path | None = None) -> None:
        try:
            import dlib
        except ImportError as error:
            raise EmbeddingUnavailable(f"dlib is not installed ({error})") from None
        folder = models if models is not None else _models_folder()
        landmarks = folder / "shape_predictor_5_face_landmarks.dat"
        network = folder / "dlib_face_recognition_resnet_model_v1.dat"
        for needed in (landmarks, network):
            if not needed.is_file():
                raise EmbeddingUnavailable(f"the face model file {needed} is missing")
        try:
            self._landmarks: Any = dlib.shape_predictor(str(landmarks))
            self._network: Any = dlib.face_recognition_model_v1(str(network))
        except RuntimeError as error:  # dlib's error for an unreadable or corrupt model file
            raise EmbeddingUnavailable(f"the face model could not be loaded: {error}") from None
        self._dlib: Any = dlib
        self._lock = threading.Lock()  # one face at a time: a batch's fetch workers share the models

    def embed(self, image: np.ndarray, box: FaceBox) -> np.ndarray | None:
        """The embedding (128 float64) of the face in ``box`` of an RGB ``image`` (H x W x 3, uint8),
        or None when the face is too small or outside the frame."""
        height, width = image.shape[:2]
        left, top = box.left * width, box.top * height
        right, bottom = left + box.width * width, top + box.height * height
        left, top = max(0.0, left), max(0.0, top)
        right, bottom = min(float(width - 1), right), min(float(height - 1), bottom)
        if right - left < MIN_FACE_PIXELS or bottom - top < MIN_FACE_PIXELS:
            return None
        rectangle = self._dlib.rectangle(round(left), round(top), round(right), round(bottom))
        picture = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
        with self._lock:
            shape = self._landmarks(picture, rectangle)
            descriptor = self._network.compute_face_descriptor(picture, shape, 0)
        return np.asarray(descriptor, dtype=np.float64)


def load_embedder() -> FaceEmbedder:
    """The embedder, or ``EmbeddingUnavailable`` with one line saying why it cannot be had."""
    return FaceEmbedder()


def mean_embedding(embeddings: Sequence[np.ndarray]) -> tuple[float, ...] | None:
    """One embedding for several pictures of one face: their mean (None for none)."""
    if not embeddings:
        return None
    return tuple(float(value) for value in np.mean(np.stack(embeddings), axis=0))
