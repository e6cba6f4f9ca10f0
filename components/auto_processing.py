"""Auto-processing (``autoProcess: true``): every video uploaded under the incoming prefix is processed
by the stack itself, on S3 events, SQS and Lambda, with no launcher running.

    S3 ObjectCreated (incoming prefix, video suffixes) -> intake queue (+ its DLQ) -> starter function
      -> StartFaceDetection -> topic -> completion queue -> collector function -> results/<key>.faces.json

With ``redact: true`` a third function, the redactor, writes ``<resultsPrefix><key>.redacted.mp4``
(every face covered, ``launcher.redact``) after the collector: the collector invokes it
asynchronously for each SUCCEEDED job on a video under the incoming prefix. It needs PyAV, NumPy
and Pillow, which the Lambda runtime lacks: they come in a layer (``redactLayerArn``, built by
``make redactor-layer``); the light functions' zip stays as it was.

The functions' code is the launcher's own library (``launcher.functions.starter``, ``launcher.functions.collector``),
packaged from the ``launcher`` folder: one source of truth for the token and the result document.

Timeouts and batch sizes:
- Starter: batches of 10 records (SQS's largest receive), no batching window (a start should not
  wait), 60 s timeout (per record a HeadObject and a StartFaceDetection with one quick retry; a
  record that must wait longer is put back in the queue with a backoff, not held on Lambda's clock).
- Collector: one completion per batch, 300 s timeout: one job's results can be 100 pages of 1,000
  faces; several in a batch would share one timeout and be retried together.
- Redactor: Lambda's largest function, 10,240 MB (6 vCPUs: the encoder and the audit use them
  all), 900 s (Lambda's longest), 10,240 MB of /tmp for the copy before its upload. It checks
  before it starts that the video fits that time (``launcher.functions.redactor``), and otherwise
  writes ``.redacted.error.json``; it is not fed by a queue (no batch, no visibility timeout).
- Redactor retries: none (``MaximumRetryAttempts: 0``, where Lambda's default retries a failed
  asynchronous invocation twice). A failure it knows of is written as ``.redacted.error.json``, not
  raised; what it raises is a bug or a video it cannot handle, which fails again the same way, and
  each retry would be up to another 15 minutes at 10 GB. Its events may wait in Lambda's queue up
  to ``MaximumEventAgeInSeconds`` 21,600 s (6 hours, the most Lambda allows, said out loud): with no
  retry that limit only drops an event still waiting (throttled, say, while many jobs finish at
  once), which leaves neither a redacted copy nor an error object, whereas a late copy is still right.
  The starter and the collector need no such setting: their event source mappings invoke them
  synchronously, and a failed batch goes back to its queue, then its dead-letter queue.
- Each queue's visibility timeout is 6x its function's timeout (AWS's advice for event source
  mappings), so a batch still running is never handed out twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from rekognition_limits import suffix_variants

from . import policies
from .documents import policy_json
from .queues import queue_with_dead_letter

PROJECT_DIR = Path(__file__).resolve().parents[1]
# The launcher's Lambda-safe packages, and the one top-level module they import: the service's limits.
LAUNCHER_DIR = PROJECT_DIR / "launcher"
SHARED_MODULES = ("rekognition_limits.py",)
FUNCTION_FOLDERS = ("jobs", "functions")
# The redactor's zip adds the redaction (PyAV, NumPy and Pillow come from its layer) and the one
# module of the report it uses (the audit's leak thumbnails).
REDACTOR_FOLDERS = (*FUNCTION_FOLDERS, "redact")
REDACTOR_MODULES = ("report/__init__.py", "report/thumbnails.py")
REDACTOR_HANDLER_MODULE = "functions/redactor.py"  # left out of the light zip: it needs the layer
RUNTIME = "python3.12"
ARCHITECTURE = "x86_64"  # the layer's wheels are built for it (manylinux x86_64)
STARTER_TIMEOUT_SECONDS = 60
STARTER_BATCH_SIZE = 10
COLLECTOR_TIMEOUT_SECONDS = 300
COLLECTOR_BATCH_SIZE = 1
STARTER_MEMORY_MB = 128
COLLECTOR_MEMORY_MB = 256
REDACTOR_TIMEOUT_SECONDS = 900  # Lambda's longest
REDACTOR_MEMORY_MB = 10240  # Lambda's largest: 6 vCPUs
REDACTOR_EPHEMERAL_STORAGE_MB = 10240  # Lambda's largest /tmp: the copy is written there, then uploaded
REDACTOR_RETRY_ATTEMPTS = 0  # a failed asynchronous invocation is not run again (module docstring)
REDACTOR_EVENT_AGE_SECONDS = 21600  # Lambda's longest: with no retry, only a queued event can be that old
VISIBILITY_PER_TIMEOUT = 6
COMPLETION_VISIBILITY_SECONDS = VISIBILITY_PER_TIMEOUT * COLLECTOR_TIMEOUT_SECONDS
LOG_RETENTION_DAYS = 30
REPORT_BATCH_ITEM_FAILURES = ["ReportBatchItemFailures"]


def function_package(redactor: bool = False) -> pulumi.AssetArchive:
    """The functions' zip: the launcher's Lambda-safe core (``jobs/``), the functions themselves
    (``functions/``) and the shared top-level module they import; nothing of the CLI, the batch or the
    report is deployed. The redactor's (``redactor=True``) adds ``redact/``, the report's thumbnails
    and the redactor's handler, which the light zip leaves out."""
    folders = REDACTOR_FOLDERS if redactor else FUNCTION_FOLDERS
    files = {
        path.relative_to(PROJECT_DIR).as_posix(): path
        for folder in folders
        for path in sorted((LAUNCHER_DIR / folder).glob("*.py"))
    }
    if redactor:
        files.update({f"launcher/{name}": LAUNCHER_DIR / name for name in REDACTOR_MODULES})
    else:
        files.pop(f"launcher/{REDACTOR_HANDLER_MODULE}", None)
    files["launcher/__init__.py"] = LAUNCHER_DIR / "__init__.py"
    files.update({name: PROJECT_DIR / name for name in SHARED_MODULES})
    return pulumi.AssetArchive({name: pulumi.FileAsset(str(path)) for name, path in sorted(files.items())})


