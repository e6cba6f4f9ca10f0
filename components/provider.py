"""The component as a Pulumi package (`rekognition-faces`), usable from every Pulumi language.

Pulumi's Python component provider infers the package schema from FaceDetectionPipeline's type
annotations (FaceDetectionPipelineArgs in, the component's Output attributes out) and serves it over
the provider gRPC interface. `components/__main__.py` is the plugin's entry point; the inferred schema
is committed as `components/schema.json` (`make schema` regenerates it).
"""

import json
from pathlib import Path

import pulumi
from pulumi.provider.experimental import component_provider_host
from pulumi.provider.experimental.component import ComponentProvider

from .pipeline import TYPE_TOKEN, FaceDetectionPipeline

PACKAGE_NAME = TYPE_TOKEN.split(":", 1)[0]
PACKAGE_VERSION = "0.1.0"
COMPONENTS: list[type[pulumi.ComponentResource]] = [FaceDetectionPipeline]
SCHEMA_FILE = Path(__file__).with_name("schema.json")


def inferred_schema() -> dict:
    """The package schema Pulumi infers from the code, as the engine will read it."""
    schema = ComponentProvider(COMPONENTS, PACKAGE_NAME, None, PACKAGE_VERSION).schema
    assert schema is not None, "ComponentProvider always builds a schema"
    return json.loads(schema)


def schema_text() -> str:
    """The schema as committed: stable, reviewable JSON."""
    return json.dumps(inferred_schema(), indent=2, ensure_ascii=False) + "\n"


def serve() -> None:
    """Serve the package to the Pulumi engine (prints the port; the engine's address is argv[1])."""
    component_provider_host(COMPONENTS, PACKAGE_NAME, version=PACKAGE_VERSION)
