"""A detector for the endpoint process that can be made to take its time: RetinaFace, after a pause
per frame while a hold file exists, so that a test can stop the endpoint while a job is surely
mid-video. The pause (2.5 s a frame, 4 samples in a 2 s clip at the 500 ms cadence) leaves a wide margin over the time a
loaded machine takes to deliver the stop signal; the endpoint's shutdown waits for at most one frame."""

import os
import time
from pathlib import Path

import numpy as np

from localaws.vision.detector import RetinaFaceDetector
from localaws.vision.face import DetectedFace

HOLD_FILE_VARIABLE = "SLOW_DETECTOR_HOLD_FILE"
PAUSE_SECONDS = 2.5


class SlowDetector(RetinaFaceDetector):
    def __init__(self, hold_file: Path | None) -> None:
        super().__init__()
        self._hold_file = hold_file

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        if self._hold_file is not None and self._hold_file.exists():
            time.sleep(PAUSE_SECONDS)
        return super().detect(rgb)


def factory() -> SlowDetector:
    hold_file = os.environ.get(HOLD_FILE_VARIABLE)
    return SlowDetector(Path(hold_file) if hold_file else None)