@dataclass(frozen=True)
class AutoProcessingInputs:
    """What auto-processing is built on: the pipeline's resources and settings."""

    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    topic_arn: pulumi.Input[str]
    role_arn: pulumi.Input[str]
    completion_queue_arn: pulumi.Input[str]
    completion_queue_url: pulumi.Input[str]
    account_id: pulumi.Input[str]
    region: pulumi.Input[str]
    incoming_prefix: pulumi.Input[str]
    results_prefix: pulumi.Input[str]
    intake_max_receive_count: pulumi.Input[int]
    queue_encryption: Mapping[str, Any]
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    bucket_kms_key_arn: Optional[pulumi.Input[str]] = None
    queue_kms_key_arn: Optional[pulumi.Input[str]] = None
    redact_layer_arn: Optional[pulumi.Input[str]] = None  # set: declare the redactor, with this layer


@dataclass(frozen=True)
class AutoProcessingOutputs:
    incoming_prefix: pulumi.Output[str]
    results_prefix: pulumi.Output[str]
    intake_queue_url: pulumi.Output[str]
    starter_function_name: pulumi.Output[str]
    collector_function_name: pulumi.Output[str]
    intake_queue_name: pulumi.Output[str]
    intake_dead_letter_queue_name: pulumi.Output[str]
    redactor_function_name: Optional[pulumi.Output[str]] = None


