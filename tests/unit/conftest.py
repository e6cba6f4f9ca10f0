"""Run the component or the whole program under Pulumi's mocks and record what it declares; and
scikit-image's astronaut with the face the emulator's detector finds, for the landmark models' tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from skimage import data

from localaws.deploy import program as pulumi_program
from localaws.vision.detector import RetinaFaceDetector
from localaws.vision.face import DetectedFace
from tests.support.pulumi_mocks import REGION, ROOT, Declared, run_body


@pytest.fixture
def run_component() -> Callable[..., Declared]:
    """Declare a FaceDetectionPipeline with the given args and record it."""
    from components import FaceDetectionPipeline, FaceDetectionPipelineArgs

    def run(name: str = "faces", args: FaceDetectionPipelineArgs | None = None) -> Declared:
        return run_body(lambda: FaceDetectionPipeline(name, args or {}), config={"aws:region": REGION})

    return run


@pytest.fixture
def run_program() -> Callable[..., Declared]:
    """Run the project's __main__.py with the given stack config and record it."""

    def run(config: dict[str, str] | None = None) -> Declared:
        return run_body(pulumi_program.main_program(ROOT), config)

    return run


@pytest.fixture(scope="module")
def astronaut() -> tuple[np.ndarray, DetectedFace]:
    """Scikit-image's astronaut (one face, smiling at the camera) and the face RetinaFace finds."""
    frame = np.ascontiguousarray(data.astronaut())
    (face,) = RetinaFaceDetector().detect(frame)
    return frame, face
