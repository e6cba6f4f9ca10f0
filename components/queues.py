"""A queue with its dead-letter queue, as the stack declares each of its queues: both encrypted and kept
14 days, the dead-letter queue closed to senders and TLS-only, long polls, redrive after
``max_receive_count`` receives. The queue's own policy (who may send) is the caller's."""

from collections.abc import Mapping
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from . import policies
from .documents import policy_json

# Rekognition keeps results 7 days; a completion message must be able to outlive them. 14 days is
# SQS's maximum.
QUEUE_RETENTION_SECONDS = 14 * 24 * 3600
# SQS's longest long poll: fewer empty receives, faster wake-up.
RECEIVE_WAIT_SECONDS = 20


def queue_with_dead_letter(
    name: str,
    dead_letter_name: str,
    *,
    max_receive_count: pulumi.Input[int],
    encryption: Mapping[str, Any],
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]],
    opts: pulumi.ResourceOptions,
    visibility_timeout_seconds: Optional[int] = None,
) -> tuple[aws.sqs.Queue, aws.sqs.Queue]:
    """Declare the dead-letter queue (with its policy), then the queue that redrives to it."""
    dead_letter = aws.sqs.Queue(
        dead_letter_name,
        message_retention_seconds=QUEUE_RETENTION_SECONDS,
        **encryption,
        tags=tags,
        opts=opts,
    )
    aws.sqs.QueuePolicy(
        dead_letter_name,
        queue_url=dead_letter.url,
        policy=policy_json(policies.dead_letter_queue_policy, queue_arn=dead_letter.arn),
        opts=opts,
    )
    queue = aws.sqs.Queue(
        name,
        message_retention_seconds=QUEUE_RETENTION_SECONDS,
        receive_wait_time_seconds=RECEIVE_WAIT_SECONDS,
        visibility_timeout_seconds=visibility_timeout_seconds,
        redrive_policy=pulumi.Output.json_dumps(
            {"deadLetterTargetArn": dead_letter.arn, "maxReceiveCount": max_receive_count}
        ),
        **encryption,
        tags=tags,
        opts=opts,
    )
    return queue, dead_letter
