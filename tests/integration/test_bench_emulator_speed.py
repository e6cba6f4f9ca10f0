"""bench/emulator_speed.py waits for a fresh endpoint's warm-up before it times a first job: a
warm-up that fails stops the benchmark in one line instead of waiting for ever."""

from __future__ import annotations

import pytest

from localaws.process import EndpointProcess
from tests.support.bench import load_bench


def test_a_detector_that_cannot_load_stops_the_wait_with_its_reason(tmp_path, monkeypatch):
    speed = load_bench(monkeypatch, "emulator_speed")
    unloadable = ["--detector", "tests.e2e.stuck_detectors:unloadable"]
    with EndpointProcess(tmp_path, extra_args=unloadable) as endpoint, pytest.raises(SystemExit) as stopped:
        speed.wait_until_warm(endpoint)
    message = str(stopped.value)
    assert "did not load" in message and "could not be loaded" in message and "\n" not in message
    assert str(endpoint.log_path) in message
