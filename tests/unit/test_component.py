"""Every rule of the component, asserted on the inputs its resources receive under Pulumi's mocks."""

import asyncio
import gc
import json
import logging
import warnings

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime.settings import SETTINGS

from components import ConfigError, FaceDetectionPipeline, FaceDetectionPipelineArgs
from components.pipeline import TYPE_TOKEN
from components.settings import MAX_NAME_LENGTH, setting_key
from components.settings import SETTINGS as CHECKS
from tests.support.pulumi_mocks import ACCOUNT_ID, REGION, RecordingMocks, run_body

BUCKET_TYPES = {
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
}
TAGGABLE = {
    "aws:s3/bucket:Bucket",
    "aws:sns/topic:Topic",
    "aws:iam/role:Role",
    "aws:sqs/queue:Queue",
    "aws:iam/policy:Policy",
}
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def default(run_component):
    return run_component("faces", FaceDetectionPipelineArgs(tags={"team": "vision"}))


def test_every_resource_is_a_child_and_carries_the_tags(default):
    custom = [r for r in default.resources if r.custom]
    assert {r.typ for r in custom} >= BUCKET_TYPES | TAGGABLE
    (component,) = [r for r in default.resources if r.typ == TYPE_TOKEN]
    assert component.name == "faces"
    for resource in custom:
        assert resource.name.startswith("faces-"), resource.name
        if resource.typ in TAGGABLE:
            assert resource.inputs["tags"] == {"team": "vision"}, resource.typ


def test_children_are_parented_to_the_component(run_component):
    run_component()
    urns = SETTINGS.monitor.get_registered_resources()
    children = [urn for urn in urns if "aws:" in urn]
    assert children and all(f"{TYPE_TOKEN}$aws:" in urn for urn in children), children


def test_no_deprecated_pulumi_aws_classes_or_fields(run_component, caplog):
    """pulumi-aws flags a deprecated field with a log warning and a deprecated attribute with a
    DeprecationWarning; its *V2 modules warn when first imported, whether used or not."""
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        declared = run_component()
    assert not any(r.typ.endswith("V2") for r in declared.resources)
    role = declared.one("aws:iam/role:Role")
    assert "inlinePolicies" not in role and "managedPolicyArns" not in role
    deprecations = [
        str(w.message)
        for w in caught
        if issubclass(w.category, DeprecationWarning) and "V2 has been deprecated" not in str(w.message)
    ]
    deprecations += [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert not deprecations, deprecations


def test_bucket_is_private_encrypted_versioned_and_tls_only(default):
    ownership = default.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    block = default.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block[flag] is True, flag
    encryption = default.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    (rule,) = encryption["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    versioning = default.one("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    policy = default.policy("aws:s3/bucketPolicy:BucketPolicy")
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(deny["Resource"]) == {"arn:aws:s3:::faces-videos-0a1b2c3", "arn:aws:s3:::faces-videos-0a1b2c3/*"}
    for child in BUCKET_TYPES - {"aws:s3/bucket:Bucket"}:
        assert default.one(child)["bucket"] == "faces-videos-0a1b2c3", child


def test_lifecycle_aborts_uploads_and_expires_old_versions(run_component):
    declared = run_component(args=FaceDetectionPipelineArgs(version_retention_days=12))
    rules = {
        r["id"]: r for r in declared.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["rules"]
    }
    abort = rules["abort-incomplete-multipart-uploads"]
    assert abort["status"] == "Enabled"
    assert abort["abortIncompleteMultipartUpload"]["daysAfterInitiation"] >= 1
    expire = rules["expire-noncurrent-versions"]
    assert expire["status"] == "Enabled"
    assert expire["noncurrentVersionExpiration"] == {"noncurrentDays": 12}
    assert expire["expiration"] == {"expiredObjectDeleteMarker": True}  # then the markers left alone


def test_topic_name_prefix_and_default_encryption(default):
    topic = default.one("aws:sns/topic:Topic", "-completion")
    assert topic["namePrefix"].startswith("AmazonRekognition")
    assert "name" not in topic
    assert topic["kmsMasterKeyId"] == "alias/aws/sns"


def test_topic_policy_lets_only_the_role_publish(default):
    policy = default.policy("aws:sns/topicPolicy:TopicPolicy", "-completion")
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"AWS": "arn:aws:iam::111122223333:role/faces-rekognition-0a1b2c3"}]
    assert allows[0]["Action"] == "sns:Publish"
    topic_arn = default.one("aws:sns/topicPolicy:TopicPolicy", "-completion")["arn"]
    assert topic_arn.endswith(":AmazonRekognition-faces-0a1b2c3")
    assert allows[0]["Resource"] == topic_arn
    denies = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_service_role_trust_and_publish_policy(default):
    trust = default.policy("aws:iam/role:Role", key="assumeRolePolicy")
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "rekognition.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:rekognition:{REGION}:{ACCOUNT_ID}:*"},
    }
    role_policy = default.one("aws:iam/rolePolicy:RolePolicy")
    assert role_policy["role"] == "faces-rekognition-0a1b2c3"
    (publish,) = default.policy("aws:iam/rolePolicy:RolePolicy")["Statement"]
    assert publish["Action"] == "sns:Publish"
    assert publish["Resource"].endswith(":AmazonRekognition-faces-0a1b2c3")
    assert "*" not in publish["Resource"]


