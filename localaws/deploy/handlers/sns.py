"""SNS: the topic, its policy and its subscriptions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    pass
from .base import Context, Handler, Inputs, Outputs, choose_name, exists, ignore_missing, is_missing, retag, tag_list


class Topic(Handler):
    type_token = "aws:sns/topic:Topic"
    inputs = frozenset({"name", "namePrefix", "kmsMasterKeyId", "tags"})
    replace_on = frozenset({"name", "namePrefix"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        topic = choose_name(inputs, name, 80)  # the provider's auto-name limit (SNS itself takes 256)
        attributes = {"KmsMasterKeyId": inputs["kmsMasterKeyId"]} if inputs.get("kmsMasterKeyId") else {}
        arn = ctx.client("sns").create_topic(Name=topic, Attributes=attributes, Tags=tag_list(inputs.get("tags")))[
            "TopicArn"
        ]
        return arn, {**inputs, "arn": arn, "name": topic, "owner": ctx.account_id}

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        sns = ctx.client("sns")
        if old.get("kmsMasterKeyId") != new.get("kmsMasterKeyId"):
            sns.set_topic_attributes(
                TopicArn=resource_id, AttributeName="KmsMasterKeyId", AttributeValue=new.get("kmsMasterKeyId") or ""
            )
        retag(
            old.get("tags"),
            new.get("tags"),
            lambda tags: sns.tag_resource(ResourceArn=resource_id, Tags=tag_list(tags)),
            lambda keys: sns.untag_resource(ResourceArn=resource_id, TagKeys=keys),
        )
        return {**outputs, **new, "name": outputs["name"]}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return exists(lambda: ctx.client("sns").get_topic_attributes(TopicArn=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(lambda: ctx.client("sns").delete_topic(TopicArn=resource_id))


def default_topic_policy(topic_arn: str, account_id: str) -> str:
    """What SNS gives a new topic: its owner account may use it. Restored when a TopicPolicy goes."""
    return json.dumps(
        {
            "Version": "2008-10-17",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "SNS:GetTopicAttributes",
                        "SNS:SetTopicAttributes",
                        "SNS:AddPermission",
                        "SNS:RemovePermission",
                        "SNS:DeleteTopic",
                        "SNS:Subscribe",
                        "SNS:ListSubscriptionsByTopic",
                        "SNS:Publish",
                    ],
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": account_id}},
                }
            ],
        }
    )


class TopicPolicy(Handler):
    type_token = "aws:sns/topicPolicy:TopicPolicy"
    inputs = frozenset({"arn", "policy"})
    replace_on = frozenset({"arn"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        return inputs["arn"], self.apply(ctx, inputs, {})

    def apply(self, ctx: Context, inputs: Inputs, outputs: Outputs) -> Outputs:
        ctx.client("sns").set_topic_attributes(
            TopicArn=inputs["arn"], AttributeName="Policy", AttributeValue=inputs["policy"]
        )
        return {**inputs, "owner": ctx.account_id}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        try:
            attributes = ctx.client("sns").get_topic_attributes(TopicArn=resource_id)["Attributes"]
        except ClientError as error:
            if is_missing(error):
                return False
            raise
        return json.loads(attributes.get("Policy", "{}")) == json.loads(outputs["policy"])

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(
            lambda: ctx.client("sns").set_topic_attributes(
                TopicArn=resource_id,
                AttributeName="Policy",
                AttributeValue=default_topic_policy(resource_id, ctx.account_id),
            )
        )


class TopicSubscription(Handler):
    type_token = "aws:sns/topicSubscription:TopicSubscription"
    inputs = frozenset({"topic", "protocol", "endpoint", "rawMessageDelivery"})
    replace_on = frozenset({"topic", "protocol", "endpoint"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        arn = ctx.client("sns").subscribe(
            TopicArn=inputs["topic"],
            Protocol=inputs["protocol"],
            Endpoint=inputs["endpoint"],
            Attributes={"RawMessageDelivery": str(bool(inputs.get("rawMessageDelivery"))).lower()},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return arn, {**inputs, "arn": arn}

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        ctx.client("sns").set_subscription_attributes(
            SubscriptionArn=resource_id,
            AttributeName="RawMessageDelivery",
            AttributeValue=str(bool(new.get("rawMessageDelivery"))).lower(),
        )
        return {**new, "arn": resource_id}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return exists(lambda: ctx.client("sns").get_subscription_attributes(SubscriptionArn=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(lambda: ctx.client("sns").unsubscribe(SubscriptionArn=resource_id))


# -- IAM ----------------------------------------------------------------------------------------
