"""The FaceDetectionPipeline component: everything Rekognition Video needs to run one face-detection
job on a video in S3 and tell us it is done."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from . import policies
from .auto_processing import (
    COMPLETION_VISIBILITY_SECONDS,
    AutoProcessingInputs,
    AutoProcessingOutputs,
    add_auto_processing,
)

TYPE_TOKEN = "rekognition-faces:index:FaceDetectionPipeline"

# AWS's managed AmazonRekognitionServiceRole allows sns:Publish on arn:aws:sns:*:*:AmazonRekognition*,
# so a topic named this way also works with that policy.
TOPIC_NAME_PREFIX = "AmazonRekognition"
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
# Rekognition keeps results 7 days; a completion message must be able to outlive them. 14 days is
# SQS's maximum.
QUEUE_RETENTION_SECONDS = 14 * 24 * 3600
# SQS's longest long poll: fewer empty receives, faster wake-up.
RECEIVE_WAIT_SECONDS = 20
# A multipart upload left unfinished this long will not be finished; its parts cost money.
ABORT_INCOMPLETE_UPLOAD_DAYS = 7

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+$")


class ConfigError(ValueError):
    """A setting the component cannot build from; the message names it and says how to fix it."""


@dataclass
class FaceDetectionPipelineArgs:
    """Settings of the stack. Defaults are the secure, general-purpose choice."""

    tags: Mapping[str, str] = field(default_factory=dict)
    version_retention_days: int = 30
    max_receive_count: int = 5
    raw_message_delivery: bool = False
    existing_bucket_name: Optional[str] = None
    bucket_kms_key_arn: Optional[str] = None
    topic_kms_key_arn: Optional[str] = None
    queue_kms_key_arn: Optional[str] = None
    force_destroy: bool = False
    auto_process: bool = False
    incoming_prefix: str = "videos/"
    results_prefix: str = "results/"
    intake_max_receive_count: int = 100

    def __post_init__(self) -> None:
        validate_args(self)


def validate_args(args: FaceDetectionPipelineArgs) -> None:
    """Refuse settings AWS would refuse later, half-way through a deployment."""
    if not isinstance(args.tags, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in args.tags.items()
    ):
        raise ConfigError('tags must be a JSON object of strings, e.g. {"team": "vision"}')
    if not 1 <= args.version_retention_days <= 36500:
        raise ConfigError(f"versionRetentionDays must be between 1 and 36500 days, got {args.version_retention_days}")
    if not 1 <= args.max_receive_count <= 1000:
        raise ConfigError(f"maxReceiveCount must be between 1 and 1000 (SQS's limit), got {args.max_receive_count}")
    if args.existing_bucket_name and not _BUCKET_NAME.match(args.existing_bucket_name):
        raise ConfigError(
            f"existingBucketName {args.existing_bucket_name!r} is not a valid S3 bucket name "
            "(3-63 lowercase letters, digits, dots and hyphens)"
        )
    if not 1 <= args.intake_max_receive_count <= 1000:
        raise ConfigError(
            f"intakeMaxReceiveCount must be between 1 and 1000 (SQS's limit), got {args.intake_max_receive_count}"
        )
    for setting, prefix in (("incomingPrefix", args.incoming_prefix), ("resultsPrefix", args.results_prefix)):
        if prefix.startswith("/") or len(prefix) > 1024:
            raise ConfigError(f"{setting} {prefix!r} must be an S3 key prefix such as 'videos/' (no leading '/')")
    if args.auto_process and args.incoming_prefix == args.results_prefix:
        raise ConfigError("incomingPrefix and resultsPrefix must differ, so that results are not taken for videos")
    for setting, value in (
        ("bucketKmsKeyArn", args.bucket_kms_key_arn),
        ("topicKmsKeyArn", args.topic_kms_key_arn),
        ("queueKmsKeyArn", args.queue_kms_key_arn),
    ):
        if value and not _KMS_KEY_ARN.match(value):
            raise ConfigError(
                f"{setting} must be a KMS key or alias ARN (arn:aws:kms:<region>:<account>:key/<id>), got {value!r}"
            )


def _policy_json(builder: Callable[..., policies.PolicyDocument], **inputs: Any) -> pulumi.Output[str]:
    """Resolve the inputs, build the document with a pure builder, serialise it."""
    return pulumi.Output.json_dumps(pulumi.Output.all(**inputs).apply(lambda values: builder(**values)))


class FaceDetectionPipeline(pulumi.ComponentResource):
    """Video bucket, completion topic, Rekognition service role, completion queue with its
    dead-letter queue, and the least-privilege policy for whoever runs the launcher."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    topic_arn: pulumi.Output[str]
    topic_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    dead_letter_queue_url: pulumi.Output[str]
    dead_letter_queue_arn: pulumi.Output[str]
    launcher_policy_arn: pulumi.Output[str]
    region: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: Optional[FaceDetectionPipelineArgs] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        args = args or FaceDetectionPipelineArgs()
        self._name = name
        self._args = args
        self._tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)

        invoke = pulumi.InvokeOutputOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke).partition
        self.region = aws.get_region_output(opts=invoke).region

        if args.existing_bucket_name:
            self.bucket_name = pulumi.Output.from_input(args.existing_bucket_name)
            self.bucket_arn = pulumi.Output.concat("arn:", partition, ":s3:::", args.existing_bucket_name)
        else:
            bucket = self._video_bucket(child)
            self.bucket_name = bucket.bucket
            self.bucket_arn = bucket.arn

        topic = aws.sns.Topic(
            f"{name}-completion",
            name_prefix=f"{TOPIC_NAME_PREFIX}-{name}-",
            kms_master_key_id=args.topic_kms_key_arn or AWS_MANAGED_SNS_KEY,
            tags=self._tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-rekognition",
            description="Assumed by Amazon Rekognition Video to publish job completion to the topic.",
            assume_role_policy=_policy_json(policies.rekognition_trust_policy, account_id=caller.account_id),
            tags=self._tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-rekognition-publish",
            role=role.id,
            policy=_policy_json(
                policies.service_role_policy,
                topic_arn=topic.arn,
                topic_kms_key_arn=args.topic_kms_key_arn,
            ),
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-completion",
            arn=topic.arn,
            policy=_policy_json(policies.topic_policy, topic_arn=topic.arn, role_arn=role.arn),
            opts=child,
        )

        dead_letter_queue = aws.sqs.Queue(
            f"{name}-dead-letter",
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            **self._queue_encryption(),
            tags=self._tags,
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-dead-letter",
            queue_url=dead_letter_queue.url,
            policy=_policy_json(policies.dead_letter_queue_policy, queue_arn=dead_letter_queue.arn),
            opts=child,
        )
        queue = aws.sqs.Queue(
            f"{name}-completion",
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            receive_wait_time_seconds=RECEIVE_WAIT_SECONDS,
            visibility_timeout_seconds=COMPLETION_VISIBILITY_SECONDS if args.auto_process else None,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": dead_letter_queue.arn, "maxReceiveCount": args.max_receive_count}
            ),
            **self._queue_encryption(),
            tags=self._tags,
            opts=child,
        )
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-completion",
            queue_url=queue.url,
            policy=_policy_json(policies.queue_policy, queue_arn=queue.arn, topic_arn=topic.arn),
            opts=child,
        )
        # Subscribe only once the queue accepts the topic's messages, so none is dropped.
        aws.sns.TopicSubscription(
            f"{name}-completion",
            topic=topic.arn,
            protocol="sqs",
            endpoint=queue.arn,
            raw_message_delivery=args.raw_message_delivery,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue_policy]),
        )

        launcher = aws.iam.Policy(
            f"{name}-launcher",
            description="Least privilege to run the face-detection launcher against this stack.",
            policy=_policy_json(
                policies.launcher_policy,
                bucket_arn=self.bucket_arn,
                role_arn=role.arn,
                queue_arn=queue.arn,
                bucket_kms_key_arn=args.bucket_kms_key_arn,
                queue_kms_key_arn=args.queue_kms_key_arn,
            ),
            tags=self._tags,
            opts=child,
        )

        self.topic_arn = topic.arn
        self.topic_name = topic.name
        self.role_arn = role.arn
        self.queue_url = queue.url
        self.queue_arn = queue.arn
        self.dead_letter_queue_url = dead_letter_queue.url
        self.dead_letter_queue_arn = dead_letter_queue.arn
        self.launcher_policy_arn = launcher.arn
        self.auto_processing: Optional[AutoProcessingOutputs] = None
        if args.auto_process:
            self.auto_processing = add_auto_processing(
                self,
                name,
                AutoProcessingInputs(
                    bucket_name=self.bucket_name,
                    bucket_arn=self.bucket_arn,
                    topic_arn=topic.arn,
                    role_arn=role.arn,
                    completion_queue_arn=queue.arn,
                    completion_queue_url=queue.url,
                    account_id=caller.account_id,
                    incoming_prefix=args.incoming_prefix,
                    results_prefix=args.results_prefix,
                    intake_max_receive_count=args.intake_max_receive_count,
                    queue_encryption=self._queue_encryption(),
                    tags=self._tags,
                    bucket_kms_key_arn=args.bucket_kms_key_arn,
                    queue_kms_key_arn=args.queue_kms_key_arn,
                ),
            )
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "bucketArn": self.bucket_arn,
                "topicArn": self.topic_arn,
                "topicName": self.topic_name,
                "roleArn": self.role_arn,
                "queueUrl": self.queue_url,
                "queueArn": self.queue_arn,
                "deadLetterQueueUrl": self.dead_letter_queue_url,
                "deadLetterQueueArn": self.dead_letter_queue_arn,
                "launcherPolicyArn": self.launcher_policy_arn,
                "region": self.region,
            }
        )

    def _queue_encryption(self) -> dict[str, Any]:
        if self._args.queue_kms_key_arn:
            return {"kms_master_key_id": self._args.queue_kms_key_arn}
        return {"sqs_managed_sse_enabled": True}

    def _video_bucket(self, child: pulumi.ResourceOptions) -> aws.s3.Bucket:
        name, args = self._name, self._args
        bucket = aws.s3.Bucket(f"{name}-videos", force_destroy=args.force_destroy, tags=self._tags, opts=child)
        aws.s3.BucketOwnershipControls(
            f"{name}-videos",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-videos",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        if args.bucket_kms_key_arn:  # SSE-KMS, with an S3 Bucket Key to cut KMS calls
            default_encryption = (
                aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=args.bucket_kms_key_arn
                )
            )
        else:
            default_encryption = (
                aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                )
            )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-videos",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=default_encryption,
                    bucket_key_enabled=bool(args.bucket_kms_key_arn),
                )
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-videos",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-videos",
            bucket=bucket.id,
            rules=[
                {
                    "id": "abort-incomplete-multipart-uploads",
                    "status": "Enabled",
                    "filter": {},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOAD_DAYS},
                },
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": args.version_retention_days},
                },
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        # S3 answers OperationAborted when a bucket policy and a public access block change at once.
        aws.s3.BucketPolicy(
            f"{name}-videos",
            bucket=bucket.id,
            policy=_policy_json(policies.bucket_policy, bucket_arn=bucket.arn),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )
        return bucket