def test_queues_are_encrypted_long_polled_redriven_and_outlive_results(default):
    queue = default.one("aws:sqs/queue:Queue", "-completion")
    dead_letter = default.one("aws:sqs/queue:Queue", "-dead-letter")
    for q in (queue, dead_letter):
        assert q["sqsManagedSseEnabled"] is True
        assert q["messageRetentionSeconds"] > 7 * 24 * 3600
    assert queue["receiveWaitTimeSeconds"] == 20
    redrive = json.loads(queue["redrivePolicy"])
    assert redrive == {
        "deadLetterTargetArn": "arn:aws:sqs:eu-west-1:111122223333:faces-dead-letter-0a1b2c3",
        "maxReceiveCount": 5,
    }


def test_queue_policy_accepts_only_the_topic(default):
    queue_policy = default.one("aws:sqs/queuePolicy:QueuePolicy", "-completion")
    assert queue_policy["queueUrl"].endswith("/faces-completion-0a1b2c3")
    statements = default.policy("aws:sqs/queuePolicy:QueuePolicy", "-completion")["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:AmazonRekognition-faces-0a1b2c3"}
    }
    assert any(s["Effect"] == "Deny" for s in statements)
    dlq_statements = default.policy("aws:sqs/queuePolicy:QueuePolicy", "-dead-letter")["Statement"]
    assert [s["Effect"] for s in dlq_statements] == ["Deny"]


def test_subscription_delivers_the_envelope_by_default(default):
    subscription = default.one("aws:sns/topicSubscription:TopicSubscription")
    assert subscription["protocol"] == "sqs"
    assert subscription["endpoint"] == "arn:aws:sqs:eu-west-1:111122223333:faces-completion-0a1b2c3"
    assert subscription["topic"].endswith(":AmazonRekognition-faces-0a1b2c3")
    assert subscription["rawMessageDelivery"] is False


def test_raw_delivery_and_receive_count_are_configurable(run_component):
    declared = run_component(args=FaceDetectionPipelineArgs(raw_message_delivery=True, max_receive_count=2))
    assert declared.one("aws:sns/topicSubscription:TopicSubscription")["rawMessageDelivery"] is True
    redrive = json.loads(declared.one("aws:sqs/queue:Queue", "-completion")["redrivePolicy"])
    assert redrive["maxReceiveCount"] == 2


def test_launcher_policy_names_this_stacks_resources(default):
    statements = {s["Sid"]: s for s in default.policy("aws:iam/policy:Policy")["Statement"]}
    assert statements["PassServiceRoleToRekognition"]["Resource"] == (
        "arn:aws:iam::111122223333:role/faces-rekognition-0a1b2c3"
    )
    assert statements["UploadVideos"]["Resource"] == "arn:aws:s3:::faces-videos-0a1b2c3/*"
    assert statements["ReadVideos"]["Resource"] == "arn:aws:s3:::faces-videos-0a1b2c3/*"
    assert statements["NeverWriteResults"]["Resource"] == "arn:aws:s3:::faces-videos-0a1b2c3/results/*"
    assert statements["ConsumeCompletions"]["Resource"] == (
        "arn:aws:sqs:eu-west-1:111122223333:faces-completion-0a1b2c3"
    )
    assert "UseBucketKey" not in statements and "UseQueueKey" not in statements


