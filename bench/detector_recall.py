"""How often RetinaFace finds a face at the service's minimum size, in bfloat16 and in float32, and
what each costs: the measurement behind computing the network in bfloat16 (localaws/rekognition/
detector.py).

Real faces from the photographs that ship with scikit-image (the astronaut; the cameraman, in grey;
the astronaut darkened, blurred and mirrored) are pasted 24 times on a 1920x1080 frame at a face
width of 40, 44 and 48 px (the minimum at 1920x1080 is 40), upright and rolled by 20 degrees. The
frame is downscaled as the emulator does (a shorter side of 540 px) and given to the detector; a face
is found when a candidate overlaps it with IoU >= 0.4 (the pasted box ignores the roll) at a score
of at least 0.3, 0.4 and 0.5 (the emulator's candidate threshold). Then the CPU time of one frame on
one thread, the median of 30.

    .venv/bin/python bench/detector_recall.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localaws.vision.detector import DETECTION_SHORT_SIDE, RetinaFaceDetector
from localaws.vision.frames import downscaled
from synthetic import ASTRONAUT_FACE, HEAD_CROP, Box, background

PRECISIONS = ("bf16", "f32")
FACE_WIDTHS = (40, 44, 48)
ROLLS = (0, 20)
THRESHOLDS = (0.3, 0.4, 0.5)
COPIES = 24  # per frame: 8 columns, 3 rows
CAMERAMAN_FACE = (45, 54, 61, 81)  # in the crop below: left, top, width, height (RetinaFace's box)
CAMERAMAN_CROP = (150, 60, 170, 200)  # left, top, width, height in skimage.data.camera()


def faces() -> Iterator[tuple[str, np.ndarray, tuple[int, int, int, int]]]:
    """(set, photograph, face box in it)."""
    from skimage import data  # benchmark dependency only

    left, top, width, height = HEAD_CROP
    head = data.astronaut()[top : top + height, left : left + width]
    face = (ASTRONAUT_FACE[0] - left, ASTRONAUT_FACE[1] - top, ASTRONAUT_FACE[2], ASTRONAUT_FACE[3])
    yield "astronaut", head, face
    c_left, c_top, c_width, c_height = CAMERAMAN_CROP
    camera = np.stack([data.camera()] * 3, axis=-1)[c_top : c_top + c_height, c_left : c_left + c_width]
    yield "cameraman", camera, CAMERAMAN_FACE
    yield "astronaut variants", (head * 0.45).astype(np.uint8), face
    yield "astronaut variants", cv2.GaussianBlur(head, (0, 0), 3), face
    yield "astronaut variants", np.ascontiguousarray(head[:, ::-1]), (width - face[0] - face[2], *face[1:])


def frame_with(
    photo: np.ndarray, face: tuple[int, int, int, int], face_width: float, roll: float
) -> tuple[np.ndarray, list[Box]]:
    """A 1920x1080 frame with COPIES copies of the face, and where each is."""
    frame = background(1920, 1080)
    scale = face_width / face[2]
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    patch = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=interpolation)
    if roll:
        matrix = cv2.getRotationMatrix2D((patch.shape[1] / 2, patch.shape[0] / 2), roll, 1.0)
        patch = cv2.warpAffine(patch, matrix, patch.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    boxes = []
    for index in range(COPIES):
        x, y = 60 + (index % 8) * 230, 80 + (index // 8) * 320 + index % 3
        frame[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
        boxes.append(Box(x + face[0] * scale, y + face[1] * scale, face[2] * scale, face[3] * scale))
    return frame, boxes


def recall(detector: RetinaFaceDetector) -> dict[tuple[str, int], list[float]]:
    """(face set, face width) -> the best candidate score at each pasted face (0 when none)."""
    scores: dict[tuple[str, int], list[float]] = {}
    for name, photo, face in faces():
        for width in FACE_WIDTHS:
            for roll in ROLLS:
                frame, boxes = frame_with(photo, face, width, roll)
                small = downscaled(frame, DETECTION_SHORT_SIDE)
                found = [candidate.scaled(frame.shape[0] / small.shape[0]) for candidate in detector.detect(small)]
                for box in boxes:
                    best = max(
                        (f.confidence for f in found if Box(f.left, f.top, f.width, f.height).iou(box) >= 0.4),
                        default=0.0,
                    )
                    scores.setdefault((name, width), []).append(best)
    return scores


def cpu_ms(detector: RetinaFaceDetector) -> float:
    frame = downscaled(frame_with(*next(faces())[1:], 40, 0)[0], DETECTION_SHORT_SIDE)
    detector.detect(frame)  # compiles the network for this size
    times = []
    for _ in range(30):
        clock = time.process_time()  # the network runs on OpenVINO's threads, not the caller's
        detector.detect(frame)
        times.append(time.process_time() - clock)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="bench/detector_recall.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.parse_args()  # no options: --help describes the benchmark without running it
    detectors = {precision: RetinaFaceDetector(score_threshold=0.1, precision=precision) for precision in PRECISIONS}
    found = {precision: recall(detector) for precision, detector in detectors.items()}
    print(f"share of {COPIES * len(ROLLS)} faces found per set (x3 for the variants), at a score of", THRESHOLDS)
    print(f"{'face set':20}{'width':>7}" + "".join(f"{precision:>18}" for precision in PRECISIONS))
    for name, width in found[PRECISIONS[0]]:
        cells = [
            " ".join(f"{np.mean(np.array(found[p][name, width]) >= t):.2f}" for t in THRESHOLDS) for p in PRECISIONS
        ]
        print(f"{name:20}{width:>5}px" + "".join(f"{cell:>18}" for cell in cells))
    for precision, detector in detectors.items():
        print(f"CPU ms per 960x540 frame, one thread, {precision}: {cpu_ms(detector):.1f}")


if __name__ == "__main__":
    main()