def add_auto_processing(parent: pulumi.Resource, name: str, inputs: AutoProcessingInputs) -> AutoProcessingOutputs:
    """Declare the intake queue, the bucket notification and the two functions (three with the
    redactor) as children of ``parent``."""
    child = pulumi.ResourceOptions(parent=parent)
    tags = inputs.tags

    intake, intake_dead_letter = queue_with_dead_letter(
        f"{name}-intake",
        f"{name}-intake-dead-letter",
        max_receive_count=inputs.intake_max_receive_count,
        encryption=inputs.queue_encryption,
        tags=tags,
        opts=child,
        visibility_timeout_seconds=VISIBILITY_PER_TIMEOUT * STARTER_TIMEOUT_SECONDS,
    )
    intake_policy = aws.sqs.QueuePolicy(
        f"{name}-intake",
        queue_url=intake.url,
        policy=policy_json(
            policies.intake_queue_policy,
            queue_arn=intake.arn,
            bucket_arn=inputs.bucket_arn,
            account_id=inputs.account_id,
        ),
        opts=child,
    )
    # S3 checks at once that it may send to the queue: the queue policy first.
    aws.s3.BucketNotification(
        f"{name}-videos",
        bucket=inputs.bucket_name,
        queues=[
            aws.s3.BucketNotificationQueueArgs(
                id=f"new-video{suffix}",
                queue_arn=intake.arn,
                events=["s3:ObjectCreated:*"],
                filter_prefix=inputs.incoming_prefix,
                filter_suffix=suffix,
            )
            for suffix in suffix_variants()
        ],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[intake_policy]),
    )

    environment = {
        "BUCKET_NAME": inputs.bucket_name,
        "INCOMING_PREFIX": inputs.incoming_prefix,
        "RESULTS_PREFIX": inputs.results_prefix,
        "TOPIC_ARN": inputs.topic_arn,
        "ROLE_ARN": inputs.role_arn,
    }
    keys = {
        "bucket_kms_key_arn": inputs.bucket_kms_key_arn,
        "queue_kms_key_arn": inputs.queue_kms_key_arn,
        "region": inputs.region,
    }
    starter = _function(
        parent,
        f"{name}-starter",
        description="Starts face detection on each new video version under the incoming prefix.",
        handler="launcher.functions.starter.handler",
        timeout=STARTER_TIMEOUT_SECONDS,
        memory=STARTER_MEMORY_MB,
        environment={**environment, "QUEUE_URL": intake.url},
        queue_arn=intake.arn,
        batch_size=STARTER_BATCH_SIZE,
        tags=tags,
        policy=lambda log_group_arn: policy_json(
            policies.starter_policy,
            queue_arn=intake.arn,
            bucket_arn=inputs.bucket_arn,
            incoming_prefix=inputs.incoming_prefix,
            results_prefix=inputs.results_prefix,
            role_arn=inputs.role_arn,
            log_group_arn=log_group_arn,
            **keys,
        ),
    )
    redactor = None
    redactor_settings: list[pulumi.Resource] = []
    collector_environment = {**environment, "QUEUE_URL": inputs.completion_queue_url}
    if inputs.redact_layer_arn is not None:
        redactor = _function(
            parent,
            f"{name}-redactor",
            description="Writes each processed video's redacted copy (every face covered) into the bucket.",
            handler="launcher.functions.redactor.handler",
            timeout=REDACTOR_TIMEOUT_SECONDS,
            memory=REDACTOR_MEMORY_MB,
            environment={"BUCKET_NAME": inputs.bucket_name, "RESULTS_PREFIX": inputs.results_prefix},
            tags=tags,
            policy=lambda log_group_arn: policy_json(
                policies.redactor_policy,
                bucket_arn=inputs.bucket_arn,
                incoming_prefix=inputs.incoming_prefix,
                results_prefix=inputs.results_prefix,
                log_group_arn=log_group_arn,
                region=inputs.region,
                bucket_kms_key_arn=inputs.bucket_kms_key_arn,
            ),
            code=function_package(redactor=True),
            layers=[inputs.redact_layer_arn],
            ephemeral_storage=REDACTOR_EPHEMERAL_STORAGE_MB,
        )
        invoke_config = aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-redactor",
            function_name=redactor.name,
            maximum_retry_attempts=REDACTOR_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=REDACTOR_EVENT_AGE_SECONDS,
            opts=child,
        )
        redactor_settings.append(invoke_config)  # in place before the collector's first invocation
        collector_environment["REDACTOR_FUNCTION"] = redactor.arn
    collector = _function(
        parent,
        f"{name}-collector",
        description="Writes each finished face-detection job's results into the bucket.",
        handler="launcher.functions.collector.handler",
        timeout=COLLECTOR_TIMEOUT_SECONDS,
        memory=COLLECTOR_MEMORY_MB,
        environment=collector_environment,
        queue_arn=inputs.completion_queue_arn,
        batch_size=COLLECTOR_BATCH_SIZE,
        tags=tags,
        policy=lambda log_group_arn: policy_json(
            policies.collector_policy,
            queue_arn=inputs.completion_queue_arn,
            bucket_arn=inputs.bucket_arn,
            results_prefix=inputs.results_prefix,
            log_group_arn=log_group_arn,
            **keys,
            **({"redactor_function_arn": redactor.arn} if redactor is not None else {}),
        ),
        depends_on=redactor_settings,
    )
    return AutoProcessingOutputs(
        pulumi.Output.from_input(inputs.incoming_prefix),
        pulumi.Output.from_input(inputs.results_prefix),
        intake.url,
        starter.name,
        collector.name,
        intake.name,
        intake_dead_letter.name,
        redactor.name if redactor is not None else None,
    )


