"""What every handler shares: the deploy context, naming, tags and the ``Handler`` interface."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from ...clients import ClientFactory

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        TagTypeDef,
    )
from ..errors import NameTooLong, UnsupportedResource

Inputs = dict[str, Any]
Outputs = dict[str, Any]


@dataclass
class Context:
    """What handlers need: clients of the endpoint, and the stack's region and account."""

    client: ClientFactory
    region: str
    account_id: str


AUTO_NAME_RANDOM = 7


def physical_name(logical_name: str, max_length: int = 63) -> str:
    """Pulumi's auto-naming: the logical name plus a dash and 7 random hex characters; refused, as
    Pulumi refuses it, when that is longer than the resource's name may be (it was cut short here,
    so a name that fails on AWS deployed locally)."""
    if len(logical_name) + 1 + AUTO_NAME_RANDOM > max_length:
        raise NameTooLong(
            f"{logical_name!r} plus a dash and {AUTO_NAME_RANDOM} random characters is longer than {max_length}, the "
            "longest name this resource may have (Pulumi refuses it too): give it a shorter name"
        )
    return f"{logical_name}-{secrets.token_hex(4)[:AUTO_NAME_RANDOM]}"


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


def tag_list(tags: dict[str, str] | None) -> list[TagTypeDef]:
    """``[{"Key": k, "Value": v}]``: S3's, SNS's and IAM's tag shapes are the same."""
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


def is_missing(error: ClientError) -> bool:
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
                "deploy with the Pulumi CLI, or add them to a module under localaws/deploy/handlers/"
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

    def holds_data(self, ctx: Context, resource_id: str, outputs: Outputs) -> str | None:
        """What the resource holds that its delete would refuse to drop (without forceDestroy), as a
        phrase; None when it can go. Checked for every resource before a destroy deletes any."""
        return None

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        raise NotImplementedError


def exists(call: Callable[[], Any]) -> bool:
    try:
        call()
        return True
    except ClientError as error:
        if is_missing(error):
            return False
        raise


def ignore_missing(call: Callable[[], Any]) -> None:
    try:
        call()
    except ClientError as error:
        if not is_missing(error):
            raise


# -- S3 -----------------------------------------------------------------------------------------
