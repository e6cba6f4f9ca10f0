"""The parts of issue 18's fixes that need no server: the detector warmed up on one thread before
frames go parallel, the Host parsing and the JSON nesting scan."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from localaws.guard import RequestGuard, known_regions, split_host
from localaws.rekognition.models import detected_in_order
from localaws.vision.face import DetectedFace
from localaws.vision.frames import DecodedFrame
from localaws.wsgi_body import MAX_JSON_DEPTH, TooDeep, check_json_depth, json_depth


class RecordingDetector:
    """Records what ran on which thread, and how many detections overlapped."""

    frames_in_parallel = 4

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._active = 0
        self.most_at_once = 0

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        with self._lock:
            self._active += 1
            self.most_at_once = max(self.most_at_once, self._active)
            self.events.append(("start", threading.current_thread().name))
        time.sleep(0.02)
        with self._lock:
            self._active -= 1
            self.events.append(("end", threading.current_thread().name))
        return []


class WarmingDetector(RecordingDetector):
    def warm_up(self) -> None:
        self.events.append(("warm_up", threading.current_thread().name))


def frames(count: int = 12) -> list[DecodedFrame]:
    return [DecodedFrame(index * 200, np.zeros((36, 64, 3), np.uint8), planar=False) for index in range(count)]


def test_the_detector_is_warmed_up_on_the_calling_thread_before_any_frame():
    detector = WarmingDetector()
    assert len(list(detected_in_order(detector, frames()))) == 12
    assert detector.events[0] == ("warm_up", threading.current_thread().name)
    assert [kind for kind, _ in detector.events].count("warm_up") == 1
    assert detector.most_at_once > 1, "the frames after it are still detected in parallel"


def test_without_a_warm_up_the_first_frame_is_detected_alone():
    detector = RecordingDetector()
    assert [sample.timestamp_ms for sample, _ in detected_in_order(detector, frames())] == [i * 200 for i in range(12)]
    assert detector.events[:2] == [("start", threading.current_thread().name), ("end", threading.current_thread().name)]
    assert detector.most_at_once > 1


def test_no_frames_no_detection():
    detector = RecordingDetector()
    assert list(detected_in_order(detector, [])) == []


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1:4566", ("127.0.0.1", 4566)),
        ("LocalHost.:4566", ("localhost", 4566)),
        ("[::1]:4566", ("::1", 4566)),
        ("[::1]", ("::1", None)),
        ("evil.example", ("evil.example", None)),
        ("evil.example:http", ("evil.example:http", None)),
    ],
)
def test_host_headers_are_split_into_name_and_port(host, expected):
    assert split_host(host) == expected


@pytest.mark.parametrize(
    ("bound", "host", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1:4566", True),
        ("127.0.0.1", "127.0.0.2:4566", True),  # all of 127/8 is loopback
        ("127.0.0.1", "localhost:4566", True),
        ("127.0.0.1", "bucket.localhost:4566", True),
        ("127.0.0.1", "127.0.0.1:4567", False),
        ("127.0.0.1", "127.0.0.1", False),  # port 80
        ("127.0.0.1", "evil.example:4566", False),
        ("127.0.0.1", "localhost.evil.example:4566", False),
        ("127.0.0.1", "192.168.1.5:4566", False),
        ("0.0.0.0", "192.168.1.5:4566", True),  # an address cannot be rebound
        ("0.0.0.0", "evil.example:4566", False),
        ("192.168.1.5", "192.168.1.5:4566", True),
        ("devbox", "devbox:4566", True),
    ],
)
def test_only_the_endpoints_own_names_pass(bound, host, allowed):
    guard = RequestGuard(lambda environ, start_response: [], bound, lambda: 4566)
    assert (guard._host_refusal(host) is None) is allowed  # the rule on its own


def test_the_known_regions_are_botocores_every_partition():
    regions = known_regions()
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= regions
    assert "mars-north-1" not in regions and "aws-global" not in regions


def test_json_depth_skips_strings_and_counts_nesting():
    assert json_depth(b'{"a": "[[[{{\\"[", "b": [1, {"c": []}]}') == 4
    assert json_depth(b"42") == 0
    assert json_depth(b"[" * 100_000 + b"]" * 100_000) == 100_000
    check_json_depth(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    with pytest.raises(TooDeep, match=f"{MAX_JSON_DEPTH + 1} levels"):
        check_json_depth(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
