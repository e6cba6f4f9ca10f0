"""The FaceDetectionPipeline component: everything Rekognition Video needs to run one face-detection
job on a video in S3 and tell us it is done."""

from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from . import policies
from .alarms import AlarmSettings, Watched, add_alarms
from .auto_processing import (
    COMPLETION_VISIBILITY_SECONDS,
    AutoProcessingInputs,
    add_auto_processing,
)
from .documents import policy_json
from .queues import queue_with_dead_letter
from .settings import ConfigError, FaceDetectionPipelineArgs, check_name, checked_args

TYPE_TOKEN = "rekognition-faces:index:FaceDetectionPipeline"

# AWS's managed AmazonRekognitionServiceRole allows sns:Publish on arn:aws:sns:*:*:AmazonRekognition*,
# so a topic named this way also works with that policy.
TOPIC_NAME_PREFIX = "AmazonRekognition"
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
# A multipart upload left unfinished this long will not be finished; its parts cost money.
ABORT_INCOMPLETE_UPLOAD_DAYS = 7
# FaceDetectionPipeline(name) with no settings: all defaults. Never mutated.
NO_SETTINGS = FaceDetectionPipelineArgs()


def _auto_process(settings: dict[str, Any]) -> bool:
    """Whether to declare auto-processing (a plain setting); its prefixes must differ (when known now)."""
    auto_process: bool = settings["auto_process"]
    incoming, results = settings["incoming_prefix"], settings["results_prefix"]
    if auto_process and isinstance(incoming, str) and incoming == results:
        raise ConfigError("incomingPrefix and resultsPrefix must differ, so that results are not taken for videos")
    return auto_process


def _redact(settings: dict[str, Any], auto_process: bool) -> bool:
    """Whether to declare the redactor (a plain setting): only on auto-processing, with its layer."""
    redact: bool = settings["redact"]
    layer = settings["redact_layer_arn"]
    if redact and not auto_process:
        raise ConfigError("redact: true needs autoProcess: true (the redactor runs on the collector's results)")
    if redact and layer is None:
        raise ConfigError(
            "redact: true needs redactLayerArn: build the layer with `make redactor-layer`, publish it with "
            "scripts/redactor_layer.py publish, and set its ARN (docs/redaction.md#the-layer)"
        )
    if not redact and layer is not None:
        raise ConfigError("redactLayerArn is only used with redact: true")
    incoming, results = settings["incoming_prefix"], settings["results_prefix"]
    # A copy's key is resultsPrefix + the video's key, which starts with incomingPrefix: it must not
    # start with incomingPrefix itself (resultsPrefix under it, or even 'ab' before 'abab/').
    if redact and isinstance(incoming, str) and isinstance(results, str) and (results + incoming).startswith(incoming):
        raise ConfigError(
            f"with redact: true, resultsPrefix {results!r} must not lie under incomingPrefix {incoming!r}: "
            "each redacted copy (.mp4) would be processed as a new upload"
        )
    return redact


def _alarms(settings: dict[str, Any]) -> bool:
    """Whether to declare alarms (a plain setting); where they go is one setting or the other."""
    alarms: bool = settings["alarms"]
    topic, email = settings["alarm_topic_arn"], settings["alarm_email"]
    if topic is not None and email is not None:
        raise ConfigError(
            "give alarmTopicArn (an existing topic) or alarmEmail (subscribed to a topic the stack creates), not both"
        )
    if not alarms and (topic is not None or email is not None):
        raise ConfigError("alarmTopicArn and alarmEmail need alarms: true")
    return alarms


