"""Detectors for the endpoint process that never return from their first frame, so that a test can
check the endpoint still stops (``serve --detector tests.e2e.stuck_detectors:<factory>``).

- ``sleeper``: waits for ever without Python's global lock, like a job stuck on I/O: the endpoint's
  main thread runs, but its clean stop waits for the job, so only the stop's deadline ends it.
- ``lock_holder``: holds Python's global lock for ever in native code (``ctypes.PyDLL`` keeps the
  lock across the call), as OpenVINO's first-inference deadlock did: no Python code runs again,
  signal handlers included, so only the freeze watchdog, a native thread, ends it.

And one that never gets that far: ``unloadable`` raises when the warm-up calls it, as a network file
that cannot be read does (the endpoint logs the error and keeps serving; its jobs fail).
"""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path

import numpy as np

from localaws.vision.face import DetectedFace

FOREVER_SECONDS = 3600
MARK_VARIABLE = "STUCK_DETECTOR_MARK"  # a file each detector makes when its first frame arrives


def _mark() -> None:
    if os.environ.get(MARK_VARIABLE):
        Path(os.environ[MARK_VARIABLE]).touch()


class Sleeper:
    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        _mark()
        time.sleep(FOREVER_SECONDS)
        return []


class LockHolder:
    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        _mark()
        ctypes.PyDLL(None).sleep(FOREVER_SECONDS)  # libc's sleep, called with the global lock held
        return []


def sleeper() -> Sleeper:
    return Sleeper()


def lock_holder() -> LockHolder:
    return LockHolder()


def unloadable() -> Sleeper:
    raise OSError("the network file cannot be read (a test's detector)")
