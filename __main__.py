"""The Pulumi program: stack config in, the face-detection component, stack outputs out.

The output names are a contract: the launcher and other stacks' StackReferences read them.
Every config key is declared, with its default, in Pulumi.yaml; a key that is not set reaches the
component as None, which applies the same default (components.DEFAULTS), so the program also runs where
Pulumi.yaml's defaults are not applied (under mocks, or the offline deployer).
"""

import pulumi

from components import ConfigError, FaceDetectionPipeline, FaceDetectionPipelineArgs, check_name

DEFAULT_NAME_PREFIX = "faces"


def read_args(config: pulumi.Config) -> FaceDetectionPipelineArgs:
    try:
        tags = config.get_object("tags")
    except pulumi.ConfigTypeError as error:
        raise ConfigError(f'tags must be a JSON object of strings, e.g. {{"team": "vision"}}: {error}') from None
    return FaceDetectionPipelineArgs(
        tags=tags,
        version_retention_days=config.get_int("versionRetentionDays"),
        max_receive_count=config.get_int("maxReceiveCount"),
        raw_message_delivery=config.get_bool("rawMessageDelivery"),
        existing_bucket_name=config.get("existingBucketName"),  # "" (Pulumi.yaml's default) means unset
        bucket_kms_key_arn=config.get("bucketKmsKeyArn"),
        topic_kms_key_arn=config.get("topicKmsKeyArn"),
        queue_kms_key_arn=config.get("queueKmsKeyArn"),
        force_destroy=config.get_bool("forceDestroy"),
        auto_process=config.get_bool("autoProcess"),
        incoming_prefix=config.get("incomingPrefix"),
        results_prefix=config.get("resultsPrefix"),
        intake_max_receive_count=config.get_int("intakeMaxReceiveCount"),
        redact=config.get_bool("redact"),
        redact_layer_arn=config.get("redactLayerArn"),
        alarms=config.get_bool("alarms"),
        alarm_topic_arn=config.get("alarmTopicArn"),
        alarm_email=config.get("alarmEmail"),
    )


config = pulumi.Config()
# Named as the stack's key (the component's own check would call it "the component's name").
args = read_args(config)
name = check_name(
    "namePrefix", config.get("namePrefix") or DEFAULT_NAME_PREFIX, makes_bucket=not args.get("existing_bucket_name")
)
pipeline = FaceDetectionPipeline(name, args)

pulumi.export("bucketName", pipeline.bucket_name)
pulumi.export("bucketArn", pipeline.bucket_arn)
pulumi.export("topicArn", pipeline.topic_arn)
pulumi.export("topicName", pipeline.topic_name)
pulumi.export("roleArn", pipeline.role_arn)
pulumi.export("queueUrl", pipeline.queue_url)
pulumi.export("queueArn", pipeline.queue_arn)
pulumi.export("deadLetterQueueUrl", pipeline.dead_letter_queue_url)
pulumi.export("deadLetterQueueArn", pipeline.dead_letter_queue_arn)
pulumi.export("launcherPolicyArn", pipeline.launcher_policy_arn)
pulumi.export("region", pipeline.region)
if config.get_bool("alarms") is not False:  # on by default
    pulumi.export("alarmTopicArn", pipeline.alarm_topic_arn)
    pulumi.export("dashboardName", pipeline.dashboard_name)
if config.get_bool("autoProcess"):  # only then: the stack without it is exactly as before
    pulumi.export("incomingPrefix", pipeline.incoming_prefix)
    pulumi.export("resultsPrefix", pipeline.results_prefix)
    pulumi.export("intakeQueueUrl", pipeline.intake_queue_url)
    pulumi.export("starterFunctionName", pipeline.starter_function_name)
    pulumi.export("collectorFunctionName", pipeline.collector_function_name)
if config.get_bool("redact"):
    pulumi.export("redactorFunctionName", pipeline.redactor_function_name)
