"""CloudWatch Logs: the functions' log groups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass
from .base import Context, Handler, Inputs, Outputs, choose_name, ignore_missing, retag


class LogGroup(Handler):
    type_token = "aws:cloudwatch/logGroup:LogGroup"
    inputs = frozenset({"name", "namePrefix", "retentionInDays", "kmsKeyId", "tags"})
    replace_on = frozenset({"name", "namePrefix", "kmsKeyId"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        group = choose_name(inputs, name, 255)  # the provider's auto-name limit (CloudWatch Logs takes 512)
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
        ignore_missing(lambda: ctx.client("logs").delete_log_group(logGroupName=resource_id))
