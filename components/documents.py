"""Policy documents as Pulumi inputs: resolve the Outputs they are built from, build the document with
a pure builder from ``policies``, serialise it (what mocks and tests then read exactly)."""

from collections.abc import Callable
from typing import Any

import pulumi

from . import policies


def policy_json(builder: Callable[..., policies.PolicyDocument], **inputs: Any) -> pulumi.Output[str]:
    """Resolve the inputs, build the document with a pure builder, serialise it."""
    return pulumi.Output.json_dumps(pulumi.Output.all(**inputs).apply(lambda values: builder(**values)))
