"""The local Lambda's asynchronous-invocation rules as pure functions: which config Lambda accepts,
and when a failed event runs again; and the one thread the retries wait on."""

from __future__ import annotations

import threading

import pytest

from localaws.awslambda.event_invoke import (
    AsyncSettings,
    DelayedCalls,
    checked_config,
    retry_delay,
)
from localaws.awslambda.exceptions import ValidationException

DELAYS = (60.0, 120.0)  # Lambda's own waits, about 1 then 2 minutes


def test_without_a_config_lambdas_defaults_apply():
    assert AsyncSettings.of(None) == AsyncSettings(2, 21600)
    assert AsyncSettings.of({"MaximumRetryAttempts": 0}) == AsyncSettings(0, 21600)


@pytest.mark.parametrize(
    ("retries", "expected"),
    [(0, [None]), (1, [60.0, None]), (2, [60.0, 120.0, None])],
)
def test_a_failed_event_runs_again_its_retries_times_with_growing_waits(retries, expected):
    settings = AsyncSettings(maximum_retry_attempts=retries)
    assert [retry_delay(runs, 0.0, settings, DELAYS) for runs in range(1, len(expected) + 1)] == expected


def test_an_event_that_would_be_too_old_after_the_wait_is_not_retried():
    settings = AsyncSettings(maximum_retry_attempts=2, maximum_event_age_seconds=100)
    assert retry_delay(1, 39.0, settings, DELAYS) == 60.0  # 99 s old at its retry
    assert retry_delay(1, 41.0, settings, DELAYS) is None  # 101 s: dropped now, not after the wait


def test_later_retries_wait_as_long_as_the_last_delay():
    assert retry_delay(2, 0.0, AsyncSettings(), (0.5,)) == 0.5
    assert retry_delay(1, 0.0, AsyncSettings(), ()) is None


def test_only_the_config_members_are_kept():
    request = {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60, "Other": 1, "DestinationConfig": None}
    assert checked_config(request) == {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            {"MaximumRetryAttempts": 3},
            "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must "
            "have value less than or equal to 2",
        ),
        ({"MaximumRetryAttempts": -1}, "greater than or equal to 0"),
        ({"MaximumEventAgeInSeconds": 59}, "greater than or equal to 60"),
        ({"MaximumEventAgeInSeconds": 21601}, "less than or equal to 21600"),
        ({"MaximumRetryAttempts": True}, "must be an integer"),
        ({"DestinationConfig": "arn"}, "DestinationConfig must be an object"),
    ],
)
def test_out_of_range_values_are_refused_as_the_service_refuses_them(request_, message):
    with pytest.raises(ValidationException, match=message):
        checked_config(request_)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_delayed_calls_run_in_order_of_when_they_are_due():
    done: list[str] = []
    all_done = threading.Event()
    calls = DelayedCalls("test-delayed")

    def record(name: str) -> None:
        done.append(name)
        if len(done) == 3:
            all_done.set()

    # Added latest first: the order they run in is their due time, not the order they came in.
    assert calls.call_later(0.3, lambda: record("third"))
    assert calls.call_later(0.2, lambda: record("second"))
    assert calls.call_later(0.0, lambda: record("first"))
    assert all_done.wait(timeout=30)
    assert done == ["first", "second", "third"]
    assert calls.close() == 0


def test_closing_drops_what_is_not_due_and_refuses_more():
    clock = Clock()  # never advances: nothing falls due
    calls = DelayedCalls("test-delayed", clock)
    made: list[int] = []
    assert calls.call_later(10.0, lambda: made.append(1))
    assert calls.call_later(20.0, lambda: made.append(2))
    assert calls.pending() == 2
    assert calls.close() == 2
    assert not calls.call_later(0.0, lambda: made.append(3))
    assert made == [] and calls.pending() == 0


def test_a_failing_call_does_not_stop_the_later_ones():
    ran = threading.Event()
    calls = DelayedCalls("test-delayed")

    def fail() -> None:
        raise RuntimeError("boom")

    calls.call_later(0.0, fail)
    calls.call_later(0.01, ran.set)
    assert ran.wait(timeout=30)
    calls.close()
