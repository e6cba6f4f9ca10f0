"""Reading a stack's config the way the Pulumi engine hands it to the program."""

import json

import pytest

from localaws.defaults import DEFAULT_REGION
from localaws.deploy.errors import StackConfigError
from localaws.deploy.handlers import HANDLERS
from localaws.deploy.program import stack_config
from localaws.deploy.pulumi_cli import provider_config


@pytest.fixture
def project(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: demo-project\nruntime: python\n")
    return tmp_path


def test_no_stack_file_means_only_the_default_region(project):
    assert stack_config(project, "local") == {"aws:region": DEFAULT_REGION}


def test_values_are_namespaced_strings(project):
    (project / "Pulumi.local.yaml").write_text(
        "config:\n"
        "  aws:region: eu-west-1\n"
        "  demo-project:maxReceiveCount: 3\n"
        "  rawMessageDelivery: true\n"
        "  demo-project:tags:\n"
        "    team: vision\n"
    )
    config = stack_config(project, "local")
    assert config == {
        "aws:region": "eu-west-1",
        "demo-project:maxReceiveCount": "3",
        "demo-project:rawMessageDelivery": "true",
        "demo-project:tags": json.dumps({"team": "vision"}),
    }


def test_secrets_need_the_pulumi_cli(project):
    (project / "Pulumi.local.yaml").write_text("config:\n  demo-project:token:\n    secure: AAABAA==\n")
    with pytest.raises(StackConfigError, match="demo-project:token is a secret"):
        stack_config(project, "local")


def test_the_cli_path_points_every_service_at_the_endpoint():
    config = provider_config("http://127.0.0.1:4566", DEFAULT_REGION)
    for service in ("s3", "sns", "sqs", "iam", "sts", "rekognition", "lambda", "cloudwatchlogs"):
        assert config[f"aws:endpoints[0].{service}"] == "http://127.0.0.1:4566"
    for flag in ("skipCredentialsValidation", "skipRequestingAccountId", "skipMetadataApiCheck", "s3UsePathStyle"):
        assert config[f"aws:{flag}"] == "true"


# The provider's endpoint key of a resource type whose API is not its module's: log groups are typed
# aws:cloudwatch/... but are CloudWatch Logs.
ENDPOINT_KEYS = {"logGroup": "cloudwatchlogs"}


def test_the_cli_path_points_the_service_of_every_declared_resource_type_at_the_endpoint():
    """HANDLERS lists every resource type the component declares (alarms: their KMS key, alarms and
    dashboard, on by default): an endpoint left out would send that service's calls to AWS itself."""
    config = provider_config("http://127.0.0.1:4566", DEFAULT_REGION)
    for token in HANDLERS:
        module, resource = token.split(":")[1].split("/")
        key = ENDPOINT_KEYS.get(resource, module)
        assert config.get(f"aws:endpoints[0].{key}") == "http://127.0.0.1:4566", token


@pytest.mark.parametrize(
    "text, says",
    [
        (
            "config:\n  aws:region: [unclosed\n",
            "Pulumi.local.yaml is not readable YAML (expected ',' or ']', but got '<stream end>' at line 3, column 1): "
            "correct it, or move it away",
        ),
        ("- a\n- b\n", "Pulumi.local.yaml: expected a mapping with a config: mapping in it"),
        ("config: 5\n", "Pulumi.local.yaml: expected a mapping with a config: mapping in it"),
        ("config: []\n", "Pulumi.local.yaml: expected a mapping with a config: mapping in it"),
        ("config: ''\n", "Pulumi.local.yaml: expected a mapping with a config: mapping in it"),
        (
            b"config:\n  a: \xff\xfe\n",
            "Pulumi.local.yaml is not UTF-8 text (a YAML file is): correct it, or move it away",
        ),
        (None, "cannot read Pulumi.local.yaml (Is a directory): correct it, or move it away"),
    ],
)
def test_a_stack_file_that_is_not_yaml_or_has_no_config_mapping_is_one_line(project, text, says):
    """Refused as the deployer's own error (one line from local.py deploy), not a YAML traceback, nor
    a UnicodeDecodeError's or IsADirectoryError's; None: a folder of that name."""
    path = project / "Pulumi.local.yaml"
    if text is None:
        path.mkdir()
    elif isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(StackConfigError) as refused:
        stack_config(project, "local")
    assert str(refused.value).startswith(says) and "\n" not in str(refused.value)
