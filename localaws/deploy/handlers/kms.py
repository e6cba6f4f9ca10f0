"""KMS: the alarm topic's customer-managed key (``alarms: true`` without ``alarmTopicArn``)."""

from __future__ import annotations

from typing import Any

from .base import Context, Handler, Inputs, Outputs, ignore_missing, retag

DEFAULT_DELETION_WINDOW_DAYS = 30  # the provider's default


def _kms_tags(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"TagKey": k, "TagValue": v} for k, v in (tags or {}).items()]


class Key(Handler):
    type_token = "aws:kms/key:Key"
    inputs = frozenset({"description", "policy", "enableKeyRotation", "deletionWindowInDays", "tags"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        request: dict[str, Any] = {
            "Description": inputs.get("description") or "",
            "Tags": _kms_tags(inputs.get("tags")),
        }
        if inputs.get("policy"):
            request["Policy"] = inputs["policy"]
        metadata = ctx.client("kms").create_key(**request)["KeyMetadata"]
        outputs = {"arn": metadata["Arn"], "keyId": metadata["KeyId"]}
        return metadata["KeyId"], self._rotation(ctx, inputs, {**inputs, **outputs})

    def _rotation(self, ctx: Context, inputs: Inputs, outputs: Outputs) -> Outputs:
        kms = ctx.client("kms")
        if inputs.get("enableKeyRotation"):
            kms.enable_key_rotation(KeyId=outputs["keyId"])
        else:
            kms.disable_key_rotation(KeyId=outputs["keyId"])
        return outputs

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        kms = ctx.client("kms")
        if new.get("policy") and new.get("policy") != old.get("policy"):
            kms.put_key_policy(KeyId=resource_id, PolicyName="default", Policy=new["policy"])
        if new.get("description") != old.get("description"):
            kms.update_key_description(KeyId=resource_id, Description=new.get("description") or "")
        retag(
            old.get("tags"),
            new.get("tags"),
            lambda tags: kms.tag_resource(KeyId=resource_id, Tags=_kms_tags(tags)),
            lambda keys: kms.untag_resource(KeyId=resource_id, TagKeys=keys),
        )
        return self._rotation(ctx, new, {**new, "arn": outputs["arn"], "keyId": resource_id})

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        try:
            state = ctx.client("kms").describe_key(KeyId=resource_id)["KeyMetadata"]["KeyState"]
        except ctx.client("kms").exceptions.NotFoundException:
            return False
        return state not in ("PendingDeletion", "PendingReplicaDeletion")

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        """As the provider does: schedule the deletion (a key is never deleted at once)."""
        window = int(outputs.get("deletionWindowInDays") or DEFAULT_DELETION_WINDOW_DAYS)
        ignore_missing(lambda: ctx.client("kms").schedule_key_deletion(KeyId=resource_id, PendingWindowInDays=window))
