"""The component's settings: their types (read by Pulumi's schema inference, so every Pulumi language
sees the same inputs), their defaults, and the rule each value must follow.

A setting accepts a plain value or a ``pulumi.Input`` (an Output of another resource, or of a
StackReference). Plain values are checked at once, before any resource is declared; an Output is
checked when it resolves, and a bad value fails the deployment with the same message.

No ``from __future__ import annotations`` here: Pulumi's schema analyzer reads these annotations at
run time and cannot resolve them as strings.
"""

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Optional, TypedDict

import pulumi
from pulumi.provider.experimental.util import camel_case


class ConfigError(ValueError):
    """A setting the component cannot build from; the message names it and says how to fix it."""


class FaceDetectionPipelineArgs(TypedDict, total=False):
    """Settings of FaceDetectionPipeline, all optional: the defaults are the secure, general-purpose choice."""

    tags: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Tags put on every taggable resource, e.g. {"team": "vision"}."""
    version_retention_days: Optional[pulumi.Input[int]]
    """Days a noncurrent (overwritten or deleted) video version is kept before S3 expires it (1-36500, default 30)."""
    max_receive_count: Optional[pulumi.Input[int]]
    """Receives of one completion message before SQS moves it to the dead-letter queue (1-1000, default 5)."""
    raw_message_delivery: Optional[pulumi.Input[bool]]
    """Deliver the bare Rekognition notification JSON to the queue instead of the SNS envelope (default false)."""
    existing_bucket_name: Optional[pulumi.Input[str]]
    """Use this existing bucket for videos instead of creating one (no bucket resources are made)."""
    bucket_kms_key_arn: Optional[pulumi.Input[str]]
    """Customer-managed KMS key ARN for the bucket (SSE-KMS), or the one existingBucketName uses; unset: SSE-S3."""
    topic_kms_key_arn: Optional[pulumi.Input[str]]
    """Customer-managed KMS key ARN for the completion topic; unset means the AWS-managed alias/aws/sns."""
    queue_kms_key_arn: Optional[pulumi.Input[str]]
    """Customer-managed KMS key ARN for both queues (its policy must let SNS use it); unset: SQS-managed SSE."""
    force_destroy: Optional[pulumi.Input[bool]]
    """Let `pulumi destroy` delete the video bucket even when it still holds videos (default false)."""
    auto_process: Optional[bool]
    """Process each upload under incomingPrefix by itself, on S3 events and two Lambda functions (default false)."""
    incoming_prefix: Optional[pulumi.Input[str]]
    """With autoProcess: new .mp4/.mov/.avi objects under this key prefix are processed (default videos/)."""
    results_prefix: Optional[pulumi.Input[str]]
    """With autoProcess: results go to <resultsPrefix><video key>.faces.json or .error.json (default results/)."""
    intake_max_receive_count: Optional[pulumi.Input[int]]
    """With autoProcess: tries of one upload event before the intake dead-letter queue (1-1000, default 100)."""
    redact: Optional[bool]
    """With autoProcess: a third function writes <resultsPrefix><key>.redacted.mp4, faces blurred (default false)."""
    redact_layer_arn: Optional[pulumi.Input[str]]
    """With redact: the Lambda layer version with PyAV, NumPy and Pillow for python3.12 (make redactor-layer)."""
    alarms: Optional[bool]
    """CloudWatch alarms on dead-letter queues, queue ages (and the functions) and a dashboard (default true)."""
    alarm_topic_arn: Optional[pulumi.Input[str]]
    """Send alarms to this existing SNS topic instead of one the stack creates."""
    alarm_email: Optional[pulumi.Input[str]]
    """Subscribe this address to the alarm topic the stack creates (SNS asks it to confirm)."""


_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# A key ARN only: IAM names a KMS key by its key ARN, never by an alias (a grant on an alias ARN covers
# the alias, not the key behind it), and every key setting is also the Resource of a grant.
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/.+$")
_KMS_ALIAS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:alias/.+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_LAYER_VERSION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]{1,140}:\d+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Returns the value to use, or raises ConfigError with a message naming the setting (``key``).
Check = Callable[[str, Any], Any]


def _tags(key: str, value: Any) -> Any:
    if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return value
    raise ConfigError(f'{key} must be a JSON object of strings, e.g. {{"team": "vision"}}')


def _whole_number(low: int, high: int, unit: str) -> Check:
    def check(key: str, value: Any) -> int:
        # Numbers from another stack or another language arrive as floats (JSON has one number type).
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        raise ConfigError(f"{key} must be between {low} and {high} {unit}, got {value!r}")

    return check


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{key} must be true or false, got {value!r}")


def _bucket_name(key: str, value: Any) -> str:
    if isinstance(value, str) and _BUCKET_NAME.match(value):
        return value
    raise ConfigError(
        f"{key} {value!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)"
    )


def _kms_key_arn(key: str, value: Any) -> str:
    if isinstance(value, str) and _KMS_KEY_ARN.match(value):
        return value
    if isinstance(value, str) and _KMS_ALIAS_ARN.match(value):
        alias = value.split(":", 5)[5]
        raise ConfigError(
            f"{key} must be the key's ARN, not an alias ARN ({value!r}): IAM grants on an alias ARN do not cover "
            f"the key; find it with `aws kms describe-key --key-id {alias} --query KeyMetadata.Arn`"
        )
    raise ConfigError(f"{key} must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), got {value!r}")


def _key_prefix(key: str, value: Any) -> str:
    if isinstance(value, str) and not value.startswith("/") and len(value) <= 1024:
        return value
    raise ConfigError(f"{key} {value!r} must be an S3 key prefix such as 'videos/' (no leading '/')")


def _topic_arn(key: str, value: Any) -> str:
    if isinstance(value, str) and _TOPIC_ARN.match(value):
        return value
    raise ConfigError(f"{key} must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), got {value!r}")


def _layer_version_arn(key: str, value: Any) -> str:
    if isinstance(value, str) and _LAYER_VERSION_ARN.match(value):
        return value
    raise ConfigError(
        f"{key} must be a Lambda layer version ARN (arn:aws:lambda:<region>:<account>:layer:<name>:<version>), "
        f"got {value!r}"
    )


def _email(key: str, value: Any) -> str:
    if isinstance(value, str) and _EMAIL.match(value):
        return value
    raise ConfigError(f"{key} must be an email address, got {value!r}")


# Each child's physical name is <component name><suffix>-<7 random hex> (Pulumi's AWS provider
# auto-naming, which lower-cases a bucket's), and the provider refuses one longer than its service
# allows only when it reaches that child, after others are made. The longest child name of each
# limited kind: (suffix, the service's maximum length, what it names).
AUTO_NAME_RANDOM_LENGTH = len("-") + 7
BUCKET_SUFFIX = "-videos"
LONGEST_CHILD_NAMES = (
    (BUCKET_SUFFIX, 63, "S3 bucket"),
    ("-rekognition", 64, "IAM role"),
    ("-collector", 64, "Lambda function"),
    ("-intake-dead-letter", 80, "SQS queue"),
)
MAX_NAME_LENGTH = min(limit - len(suffix) - AUTO_NAME_RANDOM_LENGTH for suffix, limit, _ in LONGEST_CHILD_NAMES)
# What every child's name takes: no '.' (SQS, SNS and Lambda refuse it), a letter or digit first (S3);
# and when the component makes the bucket, no '_' either (S3 refuses it in a bucket's name; every other
# child takes it, so a stack on an existingBucketName may use it). S3 also reserves bucket names
# starting with these.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_NAME_WITHOUT_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")


def check_name(key: str, value: Any, makes_bucket: bool = True) -> str:
    """The component's name, if every child named after it is a name AWS accepts: refused here,
    before anything is declared, it is not found by a deployment that stops half-way. A bucket's
    rules apply only if the component ``makes_bucket`` (no existingBucketName)."""
    pattern, characters = (
        (_NAME, "letters, digits and hyphens")
        if makes_bucket
        else (_NAME_WITHOUT_BUCKET, "letters, digits, hyphens and underscores")
    )
    rule = f"use 1-{MAX_NAME_LENGTH} ASCII {characters}, starting with a letter or digit"
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string: {rule}, got {value!r}")
    if not pattern.fullmatch(value):
        suggestion = re.sub(r"[^A-Za-z0-9-]+", "-", value).strip("-")[:MAX_NAME_LENGTH]
        example = f"e.g. {suggestion!r}" if suggestion and _NAME.fullmatch(suggestion) else "e.g. 'faces'"
        raise ConfigError(f"{key} {value!r} cannot start AWS resource names: {rule} ({example})")
    if len(value) > MAX_NAME_LENGTH:
        suffix, limit, kind = min(LONGEST_CHILD_NAMES, key=lambda row: row[1] - len(row[0]))
        raise ConfigError(
            f"{key} {value!r} has {len(value)} characters, at most {MAX_NAME_LENGTH} fit: the {kind} named "
            f"<name>{suffix}-<7 random characters> may have {limit}; shorten it"
        )
    bucket = f"{value}{BUCKET_SUFFIX}".lower()
    reserved = [prefix for prefix in _RESERVED_BUCKET_PREFIXES if bucket.startswith(prefix)]
    if reserved and makes_bucket:
        raise ConfigError(
            f"{key} {value!r} would name the S3 bucket {bucket}-…, and S3 reserves names starting with "
            f"{reserved[0]!r}: choose another"
        )
    return value


@dataclass(frozen=True)
class Setting:
    """One argument of the component: its default (None: unset) and the check a given value goes through."""

    default: Any
    check: Check


# One row per field of FaceDetectionPipelineArgs (a test keeps them in step).
SETTINGS: dict[str, Setting] = {
    "tags": Setting({}, _tags),
    "version_retention_days": Setting(30, _whole_number(1, 36500, "days")),
    "max_receive_count": Setting(5, _whole_number(1, 1000, "(SQS's limit)")),
    "raw_message_delivery": Setting(False, _boolean),
    "existing_bucket_name": Setting(None, _bucket_name),
    "bucket_kms_key_arn": Setting(None, _kms_key_arn),
    "topic_kms_key_arn": Setting(None, _kms_key_arn),
    "queue_kms_key_arn": Setting(None, _kms_key_arn),
    "force_destroy": Setting(False, _boolean),
    "auto_process": Setting(False, _boolean),
    "incoming_prefix": Setting("videos/", _key_prefix),
    "results_prefix": Setting("results/", _key_prefix),
    # A try refused with LimitExceeded counts: generous, about 4 hours of jittered backoff (8 at most).
    "intake_max_receive_count": Setting(100, _whole_number(1, 1000, "(SQS's limit)")),
    "redact": Setting(False, _boolean),
    "redact_layer_arn": Setting(None, _layer_version_arn),
    "alarms": Setting(True, _boolean),
    "alarm_topic_arn": Setting(None, _topic_arn),
    "alarm_email": Setting(None, _email),
}
DEFAULTS: dict[str, Any] = {name: setting.default for name, setting in SETTINGS.items()}
# Known when the resources are declared, so never an Output: it decides which resources exist.
PLAIN_SETTINGS = frozenset({"auto_process", "redact", "alarms"})


def setting_key(name: str) -> str:
    """The name users see: the stack config key and the schema property (camelCase)."""
    return camel_case(name)


def _is_plain(value: Any) -> bool:
    """A value known now: no Output or awaitable in it (tags may hold Outputs as values)."""
    if isinstance(value, (pulumi.Output, Awaitable)):
        return False
    if isinstance(value, Mapping):
        return all(_is_plain(v) for v in value.values())
    return True


def checked_args(args: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """Every setting, defaulted and checked: plain values now (a ConfigError before anything is
    declared), Outputs when they resolve (the returned Output fails with the same ConfigError).

    A plain None or "" means unset. A setting given as an Output is set, so its resolved value must be
    valid: the component decides which resources to declare before values are known."""
    given = dict(args or {})
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; the settings are {', '.join(SETTINGS)}")
    checked: dict[str, Any] = {}
    for name, setting in SETTINGS.items():
        value = given.get(name)
        if value is None or (isinstance(value, str) and value == ""):
            checked[name] = setting.default
        elif _is_plain(value):
            checked[name] = setting.check(setting_key(name), value)
        elif name in PLAIN_SETTINGS:
            raise ConfigError(
                f"{setting_key(name)} decides which resources are declared: give a plain value, not an Output"
            )
        else:
            checked[name] = pulumi.Output.from_input(value).apply(partial(setting.check, setting_key(name)))
    return checked
