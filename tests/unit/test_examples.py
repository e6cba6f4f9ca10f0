"""The examples in examples/ run under Pulumi's mocks, and what they declare is checked.

examples/yaml needs the Pulumi CLI's YAML engine, which is not here: its properties are checked against
the package schema (each exists, with the right type; each output it reads exists), then handed to the
component the way the provider does on `Construct` (the schema's camelCase names mapped to the
TypedDict's), and the resources that declares are checked.
"""

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ComponentInitError

from components.provider import COMPONENTS, PACKAGE_NAME, PACKAGE_VERSION, SCHEMA_FILE
from localaws.deploy import program as pulumi_program
from tests.support.pulumi_mocks import ACCOUNT_ID, REGION, ROOT, RecordingMocks, run_body

EXAMPLES = ROOT / "examples"
SCHEMA = json.loads(SCHEMA_FILE.read_text())
YAML_PROGRAM = yaml.safe_load((EXAMPLES / "yaml" / "Pulumi.yaml").read_text())
JSON_TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict}


def _component_schema(token: str) -> dict[str, Any]:
    package = token.split(":", 1)[0]
    assert package == SCHEMA["name"], f"{token} is not from the {SCHEMA['name']} package"
    return SCHEMA["resources"][token]


def test_yaml_example_points_at_the_plugin_directory():
    assert YAML_PROGRAM["runtime"] == "yaml"
    plugin = (EXAMPLES / "yaml" / YAML_PROGRAM["packages"][PACKAGE_NAME]).resolve()
    assert plugin == ROOT / "components"
    assert (plugin / "PulumiPlugin.yaml").exists()


def test_yaml_example_sets_only_schema_inputs_with_their_types():
    for name, resource in YAML_PROGRAM["resources"].items():
        component = _component_schema(resource["type"])
        for key, value in resource.get("properties", {}).items():
            assert key in component["inputProperties"], f"{name}.{key} is not an input of {resource['type']}"
            spec = component["inputProperties"][key]
            assert isinstance(value, JSON_TYPES[spec["type"]]) and not (
                spec["type"] == "integer" and isinstance(value, bool)
            ), f"{name}.{key}: {value!r} is not a {spec['type']}"
            if spec["type"] == "object":
                item_type = JSON_TYPES[spec["additionalProperties"]["type"]]
                assert all(isinstance(v, item_type) for v in value.values()), f"{name}.{key}"
        assert set(component["requiredInputs"]) <= set(resource.get("properties", {}))


def test_yaml_example_reads_only_outputs_the_component_has():
    for output, expression in YAML_PROGRAM["outputs"].items():
        resource, _, prop = expression.removeprefix("${").removesuffix("}").partition(".")
        component = _component_schema(YAML_PROGRAM["resources"][resource]["type"])
        assert prop in component["properties"], f"output {output} reads {expression}, which does not exist"