def _function(
    parent: pulumi.Resource,
    name: str,
    *,
    description: str,
    handler: str,
    timeout: int,
    memory: int,
    environment: Mapping[str, pulumi.Input[str]],
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]],
    policy: Callable[[pulumi.Output[str]], pulumi.Output[str]],
    queue_arn: Optional[pulumi.Input[str]] = None,
    batch_size: int = 1,
    code: Optional[pulumi.AssetArchive] = None,
    layers: Optional[list[pulumi.Input[str]]] = None,
    ephemeral_storage: Optional[int] = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> aws.lambda_.Function:
    """One function with its own log group, execution role and policy, fed by ``queue_arn`` (None:
    invoked directly, no event source mapping); declared after ``depends_on`` as well."""
    child = pulumi.ResourceOptions(parent=parent)
    log_group = aws.cloudwatch.LogGroup(
        name, name_prefix=f"/aws/lambda/{name}-", retention_in_days=LOG_RETENTION_DAYS, tags=tags, opts=child
    )
    role = aws.iam.Role(
        name,
        description=f"Execution role of the {name} function.",
        assume_role_policy=pulumi.Output.json_dumps(policies.lambda_trust_policy()),
        tags=tags,
        opts=child,
    )
    role_policy = aws.iam.RolePolicy(name, role=role.id, policy=policy(log_group.arn), opts=child)
    function = aws.lambda_.Function(
        name,
        description=description,
        runtime=RUNTIME,
        handler=handler,
        code=code or function_package(),
        role=role.arn,
        timeout=timeout,
        memory_size=memory,
        architectures=[ARCHITECTURE] if layers else None,
        layers=layers,
        ephemeral_storage=(
            aws.lambda_.FunctionEphemeralStorageArgs(size=ephemeral_storage) if ephemeral_storage else None
        ),
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
        tags=tags,
        # Its first invocation must find its permissions and its log group in place.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role_policy, log_group, *depends_on]),
    )
    if queue_arn is None:
        return function
    aws.lambda_.EventSourceMapping(
        name,
        event_source_arn=queue_arn,
        function_name=function.arn,
        batch_size=batch_size,
        maximum_batching_window_in_seconds=0,
        function_response_types=REPORT_BATCH_ITEM_FAILURES,
        opts=child,
    )
    return function
