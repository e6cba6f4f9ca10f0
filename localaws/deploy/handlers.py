"""Create, update, check and delete each resource type the component declares, with boto3.

One handler per Pulumi type token, fed exactly the inputs the program declared (camelCase, as the
Pulumi engine sends them) and answering with the outputs the AWS provider would. An input a handler
does not know is refused by name rather than silently dropped.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from botocore.exceptions import ClientError

from ..clients import ClientFactory

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType, FilterRuleNameType
    from mypy_boto3_s3.type_defs import (
        FilterRuleTypeDef,
        LifecycleRuleTypeDef,
        ObjectIdentifierTypeDef,
        QueueConfigurationTypeDef,
        ServerSideEncryptionByDefaultTypeDef,
        ServerSideEncryptionRuleTypeDef,
        TagTypeDef,
    )
    from mypy_boto3_sqs.literals import QueueAttributeNameType
from .archives import build_zip
from .errors import ResourceNotEmpty, UnsupportedResource

Inputs = dict[str, Any]
Outputs = dict[str, Any]


@dataclass
class Context:
    """What handlers need: clients of the endpoint, and the stack's region and account."""

    client: ClientFactory
    region: str
    account_id: str


def physical_name(logical_name: str, max_length: int = 63) -> str:
    """Pulumi's auto-naming: the logical name plus a dash and 7 random hex characters."""
    return f"{logical_name[: max_length - 8]}-{secrets.token_hex(4)[:7]}"


def prefixed_name(prefix: str) -> str:
    """The provider's ``name_prefix``: the prefix plus a 26-character unique suffix."""
    return prefix + secrets.token_hex(13)


def choose_name(
    inputs: Inputs, logical_name: str, max_length: int, key: str = "name", prefix_key: str = "namePrefix"
) -> str:
    """The name the program gave, else its prefix plus a unique suffix, else Pulumi's auto-name."""
    if inputs.get(key):
        return inputs[key]
    if inputs.get(prefix_key):
        return prefixed_name(inputs[prefix_key])
    return physical_name(logical_name, max_length)


def retag(
    old: dict[str, str] | None,
    new: dict[str, str] | None,
    tag: Callable[[dict[str, str]], Any],
    untag: Callable[[list[str]], Any],
) -> None:
    """Bring a resource's tags from ``old`` to ``new``: untag what is gone, tag what is new or changed."""
    old, new = old or {}, new or {}
    removed = sorted(set(old) - set(new))
    if removed:
        untag(removed)
    changed = {k: v for k, v in new.items() if old.get(k) != v}
    if changed:
        tag(changed)


def _tag_list(tags: dict[str, str] | None) -> list[TagTypeDef]:
    """``[{"Key": k, "Value": v}]``: S3's, SNS's and IAM's tag shapes are the same."""
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


