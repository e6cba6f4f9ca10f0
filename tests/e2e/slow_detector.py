"""A detector for the endpoint process that can be held: RetinaFace, once a hold file no longer
exists. While it exists, every frame waits (up to ``MAX_HOLD_SECONDS``), so that a test can stop the
endpoint while a job is surely mid-video, and see the job still open after a restart, however slowly
a loaded machine runs the test's own steps. (A fixed pause per frame was not enough: the detector
takes two frames at once on two cores, so a resumed 7-frame job ended in about 4 s, before
``scripts/local.py status`` had started on a loaded machine.) A test removes the hold file before it
stops the endpoint cleanly: the endpoint's shutdown waits for the frame being detected."""

import os
import time
from pathlib import Path

import numpy as np

from localaws.vision.detector import RetinaFaceDetector
from localaws.vision.face import DetectedFace

HOLD_FILE_VARIABLE = "SLOW_DETECTOR_HOLD_FILE"
MAX_HOLD_SECONDS = 120.0
POLL_SECONDS = 0.1


class SlowDetector(RetinaFaceDetector):
    def __init__(self, hold_file: Path | None) -> None:
        super().__init__()
        self._hold_file = hold_file

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        deadline = time.monotonic() + MAX_HOLD_SECONDS
        while self._hold_file is not None and self._hold_file.exists() and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        return super().detect(rgb)


def factory() -> SlowDetector:
    hold_file = os.environ.get(HOLD_FILE_VARIABLE)
    return SlowDetector(Path(hold_file) if hold_file else None)