def test_existing_bucket_creates_no_bucket_resources(run_component):
    declared = run_component(args=FaceDetectionPipelineArgs(existing_bucket_name="team-videos"))
    assert not [r for r in declared.resources if r.typ in BUCKET_TYPES]
    statements = {s["Sid"]: s for s in declared.policy("aws:iam/policy:Policy")["Statement"]}
    assert statements["ListVideos"]["Resource"] == "arn:aws:s3:::team-videos"
    assert statements["UploadVideos"]["Resource"] == "arn:aws:s3:::team-videos/*"


def test_customer_managed_keys_are_used_and_granted(run_component):
    topic_key, queue_key = KEY, KEY.replace("1234abcd", "5678ef90")
    declared = run_component(
        args=FaceDetectionPipelineArgs(bucket_kms_key_arn=KEY, topic_kms_key_arn=topic_key, queue_kms_key_arn=queue_key)
    )
    (rule,) = declared.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[
        "rules"
    ]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}
    assert rule["bucketKeyEnabled"] is True
    assert declared.one("aws:sns/topic:Topic", "-completion")["kmsMasterKeyId"] == topic_key
    for suffix in ("-completion", "-dead-letter"):
        queue = declared.one("aws:sqs/queue:Queue", suffix)
        assert queue["kmsMasterKeyId"] == queue_key
        assert "sqsManagedSseEnabled" not in queue
    key_statements = [
        s for s in declared.policy("aws:iam/rolePolicy:RolePolicy")["Statement"] if s["Resource"] == topic_key
    ]
    assert set(key_statements[0]["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert key_statements[0]["Condition"] == {"StringEquals": {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}}
    launcher = {s["Sid"]: s for s in declared.policy("aws:iam/policy:Policy")["Statement"]}
    assert launcher["UseBucketKey"]["Resource"] == KEY
    assert launcher["UseBucketKey"]["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}
    assert launcher["UseQueueKey"]["Resource"] == queue_key
    assert launcher["UseQueueKey"]["Condition"] == {"StringEquals": {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}}


BAD_SETTINGS = [
    ({"max_receive_count": 0}, "maxReceiveCount must be between 1 and 1000"),
    ({"max_receive_count": 1001}, "maxReceiveCount"),
    ({"max_receive_count": "5"}, r"maxReceiveCount must be between 1 and 1000 \(SQS's limit\), got '5'"),  # not 5
    ({"version_retention_days": 0}, "versionRetentionDays"),
    ({"raw_message_delivery": "yes"}, "rawMessageDelivery must be true or false"),
    ({"existing_bucket_name": "Not_A_Bucket"}, "existingBucketName 'Not_A_Bucket' is not a valid S3 bucket name"),
    ({"topic_kms_key_arn": "my-key"}, "topicKmsKeyArn must be a KMS key ARN"),
    ({"tags": {"team": 3}}, "tags must be a JSON object of strings"),
]


@pytest.mark.parametrize("settings, message", BAD_SETTINGS)
def test_bad_plain_settings_are_refused_before_anything_is_declared(settings, message):
    mocks = RecordingMocks()
    with pytest.raises(ConfigError, match=message):
        run_body(
            lambda: FaceDetectionPipeline("faces", FaceDetectionPipelineArgs(**settings)),
            {"aws:region": REGION},
            mocks=mocks,
        )
    assert mocks.resources == []


@pytest.mark.parametrize("setting", ["bucket_kms_key_arn", "topic_kms_key_arn", "queue_kms_key_arn"])
def test_a_kms_alias_arn_is_refused_because_iam_grants_cannot_name_a_key_by_alias(setting):
    """Each key setting is also the Resource of a KMS grant (the service role's, the launcher's, the
    functions'); IAM matches a key by its key ARN only, so a grant on an alias ARN covers no key: the
    role could not publish to the topic, the launcher could not upload (KMS developer guide,
    "Specifying KMS keys in IAM policy statements")."""
    alias = "arn:aws:kms:eu-west-1:111122223333:alias/videos"
    mocks = RecordingMocks()
    with pytest.raises(ConfigError) as refused:
        run_body(
            lambda: FaceDetectionPipeline("faces", FaceDetectionPipelineArgs(**{setting: alias})),  # type: ignore[misc]
            {"aws:region": REGION},
            mocks=mocks,
        )
    message = str(refused.value)
    assert message.startswith(f"{setting_key(setting)} must be the key's ARN, not an alias ARN")
    assert "aws kms describe-key --key-id alias/videos --query KeyMetadata.Arn" in message
    assert mocks.resources == []


def test_unknown_setting_is_refused_with_the_known_ones_listed():
    with pytest.raises(ConfigError, match=r"unknown setting.*max_receive_counts.*max_receive_count"):
        run_body(lambda: FaceDetectionPipeline("faces", {"max_receive_counts": 3}), {"aws:region": REGION})


def test_every_field_of_the_args_has_a_check_and_a_default():
    assert set(FaceDetectionPipelineArgs.__annotations__) == set(CHECKS)
    assert FaceDetectionPipelineArgs.__required_keys__ == frozenset()


# Another stack's outputs, as StackReference.require_output hands them over.
KEYS_STACK = "my-org/platform-keys/prod"


def _pipeline_from_stack(**names: str):
    """A body building the pipeline with settings read from KEYS_STACK (setting name -> output name)."""

    def body():
        keys = pulumi.StackReference(KEYS_STACK)
        settings = {setting: keys.require_output(output) for setting, output in names.items()}
        FaceDetectionPipeline("faces", FaceDetectionPipelineArgs(**settings))

    return body


def test_settings_from_another_stack_reach_the_resources():
    queue_key = KEY.replace("1234abcd", "5678ef90")
    declared = run_body(
        _pipeline_from_stack(
            bucket_kms_key_arn="bucketKey",
            queue_kms_key_arn="queueKey",
            topic_kms_key_arn="topicKey",
            max_receive_count="receives",
            version_retention_days="retention",
            raw_message_delivery="raw",
            tags="tags",
        ),
        {"aws:region": REGION},
        stacks={
            KEYS_STACK: {
                "bucketKey": KEY,
                "queueKey": queue_key,
                "topicKey": KEY,
                "receives": 3,
                "retention": 9,
                "raw": True,
                "tags": {"team": "platform"},
            }
        },
    )
    encryption = declared.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    (rule,) = encryption["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}
    assert rule["bucketKeyEnabled"] is True
    assert declared.one("aws:sns/topic:Topic", "-completion")["kmsMasterKeyId"] == KEY
    queue = declared.one("aws:sqs/queue:Queue", "-completion")
    assert queue["kmsMasterKeyId"] == queue_key and "sqsManagedSseEnabled" not in queue
    assert json.loads(queue["redrivePolicy"])["maxReceiveCount"] == 3
    assert declared.one("aws:sns/topicSubscription:TopicSubscription")["rawMessageDelivery"] is True
    lifecycle = declared.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert {"noncurrentDays": 9} in [r.get("noncurrentVersionExpiration") for r in lifecycle["rules"]]
    assert declared.one("aws:s3/bucket:Bucket")["tags"] == {"team": "platform"}
    launcher = {s["Sid"]: s for s in declared.policy("aws:iam/policy:Policy")["Statement"]}
    assert launcher["UseBucketKey"]["Resource"] == KEY
    assert launcher["UseQueueKey"]["Resource"] == queue_key


def test_an_existing_bucket_named_by_another_stack_replaces_the_bucket():
    declared = run_body(
        _pipeline_from_stack(existing_bucket_name="bucket"),
        {"aws:region": REGION},
        stacks={KEYS_STACK: {"bucket": "team-videos"}},
    )
    assert not [r for r in declared.resources if r.typ in BUCKET_TYPES]
    statements = {s["Sid"]: s for s in declared.policy("aws:iam/policy:Policy")["Statement"]}
    assert statements["ListVideos"]["Resource"] == "arn:aws:s3:::team-videos"


def test_a_key_from_a_resource_output_is_used():
    def body():
        key = aws.kms.Key("videos")
        FaceDetectionPipeline(
            "faces", FaceDetectionPipelineArgs(bucket_kms_key_arn=key.arn, tags={"team": "vision", "key": key.key_id})
        )

    declared = run_body(body, {"aws:region": REGION})
    (rule,) = declared.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[
        "rules"
    ]
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == (
        f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/videos-0a1b2c3"
    )
    # A tag value may be an Output too.
    assert declared.one("aws:sns/topic:Topic", "-completion")["tags"] == {"team": "vision", "key": "videos-0a1b2c3"}


@pytest.mark.parametrize("settings, message", BAD_SETTINGS)
def test_a_bad_value_from_another_stack_fails_the_deployment_with_the_same_message(settings, message):
    ((setting, value),) = settings.items()
    # Pulumi reports it wrapped in the errors of the resource input it reached (ConfigError is a ValueError).
    with pytest.raises(ValueError, match=message):
        run_body(
            _pipeline_from_stack(**{setting: "value"}),
            {"aws:region": REGION},
            stacks={KEYS_STACK: {"value": value}},
        )


def test_a_failed_deployment_leaves_no_error_to_report_later(caplog):
    """A failed run raises its error once. The Pulumi futures holding copies of it say nothing when they
    are collected: that report would come at a random later moment (in CPython 3.11, even inside another
    test's ast.parse, which then fails with "AST constructor recursion depth mismatch")."""
    with pytest.raises(ValueError, match="bucketKmsKeyArn must be a KMS key"):
        run_body(
            _pipeline_from_stack(bucket_kms_key_arn="value"),
            {"aws:region": REGION},
            stacks={KEYS_STACK: {"value": "not-a-key"}},
        )
    # One such future, made on the loop Pulumi runs programs on, and dropped unretrieved.
    future = asyncio.get_event_loop_policy().get_event_loop().create_future()
    future.set_exception(ValueError("bucketKmsKeyArn must be a KMS key"))
    del future
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        gc.collect()
    assert not [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]


def test_an_empty_value_from_another_stack_is_refused_not_taken_as_unset():
    """The bucket resources are left out as soon as existingBucketName is given: it must name a bucket."""
    with pytest.raises(ValueError, match="existingBucketName '' is not a valid S3 bucket name"):
        run_body(
            _pipeline_from_stack(existing_bucket_name="bucket"),
            {"aws:region": REGION},
            stacks={KEYS_STACK: {"bucket": ""}},
        )


# How AWS names each child type the component declares with every feature on: auto-named (the
# logical name, "-" and 7 random hex: Pulumi's AWS provider) with the service's longest name, or
# given a name prefix (plus the provider's 26 unique characters), or named by nothing that grows.
AUTO_NAMED = {
    "aws:s3/bucket:Bucket": 63,
    "aws:iam/role:Role": 64,
    "aws:lambda/function:Function": 64,
    "aws:sqs/queue:Queue": 80,
    "aws:iam/rolePolicy:RolePolicy": 128,
    "aws:iam/policy:Policy": 128,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 255,
}
PREFIXED = {"aws:sns/topic:Topic": 256, "aws:cloudwatch/logGroup:LogGroup": 512}
NOT_GROWING = BUCKET_TYPES - {"aws:s3/bucket:Bucket"} | {
    "aws:s3/bucketNotification:BucketNotification",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:kms/key:Key",
    "aws:lambda/eventSourceMapping:EventSourceMapping",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
    "aws:cloudwatch/dashboard:Dashboard",  # truncated to CloudWatch's 255 (alarms.dashboard_name)
}
EVERY_FEATURE = FaceDetectionPipelineArgs(
    auto_process=True,
    redact=True,
    redact_layer_arn="arn:aws:lambda:eu-west-1:111122223333:layer:redactor:1",
    alarm_email="team@example.com",
)


def _name_overflow(declared) -> dict[str, int]:
    """Each child's physical name length minus its service's limit (> 0: AWS would refuse it)."""
    overflow = {}
    for resource in (r for r in declared.resources if r.custom):
        if resource.typ in AUTO_NAMED:
            overflow[resource.name] = len(resource.name) + len("-0a1b2c3") - AUTO_NAMED[resource.typ]
        elif resource.typ in PREFIXED:
            overflow[resource.name] = len(resource.inputs["namePrefix"]) + 26 - PREFIXED[resource.typ]
        else:
            assert resource.typ in NOT_GROWING, f"how does AWS name {resource.typ}? Add it to a table above"
    return overflow


def test_the_longest_name_allowed_fits_every_child_and_one_character_more_would_not():
    """Pulumi's provider refuses an auto-name longer than the service allows only when it reaches that
    child, after others are made: the name is checked against the longest child of each kind first."""
    longest = "n" * MAX_NAME_LENGTH
    declared = run_body(lambda: FaceDetectionPipeline(longest, EVERY_FEATURE), {"aws:region": REGION})
    overflow = _name_overflow(declared)
    assert max(overflow.values()) == 0, overflow  # the limit is exact: the longest child just fits
    assert [name for name, over in overflow.items() if over == 0] == [f"{longest}-rekognition"]
    mocks = RecordingMocks()
    with pytest.raises(ConfigError) as refused:
        run_body(lambda: FaceDetectionPipeline(longest + "n", EVERY_FEATURE), {"aws:region": REGION}, mocks=mocks)
    assert mocks.resources == []
    assert str(refused.value) == (
        f"the component's name {longest + 'n'!r} has 45 characters, at most 44 fit: the IAM role named "
        "<name>-rekognition-<7 random characters> may have 64; shorten it"
    )


@pytest.mark.parametrize(
    "name, message",
    [
        ("My Faces", r"'My Faces' cannot start AWS resource names: use 1-44 ASCII letters, .*\(e\.g\. 'My-Faces'\)"),
        ("team_videos", r"'team_videos' cannot start .*\(e\.g\. 'team-videos'\)"),  # S3 refuses '_'
        ("team.videos", r"'team.videos' cannot start .*\(e\.g\. 'team-videos'\)"),  # SQS, SNS, Lambda refuse '.'
        (
            "-faces",
            r"'-faces' cannot start .*starting with a letter or digit \(e\.g\. 'faces'\)",
        ),  # a bucket's first character
        ("", r"'' cannot start AWS resource names"),
        ("visages-é", r"'visages-é' cannot start .*\(e\.g\. 'visages'\)"),
        (
            "xn--faces",
            r"'xn--faces' would name the S3 bucket xn--faces-videos-…, and S3 reserves names starting with 'xn--'",
        ),
        ("sthree", r"'sthree' would name the S3 bucket sthree-videos-…, and S3 reserves names starting with 'sthree-'"),
        (
            "Amzn-S3-Demo",
            r"'Amzn-S3-Demo' would name the S3 bucket amzn-s3-demo-videos-…, and S3 reserves names starting with "
            r"'amzn-s3-demo-'",
        ),
    ],
)
def test_a_name_aws_would_refuse_for_a_child_is_refused_before_anything_is_declared(name, message):
    mocks = RecordingMocks()
    with pytest.raises(ConfigError, match=f"^the component's name {message}"):
        run_body(lambda: FaceDetectionPipeline(name), {"aws:region": REGION}, mocks=mocks)
    assert mocks.resources == []


@pytest.mark.parametrize("name", ["a", "Faces", "9lives", "team--videos-", "xn-faces"])
def test_names_every_child_takes_are_accepted(name):
    """Upper case too: the provider lower-cases a bucket's auto-name, the other services take it."""
    declared = run_body(lambda: FaceDetectionPipeline(name, EVERY_FEATURE), {"aws:region": REGION})
    assert max(_name_overflow(declared).values()) < 0


# With existingBucketName the component makes no bucket, and every child it makes takes an '_' (SNS
# topics, SQS queues, IAM roles and policies, Lambda functions, log groups, alarms): such a stack deployed
# before the name was checked, and must still.
@pytest.mark.parametrize("name", ["my_pipeline", "team_videos-2", "xn--faces"])
def test_a_name_only_a_bucket_refuses_is_accepted_when_the_component_makes_no_bucket(name):
    args = FaceDetectionPipelineArgs(**EVERY_FEATURE, existing_bucket_name="team-videos")
    declared = run_body(lambda: FaceDetectionPipeline(name, args), {"aws:region": REGION})
    assert "aws:s3/bucket:Bucket" not in {r.typ for r in declared.resources}
    assert max(_name_overflow(declared).values()) < 0


def test_without_a_bucket_the_rule_names_underscores_and_still_refuses_what_other_services_refuse():
    args = FaceDetectionPipelineArgs(existing_bucket_name="team-videos")
    mocks = RecordingMocks()
    with pytest.raises(ConfigError) as refused:
        run_body(lambda: FaceDetectionPipeline("team.videos", args), {"aws:region": REGION}, mocks=mocks)
    assert str(refused.value) == (
        "the component's name 'team.videos' cannot start AWS resource names: use 1-44 ASCII letters, digits, "
        "hyphens and underscores, starting with a letter or digit (e.g. 'team-videos')"
    )
    assert mocks.resources == []
