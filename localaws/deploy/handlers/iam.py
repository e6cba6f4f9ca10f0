"""IAM: roles, inline role policies and managed policies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass
from .base import Context, Handler, Inputs, Outputs, choose_name, exists, ignore_missing, retag, tag_list


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
            Tags=tag_list(inputs.get("tags")),
        )["Role"]
        return role_name, {**inputs, "name": role_name, "arn": role["Arn"], "uniqueId": role["RoleId"]}

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        iam = ctx.client("iam")
        iam.update_assume_role_policy(RoleName=resource_id, PolicyDocument=new["assumeRolePolicy"])
        iam.update_role(RoleName=resource_id, Description=new.get("description") or "")
        retag(
            old.get("tags"),
            new.get("tags"),
            lambda tags: iam.tag_role(RoleName=resource_id, Tags=tag_list(tags)),
            lambda keys: iam.untag_role(RoleName=resource_id, TagKeys=keys),
        )
        return {**outputs, **new, "name": resource_id}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return exists(lambda: ctx.client("iam").get_role(RoleName=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(lambda: ctx.client("iam").delete_role(RoleName=resource_id))


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
        return exists(lambda: ctx.client("iam").get_role_policy(RoleName=role, PolicyName=policy_name))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        role, _, policy_name = resource_id.partition(":")
        ignore_missing(lambda: ctx.client("iam").delete_role_policy(RoleName=role, PolicyName=policy_name))


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
            Tags=tag_list(inputs.get("tags")),
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
            lambda tags: iam.tag_policy(PolicyArn=resource_id, Tags=tag_list(tags)),
            lambda keys: iam.untag_policy(PolicyArn=resource_id, TagKeys=keys),
        )
        return {**outputs, **new, "name": outputs["name"]}

    @staticmethod
    def _drop_old_versions(iam: Any, arn: str) -> None:
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return exists(lambda: ctx.client("iam").get_policy(PolicyArn=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        iam = ctx.client("iam")
        if self.exists(ctx, resource_id, outputs):
            self._drop_old_versions(iam, resource_id)
            iam.delete_policy(PolicyArn=resource_id)


# -- SQS ----------------------------------------------------------------------------------------

# Pulumi input name -> SQS attribute name.
