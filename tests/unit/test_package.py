"""The component as a Pulumi package: the committed schema is what the code infers, and it says what
every language will see (inputs = the component's settings, outputs = the stack's output contract)."""

import json
import re

import yaml

from components import DEFAULTS
from components.provider import PACKAGE_VERSION, SCHEMA_FILE, inferred_schema
from components.settings import PLAIN_SETTINGS, setting_key
from tests.support.pulumi_mocks import ALARM_OUTPUTS, AUTO_PROCESS_OUTPUTS, REDACT_OUTPUTS, ROOT, STACK_OUTPUTS

TYPE = "rekognition-faces:index:FaceDetectionPipeline"
COMMITTED = json.loads(SCHEMA_FILE.read_text())


def test_committed_schema_is_what_the_code_infers():
    assert inferred_schema() == COMMITTED, "components/schema.json is stale: run `make schema` and commit it"


def test_schema_inputs_are_the_settings_all_optional_and_described():
    component = COMMITTED["resources"][TYPE]
    assert COMMITTED["name"] == "rekognition-faces" and COMMITTED["version"] == PACKAGE_VERSION
    assert component["isComponent"] is True
    inputs = component["inputProperties"]
    assert set(inputs) == {setting_key(name) for name in DEFAULTS}
    assert component["requiredInputs"] == []
    for key, spec in inputs.items():
        assert spec["description"] and "\n" not in spec["description"], key
        plain = key in {setting_key(name) for name in PLAIN_SETTINGS}
        assert spec.get("plain", False) == plain, f"{key} must accept an Output, not only a plain value"
    assert inputs["tags"]["additionalProperties"]["type"] == "string"
    assert {key: inputs[key]["type"] for key in ("maxReceiveCount", "rawMessageDelivery", "bucketKmsKeyArn")} == {
        "maxReceiveCount": "integer",
        "rawMessageDelivery": "boolean",
        "bucketKmsKeyArn": "string",
    }


def test_schema_outputs_are_the_stack_outputs():
    component = COMMITTED["resources"][TYPE]
    assert set(component["properties"]) == STACK_OUTPUTS | AUTO_PROCESS_OUTPUTS | REDACT_OUTPUTS | ALARM_OUTPUTS
    assert set(component["required"]) == STACK_OUTPUTS  # the others are set only with autoProcess or alarms
    for key, spec in component["properties"].items():
        assert spec["type"] == "string" and spec["description"], key


def test_plugin_names_its_runtime_and_pins_the_projects_pulumi_versions():
    plugin = yaml.safe_load((ROOT / "components" / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"]["name"] == "python"
    assert plugin["runtime"]["options"]["virtualenv"] == "venv"
    assert (ROOT / "components" / "__main__.py").exists()

    def pins(path):
        return dict(re.findall(r"^([\w-]+)==([\w.]+)", path.read_text(), re.MULTILINE))

    plugin_pins = pins(ROOT / "components" / "requirements.txt")
    assert set(plugin_pins) == {"pulumi", "pulumi-aws"}
    project_pins = pins(ROOT / "requirements.txt")
    assert {name: project_pins[name] for name in plugin_pins} == plugin_pins


def test_the_manuals_tables_are_the_schemas():
    manual = (ROOT / "docs" / "component-package.md").read_text()
    component = COMMITTED["resources"][TYPE]
    for key, spec in component["inputProperties"].items():
        shown = "map of string" if spec["type"] == "object" else spec["type"]
        assert f"| `{key}` | {shown} | {spec['description']} |" in manual, (
            f"docs/component-package.md's input row for {key}"
        )
    for key, spec in component["properties"].items():
        assert f"| `{key}` | {spec['description']} |" in manual, f"docs/component-package.md's output row for {key}"
