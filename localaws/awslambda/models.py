"""The Lambda backend of the local endpoint: event source mappings and invocations, no HTTP.

moto keeps the functions (CreateFunction, UpdateFunctionCode/Configuration, GetFunction,
DeleteFunction, tags): it stores their zip and configuration faithfully but can run code only in
Docker. So this backend reads each function from moto's store and runs it itself (``runner.py``),
and owns the event source mappings, whose SQS pollers (``event_sources.py``) feed the functions.

A function's event invoke config (its asynchronous invocations' retries and maximum event age,
``event_invoke.py``) is answered here too, and kept on moto's function: it goes with the function
when that is deleted, and into the endpoint's state snapshots with it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import EventInvokeConfig, LambdaFunction, lambda_backends

from ..clients import ClientFactory
from .event_invoke import AsyncSettings, DelayedCalls, checked_config, retry_delay
from .event_sources import POLL_WAIT_SECONDS, SqsPoller
from .exceptions import (
    InvalidParameterValueException,
    LambdaError,
    ResourceConflictException,
    ResourceNotFoundException,
    TooManyRequestsException,
    ValidationException,
)
from .runner import FunctionRunner, FunctionSpec, InvocationResult, LayerCode

log = logging.getLogger(__name__)

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
# SQS event source limits (CreateEventSourceMapping's documentation).
DEFAULT_BATCH_SIZE = 10
MAX_BATCH_SIZE = 10000
MAX_BATCH_WITHOUT_WINDOW = 10  # a larger BatchSize needs MaximumBatchingWindowInSeconds >= 1
MAX_BATCHING_WINDOW_SECONDS = 300
MIN_MAXIMUM_CONCURRENCY, MAX_MAXIMUM_CONCURRENCY = 2, 1000
_SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:([a-z0-9-]+):(\d{12}):(.+)$")


@dataclass(frozen=True)
class LambdaSettings:
    code_dir: Path
    # Concurrent batches per event source mapping without a ScalingConfig: Lambda starts with 5
    # pollers; 2 keeps a small machine responsive. ScalingConfig.MaximumConcurrency overrides it.
    default_concurrency: int = 2
    # ``Event`` invocations run at once per function; later ones wait in the function's queue, in
    # order, as Lambda's concurrency limit holds asynchronous invocations back. Each running one is a
    # process of its own. Beyond ``max_queued_events`` waiting, Invoke is throttled (HTTP 429).
    event_concurrency: int = 4
    max_queued_events: int = 1000
    # The waits before a failed ``Event`` invocation's first retry, its second (and any later one).
    # Lambda waits about 1 then 2 minutes; 1 then 2 seconds here keep its order of events (a retry
    # comes after the failure is logged, the second later than the first) without a local run or a
    # test waiting minutes. MaximumEventAgeInSeconds is measured on the same clock.
    event_retry_delays: tuple[float, ...] = (1.0, 2.0)


@dataclass
class AsyncEvent:
    """One ``Event`` invocation, from Invoke until it succeeds or is given up."""

    function_arn: str
    region: str
    account_id: str
    payload: Any
    request_id: str
    received: float  # the backend's clock when Invoke queued it: its age is measured from here
    runs: int = 0


@dataclass
class EventSourceMapping:
    uuid: str
    function_arn: str
    event_source_arn: str
    batch_size: int
    batching_window_seconds: int
    enabled: bool
    function_response_types: list[str]
    maximum_concurrency: int | None
    last_modified: float = field(default_factory=time.time)

    @property
    def reports_item_failures(self) -> bool:
        return REPORT_BATCH_ITEM_FAILURES in self.function_response_types

    @property
    def queue_region(self) -> str:
        return _parse_sqs_arn(self.event_source_arn)[0]

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "UUID": self.uuid,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.batching_window_seconds,
            "EventSourceArn": self.event_source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "State": "Enabled" if self.enabled else "Disabled",
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": list(self.function_response_types),
        }
        if self.maximum_concurrency is not None:
            shape["ScalingConfig"] = {"MaximumConcurrency": self.maximum_concurrency}
        return shape


def _parse_sqs_arn(arn: str) -> tuple[str, str, str]:
    match = _SQS_ARN.match(arn or "")
    if not match:
        raise InvalidParameterValueException(
            f"EventSourceArn {arn!r}: the local endpoint emulates SQS event sources only (arn:aws:sqs:...)"
        )
    region, account, name = match.groups()
    return region, account, name


class LambdaBackend:
    def __init__(self, settings: LambdaSettings, client: ClientFactory, endpoint_url: Callable[[], str]) -> None:
        self.settings = settings
        self._client = client
        self.runner = FunctionRunner(settings.code_dir, endpoint_url)
        self._mappings: dict[str, EventSourceMapping] = {}
        self._pollers: dict[str, list[SqsPoller]] = {}
        self._event_pools: dict[str, ThreadPoolExecutor] = {}  # by function ARN
        self._queued_events: dict[str, int] = {}  # by function ARN: submitted and not yet finished
        self._retries = DelayedCalls("lambda-event-retries")  # failed events waiting for their next run
        self._clock: Callable[[], float] = time.monotonic  # the events' ages (MaximumEventAgeInSeconds)
        self._closed = False
        self._lock = threading.Lock()

    # -- functions (kept by moto) ----------------------------------------------------------------

    def function_spec(self, name_or_arn: str, region: str, account_id: str) -> FunctionSpec:
        backend = lambda_backends[account_id][region]
        try:
            function = backend.get_function(name_or_arn)
        except LambdaClientError:
            raise ResourceNotFoundException(f"Function not found: {name_or_arn}") from None
        layers = []
        for layer in function.layers or []:
            version = backend.layers_versions_by_arn(layer["Arn"])
            if version is None:  # deleted after the function was configured: Lambda keeps a copy; moto does not
                raise ResourceNotFoundException(f"Layer version not found: {layer['Arn']}")
            layers.append(LayerCode(version.code_sha_256, version.code_bytes))
        return FunctionSpec(
            name=function.function_name,
            arn=function.function_arn,
            region=region,
            handler=function.handler or "",
            runtime=function.run_time or "",
            timeout_seconds=int(function.timeout),
            memory_mb=int(function.memory_size),
            environment=tuple(sorted((function.environment_vars or {}).items())),
            code_sha256=function.code_sha_256,
            log_group=function.logs_group_name,
            code=function.code_bytes,
            layers=tuple(layers),
        )

    def invoke(self, name_or_arn: str, event: Any, region: str, account_id: str) -> InvocationResult:
        return self.runner.invoke(self.function_spec(name_or_arn, region, account_id), event)

    def invoke_async(self, name_or_arn: str, event: Any, region: str, account_id: str) -> str:
        """InvocationType=Event: queued, run in the background, at most ``event_concurrency`` at once
        per function; a failed run is retried as the function's event invoke config says (Lambda's
        defaults without one), and a failure that is not retried is only logged."""
        spec = self.function_spec(name_or_arn, region, account_id)
        queued_event = AsyncEvent(spec.arn, region, account_id, event, str(uuid.uuid4()), self._clock())
        with self._lock:
            if self._closed:
                raise TooManyRequestsException("The local endpoint is stopping.")
            queued = self._queued_events.get(spec.arn, 0)
            if queued >= self.settings.event_concurrency + self.settings.max_queued_events:
                raise TooManyRequestsException(
                    f"Rate Exceeded. {queued} asynchronous invocations of {spec.name} are running or queued."
                )
            self._queued_events[spec.arn] = queued + 1
            pool = self._event_pools.get(spec.arn)
            if pool is None:
                pool = self._event_pools[spec.arn] = ThreadPoolExecutor(
                    max_workers=self.settings.event_concurrency, thread_name_prefix=f"lambda-event-{spec.name}"
                )
            pool.submit(self._invoke_in_background, queued_event, spec)
        return queued_event.request_id

    def queued_events(self, function_arn: str) -> int:
        """The function's ``Event`` invocations not finished yet: running, queued or waiting to be retried."""
        with self._lock:
            return self._queued_events.get(function_arn, 0)

    def waiting_retries(self) -> int:
        """Failed ``Event`` invocations waiting for their next run, all functions together."""
        return self._retries.pending()

    def _invoke_in_background(self, event: AsyncEvent, spec: FunctionSpec | None = None) -> None:
        retried = False
        try:
            retried = self._run_event(event, spec)
        except Exception:  # never lose the count below
            log.exception("asynchronous invocation %s failed inside the endpoint", event.request_id)
        finally:
            if not retried:
                with self._lock:
                    self._queued_events[event.function_arn] -= 1

    def _run_event(self, event: AsyncEvent, spec: FunctionSpec | None) -> bool:
        """Run the event once; True when a retry is scheduled."""
        if self._closed:
            return False
        name = event.function_arn.rsplit(":", 1)[-1]
        try:
            spec = spec or self.function_spec(event.function_arn, event.region, event.account_id)
            settings = self.async_settings(event.function_arn, event.region, event.account_id)
        except LambdaError as error:  # deleted while the event waited
            log.warning("asynchronous invocation %s of %s dropped: %s", event.request_id, name, error.message)
            return False
        age = self._clock() - event.received
        if age > settings.maximum_event_age_seconds:
            log.warning(
                "asynchronous invocation %s of %s dropped: %.0f s old, over its MaximumEventAgeInSeconds %d",
                event.request_id,
                name,
                age,
                settings.maximum_event_age_seconds,
            )
            return False
        event.runs += 1
        try:
            result = self.runner.invoke(spec, event.payload)
            failure = None if not result.failed else (result.error or {}).get("errorMessage", "function error")
        except Exception as error:
            failure = str(error)
        if failure is None or self._closed:
            return False
        delay = retry_delay(event.runs, self._clock() - event.received, settings, self.settings.event_retry_delays)
        if delay is None:  # nobody waits for the answer: say it in the log
            log.warning(
                "asynchronous invocation %s of %s failed, not retried (run %d; MaximumRetryAttempts %d, "
                "MaximumEventAgeInSeconds %d): %s",
                event.request_id,
                name,
                event.runs,
                settings.maximum_retry_attempts,
                settings.maximum_event_age_seconds,
                failure,
            )
            return False
        log.warning(
            "asynchronous invocation %s of %s failed (%s); retry %d of %d in %g s",
            event.request_id,
            name,
            failure,
            event.runs,
            settings.maximum_retry_attempts,
            delay,
        )
        return self._retries.call_later(delay, lambda: self._retry(event))

    def _retry(self, event: AsyncEvent) -> None:
        """Back into the function's queue (called by ``DelayedCalls``: quick)."""
        with self._lock:
            pool = None if self._closed else self._event_pools.get(event.function_arn)
            if pool is not None:
                pool.submit(self._invoke_in_background, event)
                return
            self._queued_events[event.function_arn] -= 1

    # -- event invoke configs (kept on moto's function) --------------------------------------------

    def _moto_function(self, name_or_arn: str, qualifier: str | None, region: str, account_id: str) -> LambdaFunction:
        if qualifier not in (None, "", "$LATEST"):
            raise InvalidParameterValueException(
                f"Qualifier {qualifier!r}: the local endpoint emulates $LATEST only (no versions or aliases)"
            )
        try:
            return lambda_backends[account_id][region].get_function(name_or_arn)
        except LambdaClientError:
            raise ResourceNotFoundException(f"Function not found: {name_or_arn}") from None

    @staticmethod
    def _event_invoke_config(function: LambdaFunction) -> dict[str, Any] | None:
        saved = list(getattr(function, "event_invoke_config", None) or [])
        return saved[0].response() if saved else None

    def put_event_invoke_config(
        self, name_or_arn: str, qualifier: str | None, request: dict[str, Any], region: str, account_id: str
    ) -> dict[str, Any]:
        """PutFunctionEventInvokeConfig: the config becomes exactly the request's (a member left out
        is back to its default)."""
        function = self._moto_function(name_or_arn, qualifier, region, account_id)
        return self._save_event_invoke_config(function, checked_config(request))

    def update_event_invoke_config(
        self, name_or_arn: str, qualifier: str | None, request: dict[str, Any], region: str, account_id: str
    ) -> dict[str, Any]:
        """UpdateFunctionEventInvokeConfig: the request's members over the existing config's."""
        function = self._moto_function(name_or_arn, qualifier, region, account_id)
        current = self._event_invoke_config(function)
        if current is None:
            raise ResourceNotFoundException(f"The function {function.function_arn} doesn't have an EventInvokeConfig")
        kept = {member: current[member] for member in current if member not in ("FunctionArn", "LastModified")}
        return self._save_event_invoke_config(function, {**kept, **checked_config(request)})

    @staticmethod
    def _save_event_invoke_config(function: LambdaFunction, config: dict[str, Any]) -> dict[str, Any]:
        # moto's own class, so the snapshots pickle it with the function; one assignment, never a
        # list changed in place while a snapshot reads it.
        try:
            saved = EventInvokeConfig(f"{function.function_arn}:$LATEST", time.time(), config)  # type: ignore[arg-type]
        except LambdaClientError as refused:  # moto checks the destinations' ARNs
            raise ValidationException(refused.message) from None
        function.event_invoke_config = [saved]
        return saved.response()

    def get_event_invoke_config(
        self, name_or_arn: str, qualifier: str | None, region: str, account_id: str
    ) -> dict[str, Any]:
        function = self._moto_function(name_or_arn, qualifier, region, account_id)
        config = self._event_invoke_config(function)
        if config is None:
            raise ResourceNotFoundException(f"The function {function.function_arn} doesn't have an EventInvokeConfig")
        return config

    def delete_event_invoke_config(self, name_or_arn: str, qualifier: str | None, region: str, account_id: str) -> None:
        function = self._moto_function(name_or_arn, qualifier, region, account_id)
        if self._event_invoke_config(function) is None:
            raise ResourceNotFoundException(f"The function {function.function_arn} doesn't have an EventInvokeConfig")
        function.event_invoke_config = []

    def list_event_invoke_configs(self, name_or_arn: str, region: str, account_id: str) -> list[dict[str, Any]]:
        config = self._event_invoke_config(self._moto_function(name_or_arn, None, region, account_id))
        return [config] if config is not None else []

    def async_settings(self, name_or_arn: str, region: str, account_id: str) -> AsyncSettings:
        """What the function's ``Event`` invocations obey now."""
        function = self._moto_function(name_or_arn, None, region, account_id)
        return AsyncSettings.of(self._event_invoke_config(function))

    # -- event source mappings -------------------------------------------------------------------

    def create_event_source_mapping(self, request: dict[str, Any], region: str, account_id: str) -> dict[str, Any]:
        source_arn = request.get("EventSourceArn", "")
        queue_region, queue_account, queue_name = _parse_sqs_arn(source_arn)
        function = self.function_spec(request.get("FunctionName", ""), region, account_id)
        self._check_queue(queue_region, queue_account, queue_name)
        batch_size = request.get("BatchSize", DEFAULT_BATCH_SIZE)
        window = request.get("MaximumBatchingWindowInSeconds", 0)
        mapping = EventSourceMapping(
            uuid=str(uuid.uuid4()),
            function_arn=function.arn,
            event_source_arn=source_arn,
            batch_size=batch_size,
            batching_window_seconds=window,
            enabled=request.get("Enabled", True),
            function_response_types=list(request.get("FunctionResponseTypes") or []),
            maximum_concurrency=(request.get("ScalingConfig") or {}).get("MaximumConcurrency"),
        )
        _check_mapping(mapping)
        with self._lock:
            for existing in self._mappings.values():
                if existing.function_arn == mapping.function_arn and existing.event_source_arn == source_arn:
                    raise ResourceConflictException(
                        f'An event source mapping with SQS arn (" {source_arn} ") and function (" '
                        f'{function.name} ") already exists. Please update or delete the existing mapping '
                        f"with UUID {existing.uuid}"
                    )
            self._mappings[mapping.uuid] = mapping
            self._start_pollers(mapping)
        return mapping.to_api()

    def get_event_source_mapping(self, mapping_uuid: str) -> dict[str, Any]:
        return self._mapping(mapping_uuid).to_api()

    def list_event_source_mappings(
        self, region: str, account_id: str, source_arn: str | None = None, function_name: str | None = None
    ) -> list[dict[str, Any]]:
        function_arn = self.function_spec(function_name, region, account_id).arn if function_name else None
        with self._lock:
            mappings = list(self._mappings.values())
        return [
            m.to_api()
            for m in mappings
            if (source_arn is None or m.event_source_arn == source_arn)
            and (function_arn is None or m.function_arn == function_arn)
        ]

    def update_event_source_mapping(
        self, mapping_uuid: str, request: dict[str, Any], region: str, account_id: str
    ) -> dict[str, Any]:
        mapping = self._mapping(mapping_uuid)
        changes: dict[str, Any] = {}
        if "FunctionName" in request:
            changes["function_arn"] = self.function_spec(request["FunctionName"], region, account_id).arn
        for member, attribute in (
            ("BatchSize", "batch_size"),
            ("MaximumBatchingWindowInSeconds", "batching_window_seconds"),
            ("Enabled", "enabled"),
        ):
            if member in request:
                changes[attribute] = request[member]
        if "FunctionResponseTypes" in request:
            changes["function_response_types"] = list(request["FunctionResponseTypes"] or [])
        if "ScalingConfig" in request:
            changes["maximum_concurrency"] = (request["ScalingConfig"] or {}).get("MaximumConcurrency")
        updated = EventSourceMapping(**{**mapping.__dict__, **changes, "last_modified": time.time()})
        _check_mapping(updated)
        with self._lock:
            self._stop_pollers(mapping_uuid)
            self._mappings[mapping_uuid] = updated
            self._start_pollers(updated)
        return updated.to_api()

    def delete_event_source_mapping(self, mapping_uuid: str) -> dict[str, Any]:
        with self._lock:
            mapping = self._mappings.pop(mapping_uuid, None)
            if mapping is None:
                raise ResourceNotFoundException(f"The resource you requested does not exist. (UUID {mapping_uuid})")
            self._stop_pollers(mapping_uuid)
        return {**mapping.to_api(), "State": "Deleting"}

    def saved_mappings(self) -> list[dict[str, Any]]:
        """The mappings as plain values, for the endpoint's state snapshots."""
        with self._lock:
            return [dict(mapping.__dict__) for mapping in self._mappings.values()]

    def restore_mappings(self, saved: list[dict[str, Any]]) -> None:
        """Bring back the mappings of a snapshot, and their pollers, as they were."""
        with self._lock:
            for values in saved:
                mapping = EventSourceMapping(**values)
                self._mappings[mapping.uuid] = mapping
                self._start_pollers(mapping)

    def _mapping(self, mapping_uuid: str) -> EventSourceMapping:
        with self._lock:
            mapping = self._mappings.get(mapping_uuid)
        if mapping is None:
            raise ResourceNotFoundException(f"The resource you requested does not exist. (UUID {mapping_uuid})")
        return mapping

    def _check_queue(self, region: str, account_id: str, name: str) -> None:
        try:
            self._client("sqs", region_name=region).get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account_id)
        except ClientError:
            raise InvalidParameterValueException(
                f"Error occurred while ReceiveMessage. SQS Error: queue {name} does not exist"
            ) from None

    def _start_pollers(self, mapping: EventSourceMapping) -> None:
        if not mapping.enabled:
            return
        count = mapping.maximum_concurrency or self.settings.default_concurrency
        pollers = [SqsPoller(mapping, self, index) for index in range(count)]
        self._pollers[mapping.uuid] = pollers
        for poller in pollers:
            poller.start()

    def _stop_pollers(self, mapping_uuid: str) -> None:
        for poller in self._pollers.pop(mapping_uuid, []):
            poller.stop()

    def queue_client(self, mapping: EventSourceMapping) -> Any:
        return self._client("sqs", region_name=mapping.queue_region)

    def queue_url(self, mapping: EventSourceMapping) -> str:
        _, account_id, name = _parse_sqs_arn(mapping.event_source_arn)
        return self.queue_client(mapping).get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account_id)["QueueUrl"]

    def mapping_function(self, mapping: EventSourceMapping) -> FunctionSpec:
        region, account_id = mapping.function_arn.split(":")[3:5]
        return self.function_spec(mapping.function_arn, region, account_id)

    def shutdown(self) -> None:
        """Stop every poller (waiting briefly for their current poll), then every worker."""
        with self._lock:
            pollers = [poller for pollers in self._pollers.values() for poller in pollers]
            for mapping_uuid in list(self._pollers):
                self._stop_pollers(mapping_uuid)
        for poller in pollers:
            poller.join(timeout=2 * POLL_WAIT_SECONDS)
        with self._lock:
            self._closed = True
            pools = list(self._event_pools.values())
        dropped = self._retries.close()  # outside the lock: a retry being queued takes it
        if dropped:
            log.info("%d asynchronous invocation(s) waiting for a retry dropped", dropped)
        for pool in pools:  # queued invocations are dropped; running ones end with their workers
            pool.shutdown(wait=False, cancel_futures=True)
        self.runner.shutdown()


