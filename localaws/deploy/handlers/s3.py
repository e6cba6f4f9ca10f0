"""S3: the bucket and each of its settings resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from botocore.exceptions import ClientError

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
    )
from ..errors import ResourceNotEmpty, UnsupportedResource
from .base import Context, Handler, Inputs, Outputs, choose_name, exists, ignore_missing, is_missing, tag_list


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
            s3.put_bucket_tagging(Bucket=outputs["bucket"], Tagging={"TagSet": tag_list(inputs["tags"])})
        else:
            s3.delete_bucket_tagging(Bucket=outputs["bucket"])
        return {**outputs, "tags": inputs.get("tags") or {}, "forceDestroy": bool(inputs.get("forceDestroy"))}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return exists(lambda: ctx.client("s3").head_bucket(Bucket=resource_id))

    @staticmethod
    def _objects(ctx: Context, resource_id: str) -> list[ObjectIdentifierTypeDef]:
        versions = ctx.client("s3").get_paginator("list_object_versions").paginate(Bucket=resource_id)
        return [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for page in versions
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]

    def holds_data(self, ctx: Context, resource_id: str, outputs: Outputs) -> str | None:
        if outputs.get("forceDestroy") or not self.exists(ctx, resource_id, outputs):
            return None
        objects = self._objects(ctx, resource_id)
        return f"bucket {resource_id} holds {len(objects)} object version(s)" if objects else None

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        s3 = ctx.client("s3")
        if not self.exists(ctx, resource_id, outputs):
            return
        objects = self._objects(ctx, resource_id)
        if objects and not outputs.get("forceDestroy"):
            raise ResourceNotEmpty(
                f"bucket {resource_id} still holds {len(objects)} object version(s); empty it, or run destroy "
                "--force (deletes them too), or set the stack's forceDestroy config to true and deploy, then "
                "destroy again"
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
        return exists(lambda: getattr(ctx.client("s3"), self.get_call)(Bucket=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        call = self.delete_call
        if call is not None:
            ignore_missing(lambda: getattr(ctx.client("s3"), call)(Bucket=resource_id))


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
        ignore_missing(
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
            expiration = rule.get("expiration") or {}
            if expiration.get("expiredObjectDeleteMarker"):
                shaped["Expiration"] = {"ExpiredObjectDeleteMarker": True}
            unsupported = set(rule) - {
                "id",
                "status",
                "filter",
                "abortIncompleteMultipartUpload",
                "noncurrentVersionExpiration",
                "expiration",
            }
            unsupported |= {f"expiration.{member}" for member in expiration if member != "expiredObjectDeleteMarker"}
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
            if is_missing(error):
                return False
            raise
        return bool(configuration.get("QueueConfigurations")) or not outputs.get("queues")

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(
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
