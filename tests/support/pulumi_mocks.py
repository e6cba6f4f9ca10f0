"""Names the unit tests share: the project, its root, the account and region the mocks answer with, the
recording mocks and the runner that puts a program under them, and a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from localaws.deploy import program as pulumi_program

PROJECT = "rekognition-faces"
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "111122223333"
REGION = "eu-west-1"
# The stack outputs: a contract (the launcher and other stacks read them).
STACK_OUTPUTS = {
    "bucketName",
    "bucketArn",
    "topicArn",
    "topicName",
    "roleArn",
    "queueUrl",
    "queueArn",
    "deadLetterQueueUrl",
    "deadLetterQueueArn",
    "launcherPolicyArn",
    "region",
}
# Exported as well when alarms are on (the default).
ALARM_OUTPUTS = {"alarmTopicArn", "dashboardName"}
# Exported as well when autoProcess is on.
AUTO_PROCESS_OUTPUTS = {
    "incomingPrefix",
    "resultsPrefix",
    "intakeQueueUrl",
    "starterFunctionName",
    "collectorFunctionName",
}
# Exported as well when redact is on (with autoProcess).
REDACT_OUTPUTS = {"redactorFunctionName"}


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like the AWS provider would (physical names, ARNs, URLs) and keeps every input.
    ``stacks`` holds the outputs of the stacks a StackReference may read, by stack name."""

    def __init__(self, stacks: dict[str, dict[str, Any]] | None = None) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.outputs: dict[tuple[str, str], dict[str, Any]] = {}  # by (type, name)
        self.stacks = stacks or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources.append(args)
        physical_id, outputs = self._answer(args)
        self.outputs[(args.typ, args.name)] = outputs
        return physical_id, outputs

    def _answer(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        outputs = dict(args.inputs)
        physical = f"{args.name}-0a1b2c3"
        if args.typ == "pulumi:pulumi:StackReference":
            stack = args.inputs["name"]
            assert stack in self.stacks, f"no mocked outputs for stack {stack!r}"
            return stack, {"name": stack, "outputs": self.stacks[stack], "secretOutputNames": []}
        if args.typ == "aws:kms/key:Key":
            outputs.update(arn=f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{physical}", keyId=physical)
            return physical, outputs
        if args.typ == "aws:kms/alias:Alias":
            outputs.update(arn=f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{args.inputs['name']}")
            return args.inputs["name"], outputs
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
        if args.typ == "aws:lambda/function:Function":
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{physical}"
            outputs.update(name=physical, arn=arn)
            return physical, outputs
        if args.typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            outputs.update(name=physical, arn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{physical}")
            return physical, outputs
        if args.typ == "aws:cloudwatch/dashboard:Dashboard":
            name = args.inputs["dashboardName"]
            outputs.update(dashboardArn=f"arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/{name}")
            return name, outputs
        if args.typ == "aws:cloudwatch/logGroup:LogGroup":
            group = args.inputs.get("namePrefix", "") + "0a1b2c3"
            outputs.update(name=group, arn=f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}")
            return group, outputs
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
    states: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # outputs by (type, name)

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name_suffix: str = "") -> dict[str, Any]:
        matches = [r for r in self.of_type(typ) if r.name.endswith(name_suffix)]
        assert len(matches) == 1, f"expected one {typ} named *{name_suffix}, got {[r.name for r in matches]}"
        return matches[0].inputs

    def policy(self, typ: str, name_suffix: str = "", key: str = "policy") -> dict[str, Any]:
        return json.loads(self.one(typ, name_suffix)[key])


def run_body(
    body: Callable[[], Any],
    config: dict[str, str] | None = None,
    project: str = PROJECT,
    stacks: dict[str, dict[str, Any]] | None = None,
    mocks: RecordingMocks | None = None,
) -> Declared:
    """Run ``body`` as a Pulumi program of ``project`` under recording mocks (new ones unless given)."""
    mocks = mocks or RecordingMocks(stacks)
    namespaced = {k if ":" in k else f"{project}:{k}": v for k, v in (config or {}).items()}
    declared = Declared(mocks.resources, states=mocks.outputs)
    declared.outputs = pulumi_program.run_program(mocks, project, "test", namespaced, body)
    return declared


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
