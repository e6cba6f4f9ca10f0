"""The whole program (__main__.py) under mocks: config in, stack outputs out."""

import json
import re

import pulumi
import pytest
import yaml

from components import DEFAULTS, ConfigError
from components.settings import MAX_NAME_LENGTH
from components.settings import setting_key as camel
from localaws.deploy.program import main_program
from tests.support.pulumi_mocks import ACCOUNT_ID, ALARM_OUTPUTS, REGION, ROOT, STACK_OUTPUTS, RecordingMocks, run_body

PROJECT_FILE = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def test_runs_with_only_a_region_and_exports_every_output(run_program):
    declared = run_program({"aws:region": REGION})
    assert set(declared.outputs) == STACK_OUTPUTS | ALARM_OUTPUTS
    outputs = declared.outputs
    assert outputs["region"] == REGION
    assert outputs["bucketArn"] == f"arn:aws:s3:::{outputs['bucketName']}"
    assert outputs["topicName"].startswith("AmazonRekognition")
    assert outputs["topicArn"] == f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{outputs['topicName']}"
    assert outputs["roleArn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/faces-")
    assert outputs["queueArn"].endswith(":faces-completion-0a1b2c3")
    assert outputs["queueUrl"].endswith("/faces-completion-0a1b2c3")
    assert outputs["deadLetterQueueArn"].endswith(":faces-dead-letter-0a1b2c3")
    assert outputs["deadLetterQueueUrl"].endswith("/faces-dead-letter-0a1b2c3")
    assert outputs["launcherPolicyArn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:policy/faces-launcher")
    # The names the launcher passes to start_face_detection satisfy the service's patterns.
    assert re.match(r"^arn:aws:sns:.*:\w{12}:.+$", outputs["topicArn"])
    assert re.match(r"^arn:aws:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$", outputs["roleArn"])
    # Every resource the issue lists is declared.
    declared_types = {r.typ for r in declared.resources}
    assert {
        "aws:s3/bucket:Bucket",
        "aws:sns/topic:Topic",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/policy:Policy",
        "aws:sqs/queue:Queue",
        "aws:sqs/queuePolicy:QueuePolicy",
    } <= declared_types


def test_stack_config_reaches_the_resources(run_program):
    declared = run_program(
        {
            "aws:region": REGION,
            "namePrefix": "vision",
            "tags": json.dumps({"team": "vision", "env": "dev"}),
            "versionRetentionDays": "9",
            "maxReceiveCount": "3",
            "rawMessageDelivery": "true",
            "forceDestroy": "true",
        }
    )
    assert declared.outputs["topicName"].startswith("AmazonRekognition-vision-")
    bucket = declared.one("aws:s3/bucket:Bucket")
    assert bucket["tags"] == {"team": "vision", "env": "dev"}
    assert bucket["forceDestroy"] is True
    rules = declared.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["rules"]
    assert {"noncurrentDays": 9} in [r.get("noncurrentVersionExpiration") for r in rules]
    assert json.loads(declared.one("aws:sqs/queue:Queue", "-completion")["redrivePolicy"])["maxReceiveCount"] == 3
    assert declared.one("aws:sns/topicSubscription:TopicSubscription")["rawMessageDelivery"] is True


def test_existing_bucket_and_keys_from_config(run_program):
    key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    declared = run_program(
        {"aws:region": REGION, "existingBucketName": "team-videos", "bucketKmsKeyArn": key, "queueKmsKeyArn": key}
    )
    assert declared.outputs["bucketName"] == "team-videos"
    assert declared.outputs["bucketArn"] == "arn:aws:s3:::team-videos"
    assert not declared.of_type("aws:s3/bucket:Bucket")
    assert declared.one("aws:sqs/queue:Queue", "-completion")["kmsMasterKeyId"] == key


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("maxReceiveCount", "0", "maxReceiveCount"),
        ("maxReceiveCount", "many", "maxReceiveCount"),
        ("tags", "not json", "tags"),
        ("tags", '["a"]', "tags"),
    ],
)
def test_bad_config_is_a_clear_error(run_program, key, value, message):
    with pytest.raises(Exception, match=message) as raised:
        run_program({"aws:region": REGION, key: value})
    assert isinstance(raised.value, (ConfigError, pulumi.ConfigTypeError))


def test_project_file_declares_every_key_with_the_components_defaults():
    runtime = PROJECT_FILE["runtime"]
    assert runtime == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    declared = PROJECT_FILE["config"]
    program = (ROOT / "__main__.py").read_text()
    read_by_program = set(re.findall(r'config\.get\w*\("(\w+)"', program))
    assert set(declared) == read_by_program
    for key, spec in declared.items():
        assert spec["type"] in {"string", "integer", "boolean"}, key
        assert spec["description"], key
        assert "default" in spec, key
    # Every component setting is a config key with the component's default ("" or "{}" for unset/empty).
    settings = {camel(name): default for name, default in DEFAULTS.items()}
    assert set(declared) - {"namePrefix"} == set(settings)
    for key, default in settings.items():
        yaml_default = declared[key]["default"]
        if key == "tags":
            yaml_default = json.loads(yaml_default)
        assert yaml_default == ("" if default is None else default), key
    # namePrefix's rule, as the component's check states it (the length is derived from its children).
    assert f"1-{MAX_NAME_LENGTH} ASCII letters, digits and hyphens" in declared["namePrefix"]["description"]


@pytest.mark.parametrize(
    "value, message",
    [
        (
            "My Faces",
            "namePrefix 'My Faces' cannot start AWS resource names: use 1-44 ASCII letters, digits and "
            "hyphens, starting with a letter or digit (e.g. 'My-Faces')",
        ),
        (
            "f" * 45,
            f"namePrefix '{'f' * 45}' has 45 characters, at most 44 fit: the IAM role named "
            "<name>-rekognition-<7 random characters> may have 64; shorten it",
        ),
    ],
)
def test_a_name_prefix_aws_would_refuse_is_named_in_one_line_before_anything_is_declared(value, message):
    """Found before the first resource, not by a deployment that stops half-way at the child AWS refuses."""
    mocks = RecordingMocks()
    with pytest.raises(ConfigError) as refused:
        run_body(main_program(ROOT), {"aws:region": REGION, "namePrefix": value}, mocks=mocks)
    assert str(refused.value) == message
    assert mocks.resources == []


def test_the_longest_name_prefix_is_taken(run_program):
    declared = run_program({"aws:region": REGION, "namePrefix": "F" * 44})
    assert declared.outputs["roleArn"].endswith(f":role/{'F' * 44}-rekognition-0a1b2c3")


def test_a_name_prefix_with_an_underscore_is_taken_on_an_existing_bucket(run_program):
    """Only S3 refuses an '_', and with existingBucketName no bucket is made: such stacks deployed
    before the name was checked."""
    declared = run_program({"aws:region": REGION, "namePrefix": "team_videos", "existingBucketName": "team-videos"})
    assert declared.outputs["roleArn"].endswith(":role/team_videos-rekognition-0a1b2c3")
    assert declared.outputs["bucketName"] == "team-videos"