def _check_mapping(mapping: EventSourceMapping) -> None:
    """What CreateEventSourceMapping refuses for an SQS source."""
    if not 1 <= mapping.batch_size <= MAX_BATCH_SIZE:
        raise InvalidParameterValueException(f"BatchSize must be between 1 and {MAX_BATCH_SIZE} for SQS")
    if not 0 <= mapping.batching_window_seconds <= MAX_BATCHING_WINDOW_SECONDS:
        raise InvalidParameterValueException(
            f"MaximumBatchingWindowInSeconds must be between 0 and {MAX_BATCHING_WINDOW_SECONDS}"
        )
    if mapping.batch_size > MAX_BATCH_WITHOUT_WINDOW and mapping.batching_window_seconds < 1:
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )
    unknown = set(mapping.function_response_types) - {REPORT_BATCH_ITEM_FAILURES}
    if unknown:
        raise InvalidParameterValueException(f"FunctionResponseTypes: unknown value(s) {sorted(unknown)}")
    concurrency = mapping.maximum_concurrency
    if concurrency is not None and not MIN_MAXIMUM_CONCURRENCY <= concurrency <= MAX_MAXIMUM_CONCURRENCY:
        raise InvalidParameterValueException(
            f"ScalingConfig.MaximumConcurrency must be between {MIN_MAXIMUM_CONCURRENCY} and {MAX_MAXIMUM_CONCURRENCY}"
        )
