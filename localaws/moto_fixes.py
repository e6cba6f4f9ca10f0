"""Where moto's behaviour differs from AWS in a way that breaks this stack locally, and the fix.

moto checks a bucket policy on object requests but ignores its Condition blocks, so the stack's
"deny unless aws:SecureTransport" statement denies every upload and download. Here bucket policies are
evaluated with conditions, by the same evaluator the Rekognition emulator uses. The endpoint speaks
plain HTTP on loopback, standing in for AWS's TLS endpoints, so its requests count as made over TLS
(``aws:SecureTransport`` is "true"); a statement that denies without such a condition still denies. A
bucket policy with a condition the evaluator cannot evaluate refuses the request and logs which.

moto's SQS ``ReceiveMessage`` picks visible messages and marks them received without a lock, and its
server runs each request on a thread of its own: two consumers polling at once could both receive the
same message, a duplicate that SQS gives only rarely. Several launchers on one queue did that all the
time (a completion handed over by one consumer while its owner deleted it came back as a stray copy).
Here each queue's pick-and-mark runs under a lock; the long poll waits outside it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket
from moto.sqs.models import SQSBackend

from . import iam_policy
from .iam_policy import Decision, Request, UnsupportedCondition

log = logging.getLogger(__name__)

LOCAL_REQUEST_CONTEXT = {"aws:SecureTransport": "true"}

_PERMISSION = {
    Decision.ALLOW: PermissionResult.PERMITTED,
    Decision.EXPLICIT_DENY: PermissionResult.DENIED,
    Decision.IMPLICIT_DENY: PermissionResult.NEUTRAL,
}


def _bucket_permission(bucket: FakeBucket, action: str, resource: str) -> Any:
    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(bucket.policy)
    try:
        decision = iam_policy.evaluate([policy], Request(action, resource, context=LOCAL_REQUEST_CONTEXT))
    except UnsupportedCondition as error:  # refused, and the log says why
        log.warning("%s on %s refused: the policy of bucket %s uses %s", action, resource, bucket.name, error)
        return PermissionResult.DENIED
    return _PERMISSION[decision]


_RECEIVE_LOCK = threading.Lock()  # one for every queue: a pick without a wait takes well under a millisecond
_moto_receive_message = SQSBackend.receive_message


def _receive_message(
    self: SQSBackend,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Any]:
    """moto's receive without its own wait, under the lock, as often as the long poll allows; between
    picks it waits on the queue's condition (a new message wakes it), outside the lock."""
    deadline = time.monotonic() + wait_seconds_timeout
    while True:
        with _RECEIVE_LOCK:
            found = _moto_receive_message(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
        remaining = deadline - time.monotonic()
        if found or remaining <= 0:
            return found
        self.get_queue(queue_name).wait_for_messages(1)


def apply() -> None:
    """Idempotent; called by every LocalEndpoint."""
    FakeBucket.get_permission = _bucket_permission  # type: ignore[method-assign,assignment]  # the patch itself
    SQSBackend.receive_message = _receive_message  # type: ignore[method-assign]
