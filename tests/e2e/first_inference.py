"""One fresh detector's first frames, detected by threads released together: run as its own process
(``python -m tests.e2e.first_inference``), it prints "done" and exits, or hangs if the first inferences
deadlock (OpenVINO's binding, issue 18).

The frames go through the emulator's own path (``detected_in_order``) with the real RetinaFace
detector, wrapped so that each detecting thread's first frame waits until every thread has one,
then all start at once: the warm-up (``warm_up``, on the calling thread) comes first, as in a job.
With ``--no-warm-up`` the network is compiled first and the threads then run their first inferences
directly, together, with no warm-up: the unprotected case, for measuring how often it freezes.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

from localaws.rekognition.models import detected_in_order
from localaws.vision.detector import RetinaFaceDetector
from localaws.vision.face import DetectedFace
from localaws.vision.frames import DecodedFrame

THREADS = 4
FRAMES = 12
BARRIER_SECONDS = 120


class ReleasedTogether:
    """The real detector; each thread's first ``detect`` waits at a barrier for the others."""

    def __init__(self, detector: RetinaFaceDetector, threads: int) -> None:
        self._detector = detector
        self.frames_in_parallel = threads
        self.warm_up = detector.warm_up
        self._barrier = threading.Barrier(threads)
        self._started = threading.local()

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        if not getattr(self._started, "done", False):
            self._started.done = True
            self._barrier.wait(timeout=BARRIER_SECONDS)
        return self._detector.detect(rgb)


def frames() -> list[DecodedFrame]:
    noise = np.random.default_rng(0).integers(0, 256, size=(540, 960, 3), dtype=np.uint8)
    return [DecodedFrame(index * 200, noise, planar=False) for index in range(FRAMES)]


def main(argv: list[str]) -> int:
    detector = RetinaFaceDetector()
    if "--no-warm-up" in argv:
        barrier = threading.Barrier(THREADS)
        rgb = frames()[0].pixels
        detector._network(rgb.shape[1], rgb.shape[0])  # compiled first, so that the first inferences meet

        def first_inference() -> None:
            barrier.wait(timeout=BARRIER_SECONDS)
            detector.detect(rgb)

        threads = [threading.Thread(target=first_inference) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        detected = list(detected_in_order(ReleasedTogether(detector, THREADS), frames()))
        assert len(detected) == FRAMES, len(detected)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
