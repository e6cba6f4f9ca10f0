"""Create, update, check and delete each resource type the component declares, with boto3.

One handler per Pulumi type token, fed exactly the inputs the program declared (camelCase, as the
Pulumi engine sends them) and answering with the outputs the AWS provider would. An input a handler
does not know is refused by name rather than silently dropped.

One module per service; this one only maps each Pulumi type token to its handler.
"""

from __future__ import annotations

from ..errors import UnsupportedResource
from .awslambda import EventSourceMapping, Function, FunctionEventInvokeConfig
from .base import Context, Handler
from .cloudwatch import Dashboard, MetricAlarm
from .iam import Policy, Role, RolePolicy
from .kms import Key
from .logs import LogGroup
from .s3 import (
    Bucket,
    BucketLifecycleConfiguration,
    BucketNotification,
    BucketOwnershipControls,
    BucketPolicy,
    BucketPublicAccessBlock,
    BucketServerSideEncryptionConfiguration,
    BucketVersioning,
)
from .sns import Topic, TopicPolicy, TopicSubscription
from .sqs import Queue, QueuePolicy

__all__ = ["HANDLERS", "Context", "Handler", "handler_for"]

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
        FunctionEventInvokeConfig(),
        LogGroup(),
        Key(),
        MetricAlarm(),
        Dashboard(),
    )
}


def handler_for(type_token: str) -> Handler:
    try:
        return HANDLERS[type_token]
    except KeyError:
        raise UnsupportedResource(
            f"resource type {type_token} is not supported by the offline deployer; supported: "
            f"{', '.join(sorted(HANDLERS))}. Deploy with the Pulumi CLI, or add a handler in "
            "a module under localaws/deploy/handlers/"
        ) from None