def _missing(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or "NotFound" in code or "NoSuch" in code or code == "AWS.SimpleQueueService.NonExistentQueue"


class Handler:
    """Base: subclasses set ``type_token``, ``inputs`` (known input names) and ``replace_on``."""

    type_token: ClassVar[str]
    inputs: ClassVar[frozenset[str]]
    replace_on: ClassVar[frozenset[str]] = frozenset()

    def check_inputs(self, inputs: Inputs) -> None:
        unknown = sorted(set(inputs) - self.inputs)
        if unknown:
            raise UnsupportedResource(
                f"{self.type_token}: input(s) {', '.join(unknown)} are not supported by the offline deployer; "
                "deploy with the Pulumi CLI, or add them to localaws/deploy/handlers.py"
            )

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        raise NotImplementedError

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        """Default: re-apply (the put-style APIs are idempotent)."""
        return self.apply(ctx, new, outputs)

    def apply(self, ctx: Context, inputs: Inputs, outputs: Outputs) -> Outputs:
        raise NotImplementedError

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        raise NotImplementedError

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        raise NotImplementedError


def _exists(call: Callable[[], Any]) -> bool:
    try:
        call()
        return True
    except ClientError as error:
        if _missing(error):
            return False
        raise


def _ignore_missing(call: Callable[[], Any]) -> None:
    try:
        call()
    except ClientError as error:
        if not _missing(error):
            raise


# -- S3 -----------------------------------------------------------------------------------------


class Bucket(Handler):
    type_token = "aws:s3/bucket:Bucket"
    inputs = frozenset({"bucket", "bucketPrefix", "forceDestroy", "tags"})
    replace_on = frozenset({"bucket", "bucketPrefix"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        bucket = choose_name(inputs, name, 63, key="bucket", prefix_key="bucketPrefix").lower()
        s3 = ctx.client("s3")
        if ctx.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            location = cast("BucketLocationConstraintType", ctx.region)  # S3 refuses a region it does not know
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": location})
        outputs = {
            "bucket": bucket,
            "arn": f"arn:aws:s3:::{bucket}",
            "region": ctx.region,
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        }
        return bucket, self.apply(ctx, inputs, outputs)

    def apply(self, ctx: Context, inputs: Inputs, outputs: Outputs) -> Outputs:
        s3 = ctx.client("s3")
        if inputs.get("tags"):
            s3.put_bucket_tagging(Bucket=outputs["bucket"], Tagging={"TagSet": _tag_list(inputs["tags"])})
        else:
            s3.delete_bucket_tagging(Bucket=outputs["bucket"])
        return {**outputs, "tags": inputs.get("tags") or {}, "forceDestroy": bool(inputs.get("forceDestroy"))}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return _exists(lambda: ctx.client("s3").head_bucket(Bucket=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        s3 = ctx.client("s3")
        if not self.exists(ctx, resource_id, outputs):
            return
        versions = s3.get_paginator("list_object_versions").paginate(Bucket=resource_id)
        objects: list[ObjectIdentifierTypeDef] = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for page in versions
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects and not outputs.get("forceDestroy"):
            raise ResourceNotEmpty(
                f"bucket {resource_id} still holds {len(objects)} object version(s); empty it, or set the stack's "
                "forceDestroy config to true and deploy, then destroy again"
            )
        for start in range(0, len(objects), 1000):
            s3.delete_objects(Bucket=resource_id, Delete={"Objects": objects[start : start + 1000], "Quiet": True})
        s3.delete_bucket(Bucket=resource_id)


class BucketSetting(Handler):
    """The bucket-level settings: one put, one get and one delete call each, keyed by bucket."""

    replace_on = frozenset({"bucket"})
    get_call: ClassVar[str]
    delete_call: ClassVar[str | None]

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        return inputs["bucket"], self.apply(ctx, inputs, {})

    def apply(self, ctx: Context, inputs: Inputs, outputs: Outputs) -> Outputs:
        self.put(ctx.client("s3"), inputs)
        return dict(inputs)

    def put(self, s3: S3Client, inputs: Inputs) -> None:
        raise NotImplementedError

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return _exists(lambda: getattr(ctx.client("s3"), self.get_call)(Bucket=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        call = self.delete_call
        if call is not None:
            _ignore_missing(lambda: getattr(ctx.client("s3"), call)(Bucket=resource_id))


class BucketOwnershipControls(BucketSetting):
    type_token = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
    inputs = frozenset({"bucket", "rule"})
    get_call, delete_call = "get_bucket_ownership_controls", "delete_bucket_ownership_controls"

    def put(self, s3: S3Client, inputs: Inputs) -> None:
        s3.put_bucket_ownership_controls(
            Bucket=inputs["bucket"],
            OwnershipControls={"Rules": [{"ObjectOwnership": inputs["rule"]["objectOwnership"]}]},
        )


class BucketPublicAccessBlock(BucketSetting):
    type_token = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
    inputs = frozenset({"bucket", "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"})
    get_call, delete_call = "get_public_access_block", "delete_public_access_block"

    def put(self, s3: S3Client, inputs: Inputs) -> None:
        s3.put_public_access_block(
            Bucket=inputs["bucket"],
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": bool(inputs.get("blockPublicAcls")),
                "IgnorePublicAcls": bool(inputs.get("ignorePublicAcls")),
                "BlockPublicPolicy": bool(inputs.get("blockPublicPolicy")),
                "RestrictPublicBuckets": bool(inputs.get("restrictPublicBuckets")),
            },
        )


class BucketServerSideEncryptionConfiguration(BucketSetting):
    type_token = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    inputs = frozenset({"bucket", "rules"})
    get_call, delete_call = "get_bucket_encryption", "delete_bucket_encryption"

    def put(self, s3: S3Client, inputs: Inputs) -> None:
        rules: list[ServerSideEncryptionRuleTypeDef] = []
        for rule in inputs["rules"]:
            default = rule["applyServerSideEncryptionByDefault"]
            by_default: ServerSideEncryptionByDefaultTypeDef = {"SSEAlgorithm": default["sseAlgorithm"]}
            if default.get("kmsMasterKeyId"):
                by_default["KMSMasterKeyID"] = default["kmsMasterKeyId"]
            rules.append(
                {
                    "ApplyServerSideEncryptionByDefault": by_default,
                    "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled")),
                }
            )
        s3.put_bucket_encryption(Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules})


class BucketVersioning(BucketSetting):
    type_token = "aws:s3/bucketVersioning:BucketVersioning"
    inputs = frozenset({"bucket", "versioningConfiguration"})
    get_call, delete_call = "get_bucket_versioning", None

    def put(self, s3: S3Client, inputs: Inputs) -> None:
        status = inputs["versioningConfiguration"]["status"]
        s3.put_bucket_versioning(Bucket=inputs["bucket"], VersioningConfiguration={"Status": status})

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        # Versioning cannot be switched off once on; like the provider, suspend it.
        _ignore_missing(
            lambda: ctx.client("s3").put_bucket_versioning(
                Bucket=resource_id, VersioningConfiguration={"Status": "Suspended"}
            )
        )


class BucketLifecycleConfiguration(BucketSetting):
    type_token = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    inputs = frozenset({"bucket", "rules"})
    get_call, delete_call = "get_bucket_lifecycle_configuration", "delete_bucket_lifecycle"

    def put(self, s3: S3Client, inputs: Inputs) -> None:
        rules: list[LifecycleRuleTypeDef] = []
        for rule in inputs["rules"]:
            shaped: LifecycleRuleTypeDef = {
                "ID": rule["id"],
                "Status": rule["status"],
                "Filter": {"Prefix": (rule.get("filter") or {}).get("prefix", "")},
            }
            if rule.get("abortIncompleteMultipartUpload"):
                days = rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"]
                shaped["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
            if rule.get("noncurrentVersionExpiration"):
                days = rule["noncurrentVersionExpiration"]["noncurrentDays"]
                shaped["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(days)}
            unsupported = set(rule) - {
                "id",
                "status",
                "filter",
                "abortIncompleteMultipartUpload",
                "noncurrentVersionExpiration",
            }
            if unsupported:
                raise UnsupportedResource(
                    f"{self.type_token}: rule field(s) {', '.join(sorted(unsupported))} "
                    "are not supported by the offline deployer"
                )
            rules.append(shaped)
        s3.put_bucket_lifecycle_configuration(Bucket=inputs["bucket"], LifecycleConfiguration={"Rules": rules})


class BucketPolicy(BucketSetting):
    type_token = "aws:s3/bucketPolicy:BucketPolicy"
    inputs = frozenset({"bucket", "policy"})
    get_call, delete_call = "get_bucket_policy", "delete_bucket_policy"

    def put(self, s3: S3Client, inputs: Inputs) -> None:
        s3.put_bucket_policy(Bucket=inputs["bucket"], Policy=inputs["policy"])


class BucketNotification(BucketSetting):
    """The bucket's whole notification configuration (S3 keeps one per bucket), queue targets only."""

    type_token = "aws:s3/bucketNotification:BucketNotification"
    inputs = frozenset({"bucket", "queues"})
    get_call, delete_call = "get_bucket_notification_configuration", None

    def put(self, s3: S3Client, inputs: Inputs) -> None:
        s3.put_bucket_notification_configuration(
            Bucket=inputs["bucket"],
            NotificationConfiguration={"QueueConfigurations": [_queue_target(q) for q in inputs.get("queues") or []]},
        )

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        try:
            configuration = ctx.client("s3").get_bucket_notification_configuration(Bucket=resource_id)
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return bool(configuration.get("QueueConfigurations")) or not outputs.get("queues")

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        _ignore_missing(
            lambda: ctx.client("s3").put_bucket_notification_configuration(
                Bucket=resource_id, NotificationConfiguration={}
            )
        )


# S3's key filter rule name -> the Pulumi input holding its value.
KEY_FILTER_INPUTS: tuple[tuple[FilterRuleNameType, str], ...] = (("prefix", "filterPrefix"), ("suffix", "filterSuffix"))


def _queue_target(queue: dict[str, Any]) -> QueueConfigurationTypeDef:
    unsupported = set(queue) - {"id", "queueArn", "events", "filterPrefix", "filterSuffix"}
    if unsupported:
        raise UnsupportedResource(
            f"{BucketNotification.type_token}: queue field(s) {', '.join(sorted(unsupported))} are not supported"
        )
    rules: list[FilterRuleTypeDef] = [
        {"Name": name, "Value": queue[key]} for name, key in KEY_FILTER_INPUTS if queue.get(key)
    ]
    target: QueueConfigurationTypeDef = {"QueueArn": queue["queueArn"], "Events": queue["events"]}
    if queue.get("id"):
        target["Id"] = queue["id"]
    if rules:
        target["Filter"] = {"Key": {"FilterRules": rules}}
    return target


# -- SNS ----------------------------------------------------------------------------------------


class Topic(Handler):
    type_token = "aws:sns/topic:Topic"
    inputs = frozenset({"name", "namePrefix", "kmsMasterKeyId", "tags"})
    replace_on = frozenset({"name", "namePrefix"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        topic = choose_name(inputs, name, 256)
        attributes = {"KmsMasterKeyId": inputs["kmsMasterKeyId"]} if inputs.get("kmsMasterKeyId") else {}
        arn = ctx.client("sns").create_topic(Name=topic, Attributes=attributes, Tags=_tag_list(inputs.get("tags")))[
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
            lambda tags: sns.tag_resource(ResourceArn=resource_id, Tags=_tag_list(tags)),
            lambda keys: sns.untag_resource(ResourceArn=resource_id, TagKeys=keys),
        )
        return {**outputs, **new, "name": outputs["name"]}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return _exists(lambda: ctx.client("sns").get_topic_attributes(TopicArn=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        _ignore_missing(lambda: ctx.client("sns").delete_topic(TopicArn=resource_id))


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
            if _missing(error):
                return False
            raise
        return json.loads(attributes.get("Policy", "{}")) == json.loads(outputs["policy"])

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        _ignore_missing(
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
        return _exists(lambda: ctx.client("sns").get_subscription_attributes(SubscriptionArn=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        _ignore_missing(lambda: ctx.client("sns").unsubscribe(SubscriptionArn=resource_id))


# -- IAM ----------------------------------------------------------------------------------------


class Role(Handler):
    type_token = "aws:iam/role:Role"
    inputs = frozenset({"name", "namePrefix", "assumeRolePolicy", "description", "tags"})
    replace_on = frozenset({"name", "namePrefix"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        role_name = choose_name(inputs, name, 64)
        role = ctx.client("iam").create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
            Description=inputs.get("description") or "",
            Tags=_tag_list(inputs.get("tags")),
        )["Role"]
        return role_name, {**inputs, "name": role_name, "arn": role["Arn"], "uniqueId": role["RoleId"]}

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        iam = ctx.client("iam")
        iam.update_assume_role_policy(RoleName=resource_id, PolicyDocument=new["assumeRolePolicy"])
        iam.update_role(RoleName=resource_id, Description=new.get("description") or "")
        retag(
            old.get("tags"),
            new.get("tags"),
            lambda tags: iam.tag_role(RoleName=resource_id, Tags=_tag_list(tags)),
            lambda keys: iam.untag_role(RoleName=resource_id, TagKeys=keys),
        )
        return {**outputs, **new, "name": resource_id}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return _exists(lambda: ctx.client("iam").get_role(RoleName=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        _ignore_missing(lambda: ctx.client("iam").delete_role(RoleName=resource_id))


class RolePolicy(Handler):
    type_token = "aws:iam/rolePolicy:RolePolicy"
    inputs = frozenset({"name", "namePrefix", "role", "policy"})
    replace_on = frozenset({"name", "namePrefix", "role"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        policy_name = choose_name(inputs, name, 128)
        outputs = self.apply(ctx, inputs, {"name": policy_name})
        return f"{inputs['role']}:{policy_name}", outputs

    def apply(self, ctx: Context, inputs: Inputs, outputs: Outputs) -> Outputs:
        ctx.client("iam").put_role_policy(
            RoleName=inputs["role"], PolicyName=outputs["name"], PolicyDocument=inputs["policy"]
        )
        return {**inputs, "name": outputs["name"]}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        role, _, policy_name = resource_id.partition(":")
        return _exists(lambda: ctx.client("iam").get_role_policy(RoleName=role, PolicyName=policy_name))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        role, _, policy_name = resource_id.partition(":")
        _ignore_missing(lambda: ctx.client("iam").delete_role_policy(RoleName=role, PolicyName=policy_name))


class Policy(Handler):
    type_token = "aws:iam/policy:Policy"
    inputs = frozenset({"name", "namePrefix", "policy", "description", "path", "tags"})
    replace_on = frozenset({"name", "namePrefix", "description", "path"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        policy_name = choose_name(inputs, name, 128)
        policy = ctx.client("iam").create_policy(
            PolicyName=policy_name,
            PolicyDocument=inputs["policy"],
            Description=inputs.get("description") or "",
            Path=inputs.get("path") or "/",
            Tags=_tag_list(inputs.get("tags")),
        )["Policy"]
        return policy["Arn"], {**inputs, "name": policy_name, "arn": policy["Arn"], "policyId": policy["PolicyId"]}

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        iam = ctx.client("iam")
        if old.get("policy") != new["policy"]:
            self._drop_old_versions(iam, resource_id)
            iam.create_policy_version(PolicyArn=resource_id, PolicyDocument=new["policy"], SetAsDefault=True)
        retag(
            old.get("tags"),
            new.get("tags"),
            lambda tags: iam.tag_policy(PolicyArn=resource_id, Tags=_tag_list(tags)),
            lambda keys: iam.untag_policy(PolicyArn=resource_id, TagKeys=keys),
        )
        return {**outputs, **new, "name": outputs["name"]}

    @staticmethod
    def _drop_old_versions(iam: Any, arn: str) -> None:
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return _exists(lambda: ctx.client("iam").get_policy(PolicyArn=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        iam = ctx.client("iam")
        if self.exists(ctx, resource_id, outputs):
            self._drop_old_versions(iam, resource_id)
            iam.delete_policy(PolicyArn=resource_id)


# -- SQS ----------------------------------------------------------------------------------------

# Pulumi input name -> SQS attribute name.
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
        return _exists(
            lambda: ctx.client("sqs").get_queue_attributes(QueueUrl=resource_id, AttributeNames=["QueueArn"])
        )

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        _ignore_missing(lambda: ctx.client("sqs").delete_queue(QueueUrl=resource_id))


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
            if _missing(error):
                return False
            raise
        policy = attributes.get("Attributes", {}).get("Policy")
        if not policy:
            return False
        return json.loads(policy) == json.loads(outputs["policy"])

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        _ignore_missing(lambda: ctx.client("sqs").set_queue_attributes(QueueUrl=resource_id, Attributes={"Policy": ""}))


# -- Lambda and CloudWatch Logs ---------------------------------------------------------------------

# Pulumi input name -> the Lambda API member set by CreateFunction and UpdateFunctionConfiguration.
FUNCTION_CONFIGURATION = {
    "handler": "Handler",
    "runtime": "Runtime",
    "role": "Role",
    "timeout": "Timeout",
    "memorySize": "MemorySize",
    "description": "Description",
}


def _function_configuration(inputs: Inputs) -> dict[str, Any]:
    configuration = {api: inputs[key] for key, api in FUNCTION_CONFIGURATION.items() if inputs.get(key) is not None}
    configuration["Environment"] = {"Variables": (inputs.get("environment") or {}).get("variables") or {}}
    logging_config = inputs.get("loggingConfig")
    if logging_config:
        configuration["LoggingConfig"] = {
            api: logging_config[key]
            for key, api in (("logFormat", "LogFormat"), ("logGroup", "LogGroup"))
            if logging_config.get(key)
        }
    return configuration


class Function(Handler):
    type_token = "aws:lambda/function:Function"
    inputs = frozenset({"name", "code", "tags", "environment", "loggingConfig", *FUNCTION_CONFIGURATION})
    replace_on = frozenset({"name"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        function_name = choose_name(inputs, name, 64)
        response = ctx.client("lambda").create_function(
            FunctionName=function_name,
            Code={"ZipFile": build_zip(inputs["code"])},
            Tags=inputs.get("tags") or {},
            **_function_configuration(inputs),
        )
        return function_name, self._outputs(inputs, response)

    @staticmethod
    def _outputs(inputs: Inputs, response: Mapping[str, Any]) -> Outputs:
        arn = response["FunctionArn"]
        return {
            **{key: value for key, value in inputs.items() if key != "code"},  # an archive, not state
            "name": response["FunctionName"],
            "arn": arn,
            "qualifiedArn": f"{arn}:$LATEST",
            "version": "$LATEST",
            "codeSha256": response["CodeSha256"],
            "sourceCodeHash": response["CodeSha256"],
        }

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        lam = ctx.client("lambda")
        response = lam.get_function_configuration(FunctionName=resource_id)
        if old.get("code") != new.get("code"):
            response = lam.update_function_code(FunctionName=resource_id, ZipFile=build_zip(new["code"]))
        if _function_configuration(old) != _function_configuration(new):
            response = lam.update_function_configuration(FunctionName=resource_id, **_function_configuration(new))
        arn = response["FunctionArn"]
        retag(
            old.get("tags"),
            new.get("tags"),
            lambda tags: lam.tag_resource(Resource=arn, Tags=tags),
            lambda keys: lam.untag_resource(Resource=arn, TagKeys=keys),
        )
        return self._outputs(new, response)

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return _exists(lambda: ctx.client("lambda").get_function(FunctionName=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        _ignore_missing(lambda: ctx.client("lambda").delete_function(FunctionName=resource_id))


# Pulumi input name -> Lambda API member, for what UpdateEventSourceMapping can change in place.
MAPPING_SETTINGS = {
    "functionName": "FunctionName",
    "batchSize": "BatchSize",
    "maximumBatchingWindowInSeconds": "MaximumBatchingWindowInSeconds",
    "functionResponseTypes": "FunctionResponseTypes",
    "enabled": "Enabled",
}


def _mapping_settings(inputs: Inputs) -> dict[str, Any]:
    settings = {api: inputs[key] for key, api in MAPPING_SETTINGS.items() if inputs.get(key) is not None}
    scaling = inputs.get("scalingConfig") or {}
    if scaling.get("maximumConcurrency"):
        settings["ScalingConfig"] = {"MaximumConcurrency": scaling["maximumConcurrency"]}
    return settings


class EventSourceMapping(Handler):
    type_token = "aws:lambda/eventSourceMapping:EventSourceMapping"
    inputs = frozenset({"eventSourceArn", "scalingConfig", *MAPPING_SETTINGS})
    replace_on = frozenset({"eventSourceArn"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        mapping = ctx.client("lambda").create_event_source_mapping(
            EventSourceArn=inputs["eventSourceArn"], **_mapping_settings(inputs)
        )
        return mapping["UUID"], self._outputs(inputs, mapping)

    @staticmethod
    def _outputs(inputs: Inputs, mapping: Mapping[str, Any]) -> Outputs:
        return {**inputs, "uuid": mapping["UUID"], "functionArn": mapping["FunctionArn"], "state": mapping["State"]}

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        mapping = ctx.client("lambda").update_event_source_mapping(UUID=resource_id, **_mapping_settings(new))
        return self._outputs(new, mapping)

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return _exists(lambda: ctx.client("lambda").get_event_source_mapping(UUID=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        _ignore_missing(lambda: ctx.client("lambda").delete_event_source_mapping(UUID=resource_id))


class LogGroup(Handler):
    type_token = "aws:cloudwatch/logGroup:LogGroup"
    inputs = frozenset({"name", "namePrefix", "retentionInDays", "kmsKeyId", "tags"})
    replace_on = frozenset({"name", "namePrefix", "kmsKeyId"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        group = choose_name(inputs, name, 512)
        params: dict[str, Any] = {"logGroupName": group, "tags": inputs.get("tags") or {}}
        if inputs.get("kmsKeyId"):
            params["kmsKeyId"] = inputs["kmsKeyId"]
        ctx.client("logs").create_log_group(**params)
        outputs = {"name": group, "arn": f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{group}"}
        return group, self.apply(ctx, inputs, outputs)

    def apply(self, ctx: Context, inputs: Inputs, outputs: Outputs) -> Outputs:
        logs = ctx.client("logs")
        if inputs.get("retentionInDays"):
            logs.put_retention_policy(logGroupName=outputs["name"], retentionInDays=inputs["retentionInDays"])
        else:
            logs.delete_retention_policy(logGroupName=outputs["name"])
        return {**inputs, "name": outputs["name"], "arn": outputs["arn"]}

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        logs = ctx.client("logs")
        retag(
            old.get("tags"),
            new.get("tags"),
            lambda tags: logs.tag_resource(resourceArn=outputs["arn"], tags=tags),
            lambda keys: logs.untag_resource(resourceArn=outputs["arn"], tagKeys=keys),
        )
        return self.apply(ctx, new, outputs)

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        groups = ctx.client("logs").describe_log_groups(logGroupNamePrefix=resource_id)["logGroups"]
        return any(group["logGroupName"] == resource_id for group in groups)

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        _ignore_missing(lambda: ctx.client("logs").delete_log_group(logGroupName=resource_id))


HANDLERS: dict[str, Handler] = {
    handler.type_token: handler
    for handler in (
        Bucket(),
        BucketOwnershipControls(),
        BucketPublicAccessBlock(),
        BucketServerSideEncryptionConfiguration(),
        BucketVersioning(),
        BucketLifecycleConfiguration(),
        BucketPolicy(),
        BucketNotification(),
        Topic(),
        TopicPolicy(),
        TopicSubscription(),
        Role(),
        RolePolicy(),
        Policy(),
        Queue(),
        QueuePolicy(),
        Function(),
        EventSourceMapping(),
        LogGroup(),
    )
}


def handler_for(type_token: str) -> Handler:
    try:
        return HANDLERS[type_token]
    except KeyError:
        raise UnsupportedResource(
            f"resource type {type_token} is not supported by the offline deployer; supported: "
            f"{', '.join(sorted(HANDLERS))}. Deploy with the Pulumi CLI, or add a handler in "
            "localaws/deploy/handlers.py"
        ) from None
