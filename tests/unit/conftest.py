"""Run the component or the whole program under Pulumi's mocks and record what it declares."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest

from localaws.deploy import program as pulumi_program

from .support import ACCOUNT_ID, PROJECT, REGION, ROOT


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like the AWS provider would (physical names, ARNs, URLs) and keeps every input."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources.append(args)
        outputs = dict(args.inputs)
        physical = f"{args.name}-0a1b2c3"
        if args.typ == "aws:s3/bucket:Bucket":
            outputs.update(bucket=physical, arn=f"arn:aws:s3:::{physical}")
            return physical, outputs
        if args.typ == "aws:sns/topic:Topic":
            topic = args.inputs.get("name") or args.inputs.get("namePrefix", "") + "0a1b2c3"
            arn = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{topic}"
            outputs.update(name=topic, arn=arn)
            return arn, outputs
        if args.typ == "aws:sqs/queue:Queue":
            url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{physical}"
            outputs.update(name=physical, url=url, arn=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{physical}")
            return url, outputs
        if args.typ == "aws:iam/role:Role":
            outputs.update(name=physical, arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{physical}")
            return physical, outputs
        if args.typ == "aws:iam/policy:Policy":
            arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/{physical}"
            outputs.update(name=physical, arn=arn)
            return arn, outputs
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/tester",
                "userId": "AIDATESTER",
                "id": ACCOUNT_ID,
            }
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if args.token == "aws:index/getRegion:getRegion":
            return {"region": REGION, "name": REGION, "endpoint": f"ec2.{REGION}.amazonaws.com", "id": REGION}
        raise NotImplementedError(f"unexpected invoke {args.token}")


@dataclass
class Declared:
    """What a program declared: every resource's inputs, and the stack outputs it exported."""

    resources: list[pulumi.runtime.MockResourceArgs]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name_suffix: str = "") -> dict[str, Any]:
        matches = [r for r in self.of_type(typ) if r.name.endswith(name_suffix)]
        assert len(matches) == 1, f"expected one {typ} named *{name_suffix}, got {[r.name for r in matches]}"
        return matches[0].inputs

    def policy(self, typ: str, name_suffix: str = "", key: str = "policy") -> dict[str, Any]:
        return json.loads(self.one(typ, name_suffix)[key])


def _run(body: Callable[[], Any], config: dict[str, str] | None) -> Declared:
    mocks = RecordingMocks()
    namespaced = {k if ":" in k else f"{PROJECT}:{k}": v for k, v in (config or {}).items()}
    declared = Declared(mocks.resources)
    declared.outputs = pulumi_program.run_program(mocks, PROJECT, "test", namespaced, body)
    return declared


@pytest.fixture
def run_component() -> Callable[..., Declared]:
    """Declare a FaceDetectionPipeline with the given args and record it."""
    from components import FaceDetectionPipeline, FaceDetectionPipelineArgs

    def run(name: str = "faces", args: FaceDetectionPipelineArgs | None = None) -> Declared:
        return _run(lambda: FaceDetectionPipeline(name, args), config={"aws:region": REGION})

    return run


@pytest.fixture
def run_program() -> Callable[..., Declared]:
    """Run the project's __main__.py with the given stack config and record it."""

    def run(config: dict[str, str] | None = None) -> Declared:
        return _run(pulumi_program.main_program(ROOT), config)

    return run
