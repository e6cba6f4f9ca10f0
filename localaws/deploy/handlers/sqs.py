"""SQS: queues (with their dead-letter redrive) and queue policies."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType
from .base import Context, Handler, Inputs, Outputs, choose_name, exists, ignore_missing, is_missing, retag

QUEUE_ATTRIBUTES: dict[str, QueueAttributeNameType] = {
    "delaySeconds": "DelaySeconds",
    "maxMessageSize": "MaximumMessageSize",
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "redrivePolicy": "RedrivePolicy",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "kmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds",
}


# What an attribute returns to when its input is removed: pulumi-aws's defaults, which are SQS's own.
QUEUE_DEFAULTS: dict[QueueAttributeNameType, str] = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "262144",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
}


def _attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Queue(Handler):
    type_token = "aws:sqs/queue:Queue"
    inputs = frozenset({"name", "namePrefix", "tags", *QUEUE_ATTRIBUTES})
    replace_on = frozenset({"name", "namePrefix"})

    @staticmethod
    def _attributes(inputs: Inputs) -> dict[QueueAttributeNameType, str]:
        return {QUEUE_ATTRIBUTES[k]: _attribute_value(v) for k, v in inputs.items() if k in QUEUE_ATTRIBUTES}

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        queue_name = choose_name(inputs, name, 80)
        sqs = ctx.client("sqs")
        url = sqs.create_queue(
            QueueName=queue_name, Attributes=self._attributes(inputs), tags=inputs.get("tags") or {}
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, {**inputs, "name": queue_name, "url": url, "arn": arn}

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        sqs = ctx.client("sqs")
        before, after = self._attributes(old), self._attributes(new)
        changed = {k: v for k, v in after.items() if before.get(k) != v}
        changed.update({k: QUEUE_DEFAULTS[k] for k in before.keys() - after.keys() if k in QUEUE_DEFAULTS})
        if changed:
            # moto forgets a queue's Policy on any SetQueueAttributes (SQS does not); the QueuePolicy
            # resource, registered after its queue, finds that and puts it back.
            sqs.set_queue_attributes(QueueUrl=resource_id, Attributes=changed)
        retag(
            old.get("tags"),
            new.get("tags"),
            lambda tags: sqs.tag_queue(QueueUrl=resource_id, Tags=tags),
            lambda keys: sqs.untag_queue(QueueUrl=resource_id, TagKeys=keys),
        )
        return {**outputs, **new, "name": outputs["name"]}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return exists(lambda: ctx.client("sqs").get_queue_attributes(QueueUrl=resource_id, AttributeNames=["QueueArn"]))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(lambda: ctx.client("sqs").delete_queue(QueueUrl=resource_id))


class QueuePolicy(Handler):
    type_token = "aws:sqs/queuePolicy:QueuePolicy"
    inputs = frozenset({"queueUrl", "policy"})
    replace_on = frozenset({"queueUrl"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        return inputs["queueUrl"], self.apply(ctx, inputs, {})

    def apply(self, ctx: Context, inputs: Inputs, outputs: Outputs) -> Outputs:
        ctx.client("sqs").set_queue_attributes(QueueUrl=inputs["queueUrl"], Attributes={"Policy": inputs["policy"]})
        return dict(inputs)

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        try:
            attributes = ctx.client("sqs").get_queue_attributes(QueueUrl=resource_id, AttributeNames=["Policy"])
        except ClientError as error:
            if is_missing(error):
                return False
            raise
        policy = attributes.get("Attributes", {}).get("Policy")
        if not policy:
            return False
        return json.loads(policy) == json.loads(outputs["policy"])

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(lambda: ctx.client("sqs").set_queue_attributes(QueueUrl=resource_id, Attributes={"Policy": ""}))


# -- Lambda and CloudWatch Logs ---------------------------------------------------------------------

# Pulumi input name -> the Lambda API member set by CreateFunction and UpdateFunctionConfiguration.