def test_yaml_example_declares_the_pipeline_as_the_provider_would():
    (name, resource), *_ = YAML_PROGRAM["resources"].items()
    provider = ComponentProvider(COMPONENTS, PACKAGE_NAME, None, PACKAGE_VERSION)
    outputs: dict[str, Any] = {}

    def body():
        constructed = provider.construct(name, resource["type"], resource["properties"], None)
        for output, expression in YAML_PROGRAM["outputs"].items():
            prop = expression.removeprefix("${").removesuffix("}").partition(".")[2]
            pulumi.Output.from_input(constructed.state[prop]).apply(lambda v, o=output: outputs.update({o: v}))

    declared = run_body(body, {"aws:region": REGION}, project="faces-from-yaml")
    assert set(outputs) == set(YAML_PROGRAM["outputs"])
    assert outputs["topicArn"].startswith(f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:AmazonRekognition-pipeline-")
    assert outputs["region"] == REGION
    properties = resource["properties"]
    assert declared.one("aws:s3/bucket:Bucket")["tags"] == properties["tags"]
    assert json.loads(declared.one("aws:sqs/queue:Queue", "-completion")["redrivePolicy"])["maxReceiveCount"] == 3
    assert declared.one("aws:sns/topicSubscription:TopicSubscription")["rawMessageDelivery"] is True
    lifecycle = declared.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert {"noncurrentDays": 14} in [r.get("noncurrentVersionExpiration") for r in lifecycle["rules"]]


def test_a_yaml_resource_name_aws_would_refuse_is_refused_before_anything_is_declared():
    """A YAML program names the component by its key; `my_pipeline` (an '_' S3 refuses in a bucket
    name) was found only when `pulumi up` reached the bucket."""
    (_, resource), *_ = YAML_PROGRAM["resources"].items()
    provider = ComponentProvider(COMPONENTS, PACKAGE_NAME, None, PACKAGE_VERSION)
    mocks = RecordingMocks()
    with pytest.raises(ComponentInitError) as refused:  # what the engine reports, the ConfigError's message
        run_body(
            lambda: provider.construct("my_pipeline", resource["type"], resource["properties"], None),
            {"aws:region": REGION},
            project="faces-from-yaml",
            mocks=mocks,
        )
    assert str(refused.value) == (
        "the component's name 'my_pipeline' cannot start AWS resource names: use 1-44 ASCII letters, digits and "
        "hyphens, starting with a letter or digit (e.g. 'my-pipeline')"
    )
    assert mocks.resources == []


# What examples/stack-reference reads: the real program's outputs (under mocks), and a key stack.
FACES_STACK = "my-org/rekognition-faces/dev"
KEYS_STACK = "my-org/platform-keys/prod"
VIDEO_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.fixture(scope="module")
def faces_outputs() -> dict[str, Any]:
    return run_body(pulumi_program.main_program(ROOT), {"aws:region": REGION}).outputs


def _run_stack_reference(faces_outputs: dict[str, Any], keys_outputs: dict[str, Any]):
    project_dir = EXAMPLES / "stack-reference"
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    return run_body(
        pulumi_program.main_program(Path(project_dir)),
        {"aws:region": REGION, "facesStack": FACES_STACK, "keysStack": KEYS_STACK},
        project=project["name"],
        stacks={FACES_STACK: faces_outputs, KEYS_STACK: keys_outputs},
    )


def test_stack_reference_example_builds_on_the_stacks_outputs(faces_outputs):
    declared = _run_stack_reference(faces_outputs, {"videoKeyArn": VIDEO_KEY})
    attachment = declared.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment["policyArn"] == faces_outputs["launcherPolicyArn"]
    assert attachment["role"] == "video-jobs-0a1b2c3"
    trust = declared.policy("aws:iam/role:Role", "video-jobs", key="assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    (rule,) = declared.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[
        "rules"
    ]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": VIDEO_KEY}
    launcher = {s["Sid"]: s for s in declared.policy("aws:iam/policy:Policy", "archive-launcher")["Statement"]}
    assert launcher["UseBucketKey"]["Resource"] == VIDEO_KEY
    assert declared.outputs["facesQueueUrl"] == faces_outputs["queueUrl"]
    assert declared.outputs["archiveBucketName"] == "archive-videos-0a1b2c3"
    assert set(declared.outputs) == {
        "ciRoleArn",
        "facesQueueUrl",
        "archiveBucketName",
        "archiveQueueUrl",
        "archiveLauncherPolicyArn",
    }


def test_stack_reference_example_fails_on_a_bad_key_from_the_other_stack(faces_outputs):
    with pytest.raises(ValueError, match="bucketKmsKeyArn must be a KMS key ARN"):
        _run_stack_reference(faces_outputs, {"videoKeyArn": "not-a-key"})


def test_stack_reference_example_fails_when_an_output_is_missing(faces_outputs):
    without_policy = {k: v for k, v in faces_outputs.items() if k != "launcherPolicyArn"}
    with pytest.raises(KeyError, match="launcherPolicyArn"):
        _run_stack_reference(without_policy, {"videoKeyArn": VIDEO_KEY})
