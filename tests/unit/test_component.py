"""Every rule of the component, asserted on the inputs its resources receive under Pulumi's mocks."""

import json
import logging
import warnings

import pytest
from pulumi.runtime.settings import SETTINGS

from components import ConfigError, FaceDetectionPipelineArgs
from components.pipeline import TYPE_TOKEN

from .support import ACCOUNT_ID

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


def test_topic_name_prefix_and_default_encryption(default):
    topic = default.one("aws:sns/topic:Topic")
    assert topic["namePrefix"].startswith("AmazonRekognition")
    assert "name" not in topic
    assert topic["kmsMasterKeyId"] == "alias/aws/sns"


def test_topic_policy_lets_only_the_role_publish(default):
    policy = default.policy("aws:sns/topicPolicy:TopicPolicy")
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"AWS": "arn:aws:iam::111122223333:role/faces-rekognition-0a1b2c3"}]
    assert allows[0]["Action"] == "sns:Publish"
    topic_arn = default.one("aws:sns/topicPolicy:TopicPolicy")["arn"]
    assert topic_arn.endswith(":AmazonRekognition-faces-0a1b2c3")
    assert allows[0]["Resource"] == topic_arn
    denies = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_service_role_trust_and_publish_policy(default):
    trust = default.policy("aws:iam/role:Role", key="assumeRolePolicy")
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "rekognition.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
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
    assert statements["ReadWriteVideos"]["Resource"] == "arn:aws:s3:::faces-videos-0a1b2c3/*"
    assert statements["ConsumeCompletions"]["Resource"] == (
        "arn:aws:sqs:eu-west-1:111122223333:faces-completion-0a1b2c3"
    )
    assert "UseBucketKey" not in statements and "UseQueueKey" not in statements


def test_existing_bucket_creates_no_bucket_resources(run_component):
    declared = run_component(args=FaceDetectionPipelineArgs(existing_bucket_name="team-videos"))
    assert not [r for r in declared.resources if r.typ in BUCKET_TYPES]
    statements = {s["Sid"]: s for s in declared.policy("aws:iam/policy:Policy")["Statement"]}
    assert statements["ListVideos"]["Resource"] == "arn:aws:s3:::team-videos"
    assert statements["ReadWriteVideos"]["Resource"] == "arn:aws:s3:::team-videos/*"


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
    assert declared.one("aws:sns/topic:Topic")["kmsMasterKeyId"] == topic_key
    for suffix in ("-completion", "-dead-letter"):
        queue = declared.one("aws:sqs/queue:Queue", suffix)
        assert queue["kmsMasterKeyId"] == queue_key
        assert "sqsManagedSseEnabled" not in queue
    key_statements = [
        s for s in declared.policy("aws:iam/rolePolicy:RolePolicy")["Statement"] if s["Resource"] == topic_key
    ]
    assert set(key_statements[0]["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    launcher = {s["Sid"]: s for s in declared.policy("aws:iam/policy:Policy")["Statement"]}
    assert launcher["UseBucketKey"]["Resource"] == KEY
    assert launcher["UseQueueKey"]["Resource"] == queue_key


@pytest.mark.parametrize(
    "settings, named",
    [
        ({"max_receive_count": 0}, "maxReceiveCount"),
        ({"max_receive_count": 1001}, "maxReceiveCount"),
        ({"version_retention_days": 0}, "versionRetentionDays"),
        ({"existing_bucket_name": "Not_A_Bucket"}, "existingBucketName"),
        ({"topic_kms_key_arn": "my-key"}, "topicKmsKeyArn"),
        ({"tags": {"team": 3}}, "tags"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(settings, named):
    with pytest.raises(ConfigError, match=named):
        FaceDetectionPipelineArgs(**settings)
