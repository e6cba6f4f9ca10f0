"""A detector for the endpoint process that takes its time: RetinaFace, after a pause per frame, so
that a test can stop the endpoint while a job is surely mid-video."""

import time

from localaws.rekognition.detector import RetinaFaceDetector

PAUSE_SECONDS = 0.15


class SlowDetector(RetinaFaceDetector):
    def detect(self, rgb):
        time.sleep(PAUSE_SECONDS)
        return super().detect(rgb)


def factory() -> SlowDetector:
    return SlowDetector()
