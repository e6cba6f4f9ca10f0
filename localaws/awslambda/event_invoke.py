"""Asynchronous invocation (``InvocationType=Event``): a function's event invoke config
(``PutFunctionEventInvokeConfig`` and the rest) checked as Lambda checks it, and when a failed event
runs again.

Lambda runs a failed asynchronous invocation (a function error or a timeout) again up to
``MaximumRetryAttempts`` times (2 without a config), about 1 then 2 minutes later, and drops an
event older than ``MaximumEventAgeInSeconds`` (6 hours without a config) instead of running it.
The local endpoint keeps those rules; only the waits are its own setting
(``LambdaSettings.event_retry_delays``). A retry waits in ``DelayedCalls``, not in a worker.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .exceptions import ValidationException

log = logging.getLogger(__name__)

# Limits and defaults from Lambda's API reference (FunctionEventInvokeConfig); botocore checks the
# minimum of each before sending, the service the maximum.
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
MIN_RETRY_ATTEMPTS, MAX_RETRY_ATTEMPTS = 0, 2
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 21600
MIN_EVENT_AGE_SECONDS, MAX_EVENT_AGE_SECONDS = 60, 21600
CONFIG_MEMBERS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


@dataclass(frozen=True)
class AsyncSettings:
    """What a function's asynchronous invocations obey: its config's values, else Lambda's defaults."""

    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age_seconds: int = DEFAULT_MAXIMUM_EVENT_AGE_SECONDS

    @classmethod
    def of(cls, config: Mapping[str, Any] | None) -> AsyncSettings:
        config = config or {}
        return cls(
            config.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS),
            config.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE_SECONDS),
        )


def _check_range(config: Mapping[str, Any], member: str, field: str, low: int, high: int) -> None:
    value = config.get(member)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationException(f"1 validation error detected: Value '{value}' at '{field}' must be an integer")
    if low <= value <= high:
        return
    constraint = f"greater than or equal to {low}" if value < low else f"less than or equal to {high}"
    raise ValidationException(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
        f"Member must have value {constraint}"
    )


def checked_config(request: Mapping[str, Any]) -> dict[str, Any]:
    """The config members of a Put or Update request, checked as the service checks them (its
    message, as ValidationException); other members of the body are ignored, as the service does."""
    config = {member: request[member] for member in CONFIG_MEMBERS if request.get(member) is not None}
    _check_range(config, "MaximumRetryAttempts", "maximumRetryAttempts", MIN_RETRY_ATTEMPTS, MAX_RETRY_ATTEMPTS)
    _check_range(
        config, "MaximumEventAgeInSeconds", "maximumEventAgeInSeconds", MIN_EVENT_AGE_SECONDS, MAX_EVENT_AGE_SECONDS
    )
    destinations = config.get("DestinationConfig")
    if destinations is not None and not isinstance(destinations, Mapping):
        raise ValidationException("1 validation error detected: DestinationConfig must be an object")
    for kind in ("OnSuccess", "OnFailure"):
        target = (destinations or {}).get(kind)
        if target is not None and not (isinstance(target, Mapping) and isinstance(target.get("Destination", ""), str)):
            raise ValidationException(
                f"1 validation error detected: DestinationConfig.{kind}.Destination must be an ARN"
            )
    return config


def retry_delay(runs: int, age_seconds: float, settings: AsyncSettings, delays: Sequence[float]) -> float | None:
    """How long a failed event waits before its next run, or None when it runs no more: ``runs``
    runs already made (retries are ``runs - 1``), or the event would be older than its maximum age
    when the wait is over (dropped now rather than after a useless wait). ``delays``: the wait before
    the first retry, the second, ...; the last one for any later retry."""
    if runs > settings.maximum_retry_attempts or not delays:
        return None
    delay = delays[min(runs, len(delays)) - 1]
    if age_seconds + delay > settings.maximum_event_age_seconds:
        return None
    return delay


class DelayedCalls:
    """Calls made later, in order of when they are due, on one thread of their own (started on the
    first call). A call must be quick: it is the thread's only work. ``close()`` drops every call not
    yet made and ends the thread, so nothing waiting here holds a stop up."""

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._name = name
        self._clock = clock
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def call_later(self, delay: float, call: Callable[[], None]) -> bool:
        """Make ``call`` in ``delay`` seconds; False (and never) once closed."""
        with self._condition:
            if self._closed:
                return False
            heapq.heappush(self._due, (self._clock() + max(0.0, delay), next(self._order), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._condition.notify()
        return True

    def pending(self) -> int:
        with self._condition:
            return len(self._due)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._closed and (not self._due or self._due[0][0] > self._clock()):
                    self._condition.wait(timeout=self._due[0][0] - self._clock() if self._due else None)
                if self._closed:
                    return
                _, _, call = heapq.heappop(self._due)
            try:
                call()
            except Exception:  # one failed call must not stop the later ones
                log.exception("a delayed call failed")

    def close(self) -> int:
        """Drop the calls not yet made (how many) and end the thread (waiting for a call being made)."""
        with self._condition:
            self._closed = True
            dropped = len(self._due)
            self._due.clear()
            self._condition.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        return dropped