class FaceDetectionPipeline(pulumi.ComponentResource):
    """What Rekognition Video needs to find faces in S3 videos and say when it is done, and a launcher policy."""

    # Video bucket, completion topic, Rekognition service role, completion queue with its dead-letter
    # queue, and the least-privilege policy for whoever runs the launcher. Outputs below: Pulumi's schema
    # inference reads their types and docstrings.

    bucket_name: pulumi.Output[str]
    """The video bucket's name (created, or the existing one)."""
    bucket_arn: pulumi.Output[str]
    """The video bucket's ARN."""
    topic_arn: pulumi.Output[str]
    """The completion topic: NotificationChannel.SNSTopicArn."""
    topic_name: pulumi.Output[str]
    """The completion topic's name (starts with AmazonRekognition)."""
    role_arn: pulumi.Output[str]
    """The role Rekognition assumes to publish: NotificationChannel.RoleArn."""
    queue_url: pulumi.Output[str]
    """The completion queue the launcher long-polls."""
    queue_arn: pulumi.Output[str]
    """The completion queue's ARN."""
    dead_letter_queue_url: pulumi.Output[str]
    """Where completion messages received maxReceiveCount times end up."""
    dead_letter_queue_arn: pulumi.Output[str]
    """The dead-letter queue's ARN."""
    launcher_policy_arn: pulumi.Output[str]
    """Least-privilege policy for whoever runs the launcher: attach it to a user, group or role."""
    region: pulumi.Output[str]
    """The region of every resource; Rekognition must be called in the bucket's region."""
    incoming_prefix: pulumi.Output[Optional[str]]
    """With autoProcess: the key prefix under which uploads are processed."""
    results_prefix: pulumi.Output[Optional[str]]
    """With autoProcess: the key prefix under which results are written."""
    intake_queue_url: pulumi.Output[Optional[str]]
    """With autoProcess: the queue S3 sends upload events to."""
    starter_function_name: pulumi.Output[Optional[str]]
    """With autoProcess: the Lambda function that starts a job per new video version."""
    collector_function_name: pulumi.Output[Optional[str]]
    """With autoProcess: the Lambda function that writes each job's results into the bucket."""
    redactor_function_name: pulumi.Output[Optional[str]]
    """With redact: the Lambda function that writes each video's redacted copy into the bucket."""
    alarm_topic_arn: pulumi.Output[Optional[str]]
    """With alarms (the default): the SNS topic the alarms notify (alarmTopicArn, or the one created)."""
    dashboard_name: pulumi.Output[Optional[str]]
    """With alarms (the default): the CloudWatch dashboard of the queues, functions and alarms."""

    def __init__(
        self,
        name: str,
        args: FaceDetectionPipelineArgs = NO_SETTINGS,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        # Checked before anything is declared (Outputs are checked when they resolve).
        settings = checked_args(args)
        check_name("the component's name", name, makes_bucket=settings["existing_bucket_name"] is None)
        auto_process = _auto_process(settings)
        redact = _redact(settings, auto_process)
        alarms = _alarms(settings)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name = name
        self._settings = settings
        self._tags = settings["tags"]
        child = pulumi.ResourceOptions(parent=self)

        invoke = pulumi.InvokeOutputOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke).partition
        self.region = aws.get_region_output(opts=invoke).region

        existing_bucket = settings["existing_bucket_name"]
        if existing_bucket is not None:
            self.bucket_name = pulumi.Output.from_input(existing_bucket)
            self.bucket_arn = pulumi.Output.concat("arn:", partition, ":s3:::", existing_bucket)
        else:
            bucket = self._video_bucket(child)
            self.bucket_name = bucket.bucket
            self.bucket_arn = bucket.arn

        topic = aws.sns.Topic(
            f"{name}-completion",
            name_prefix=f"{TOPIC_NAME_PREFIX}-{name}-",
            kms_master_key_id=settings["topic_kms_key_arn"] or AWS_MANAGED_SNS_KEY,
            tags=self._tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-rekognition",
            description="Assumed by Amazon Rekognition Video to publish job completion to the topic.",
            assume_role_policy=policy_json(
                policies.rekognition_trust_policy,
                account_id=caller.account_id,
                region=self.region,
                partition=partition,
            ),
            tags=self._tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-rekognition-publish",
            role=role.id,
            policy=policy_json(
                policies.service_role_policy,
                topic_arn=topic.arn,
                region=self.region,
                topic_kms_key_arn=settings["topic_kms_key_arn"],
            ),
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-completion",
            arn=topic.arn,
            policy=policy_json(policies.topic_policy, topic_arn=topic.arn, role_arn=role.arn),
            opts=child,
        )

        queue, dead_letter_queue = queue_with_dead_letter(
            f"{name}-completion",
            f"{name}-dead-letter",
            max_receive_count=settings["max_receive_count"],
            encryption=self._queue_encryption(),
            tags=self._tags,
            opts=child,
            visibility_timeout_seconds=COMPLETION_VISIBILITY_SECONDS if auto_process else None,
        )
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-completion",
            queue_url=queue.url,
            policy=policy_json(policies.queue_policy, queue_arn=queue.arn, topic_arn=topic.arn),
            opts=child,
        )
        # Subscribe only once the queue accepts the topic's messages, so none is dropped.
        aws.sns.TopicSubscription(
            f"{name}-completion",
            topic=topic.arn,
            protocol="sqs",
            endpoint=queue.arn,
            raw_message_delivery=settings["raw_message_delivery"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue_policy]),
        )

        launcher = aws.iam.Policy(
            f"{name}-launcher",
            description="Least privilege to run the face-detection launcher against this stack.",
            policy=policy_json(
                policies.launcher_policy,
                bucket_arn=self.bucket_arn,
                role_arn=role.arn,
                queue_arn=queue.arn,
                region=self.region,
                bucket_kms_key_arn=settings["bucket_kms_key_arn"],
                queue_kms_key_arn=settings["queue_kms_key_arn"],
                auto_process=auto_process,
                incoming_prefix=settings["incoming_prefix"],
                results_prefix=settings["results_prefix"],
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
        outputs: dict[str, pulumi.Output[Any]] = {
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
        unset: pulumi.Output[Optional[str]] = pulumi.Output.from_input(None)
        self.incoming_prefix = self.results_prefix = self.intake_queue_url = unset
        self.starter_function_name = self.collector_function_name = self.redactor_function_name = unset
        if auto_process:
            auto = add_auto_processing(
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
                    region=self.region,
                    incoming_prefix=settings["incoming_prefix"],
                    results_prefix=settings["results_prefix"],
                    intake_max_receive_count=settings["intake_max_receive_count"],
                    queue_encryption=self._queue_encryption(),
                    tags=self._tags,
                    bucket_kms_key_arn=settings["bucket_kms_key_arn"],
                    queue_kms_key_arn=settings["queue_kms_key_arn"],
                    redact_layer_arn=settings["redact_layer_arn"] if redact else None,
                ),
            )
            self.incoming_prefix, self.results_prefix = auto.incoming_prefix, auto.results_prefix
            self.intake_queue_url = auto.intake_queue_url
            self.starter_function_name = auto.starter_function_name
            self.collector_function_name = auto.collector_function_name
            outputs.update(
                incomingPrefix=self.incoming_prefix,
                resultsPrefix=self.results_prefix,
                intakeQueueUrl=self.intake_queue_url,
                starterFunctionName=self.starter_function_name,
                collectorFunctionName=self.collector_function_name,
            )
            if auto.redactor_function_name is not None:
                self.redactor_function_name = auto.redactor_function_name
                outputs.update(redactorFunctionName=self.redactor_function_name)
        self.alarm_topic_arn = self.dashboard_name = unset
        if alarms:
            watched = Watched(
                dead_letter_queues=[("dead-letter", dead_letter_queue.name)],
                completion_queue=queue.name,
            )
            if auto_process:
                watched = Watched(
                    dead_letter_queues=[
                        ("dead-letter", dead_letter_queue.name),
                        ("intake-dead-letter", auto.intake_dead_letter_queue_name),
                    ],
                    completion_queue=queue.name,
                    intake_queue=auto.intake_queue_name,
                    functions=[
                        ("starter", auto.starter_function_name),
                        ("collector", auto.collector_function_name),
                        *([("redactor", auto.redactor_function_name)] if auto.redactor_function_name else []),
                    ],
                )
            watching = add_alarms(
                self,
                name,
                watched,
                AlarmSettings(
                    topic_arn=settings["alarm_topic_arn"],
                    email=settings["alarm_email"],
                    account_id=caller.account_id,
                    region=self.region,
                    partition=partition,
                    tags=self._tags,
                ),
            )
            self.alarm_topic_arn, self.dashboard_name = watching.topic_arn, watching.dashboard_name
            outputs.update(alarmTopicArn=self.alarm_topic_arn, dashboardName=self.dashboard_name)
        self.register_outputs(outputs)

    def _queue_encryption(self) -> dict[str, Any]:
        key = self._settings["queue_kms_key_arn"]
        if key is not None:
            return {"kms_master_key_id": key}
        return {"sqs_managed_sse_enabled": True}

    def _video_bucket(self, child: pulumi.ResourceOptions) -> aws.s3.Bucket:
        name, settings = self._name, self._settings
        bucket = aws.s3.Bucket(f"{name}-videos", force_destroy=settings["force_destroy"], tags=self._tags, opts=child)
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
        # A setting given as an Output goes in as a whole top-level input: Pulumi's mocks hang when a
        # check fails inside an Output nested in a list or dict input.
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-videos",
            bucket=bucket.id,
            rules=pulumi.Output.from_input(settings["bucket_kms_key_arn"]).apply(_encryption_rules),
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
            rules=pulumi.Output.from_input(settings["version_retention_days"]).apply(_lifecycle_rules),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        # S3 answers OperationAborted when a bucket policy and a public access block change at once.
        aws.s3.BucketPolicy(
            f"{name}-videos",
            bucket=bucket.id,
            policy=policy_json(policies.bucket_policy, bucket_arn=bucket.arn),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )
        return bucket


def _encryption_rules(key: Optional[str]) -> list[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs]:
    """SSE-KMS with an S3 Bucket Key (fewer KMS calls) when a key is given, else SSE-S3."""
    by_default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
    return [
        aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=(
                by_default(sse_algorithm="aws:kms", kms_master_key_id=key)
                if key
                else by_default(sse_algorithm="AES256")
            ),
            bucket_key_enabled=bool(key),
        )
    ]


def _lifecycle_rules(version_retention_days: int) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """Abort unfinished multipart uploads; expire noncurrent versions, then the delete markers left
    with no version under them (a deleted key's, such as the redactor's removed objects)."""
    return [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="abort-incomplete-multipart-uploads",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=ABORT_INCOMPLETE_UPLOAD_DAYS
            ),
        ),
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="expire-noncurrent-versions",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=version_retention_days
            ),
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
        ),
    ]
