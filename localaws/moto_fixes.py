"""Where moto's behaviour differs from AWS in a way that breaks this stack locally, and the fix.

moto checks a bucket policy on object requests but ignores its Condition blocks, so the stack's
"deny unless aws:SecureTransport" statement denies every upload and download. Here bucket policies are
evaluated with conditions, by the same evaluator the Rekognition emulator uses. The endpoint speaks
plain HTTP on loopback, standing in for AWS's TLS endpoints, so its requests count as made over TLS
(``aws:SecureTransport`` is "true"); a statement that denies without such a condition still denies. A
bucket policy with a condition the evaluator cannot evaluate refuses the request and logs which.

moto's SQS queue is a list changed by several request threads (its server runs each request on a
thread of its own) without one lock. ``ReceiveMessage`` picks visible messages and marks them received
unlocked: two consumers polling at once could both receive the same message, a duplicate that SQS
gives only rarely (several launchers on one queue did that all the time). ``DeleteMessage`` builds a
new list and puts it in place unlocked: a message sent in the instant between (a completion another
consumer hands over) would be lost, which SQS never does (a window too narrow to show in a test).
Here receive's pick-and-mark, delete and visibility changes run under the queue's own lock (the one
moto's sends already take); the long poll waits outside it.

A message made visible again (``ChangeMessageVisibility`` to 0) did not wake moto's long polls, which
looked again only every second; on SQS a long poll returns it at once. Here such a change wakes them,
and the message is visible from that instant (moto's "visible" is strictly after its millisecond).

moto counts a queue's messages (visible, in flight, delayed) reading the clock twice for every
message, through a datetime round trip, and it does so for every message sent (it computes all the
queue's attributes to read one) and every message received (the retention check, the same way): with
60 messages waiting, a receive and its handover (3 calls) cost 77 ms of CPU, 20 ms with this fix.
Here the counts read the clock once, and the retention check reads the one attribute it needs.

Deleting an object version in a bucket whose versioning is suspended (as ``pulumi destroy`` empties a
``forceDestroy`` bucket after removing its versioning) failed with an internal error when the key had
a delete marker: moto removes every version of the key there, and its delete markers have no
``dispose``. Here they do (nothing to free). moto still removes all the key's versions where AWS
removes the one named; emptying a bucket, the one use here, comes to the same.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from moto.core.utils import unix_time, unix_time_millis
from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket, FakeDeleteMarker
from moto.sqs.models import Queue, SQSBackend

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


_moto_receive_message = SQSBackend.receive_message
_moto_delete_message = Queue.delete_message
_moto_change_message_visibility = SQSBackend.change_message_visibility


def _receive_message(
    self: SQSBackend,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Any]:
    """moto's receive without its own wait, under the queue's lock, as often as the long poll allows;
    between picks it waits on the queue's condition (a new or released message wakes it), unlocked."""
    deadline = time.monotonic() + wait_seconds_timeout
    queue = self.get_queue(queue_name)
    while True:
        with queue._messages_lock:  # a pick without a wait takes well under a millisecond
            found = _moto_receive_message(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
        remaining = deadline - time.monotonic()
        if found or remaining <= 0:
            return found
        queue.wait_for_messages(min(1, remaining))  # type: ignore[arg-type]  # moto's wait_for takes a float


def _delete_message(self: Queue, receipt_handle: str) -> None:
    with self._messages_lock:
        _moto_delete_message(self, receipt_handle)


def _change_message_visibility(self: SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
    queue = self.get_queue(queue_name)
    with queue._messages_lock:
        _moto_change_message_visibility(self, queue_name, receipt_handle, visibility_timeout)
        if int(visibility_timeout) == 0:
            for message in queue._messages:
                if message.had_receipt_handle(receipt_handle):
                    message.visible_at = unix_time_millis() - 1
            queue._messages_lock.notify_all()


def _within_retention(self: SQSBackend, queue_name: str, message: Any) -> bool:
    queue: Any = self.get_queue(queue_name)  # moto sets its attributes by name
    retention_seconds = int(queue.message_retention_period)
    return bool(message.sent_timestamp / 1000 + retention_seconds > unix_time())


def _visible(self: Queue) -> list[Any]:
    """moto's ``Queue.messages`` (visible and not delayed), with one reading of the clock."""
    now = unix_time_millis()
    return [message for message in self._messages if message.visible_at < now and not now < message.delayed_until]


def _not_visible(self: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for message in self._messages if not message.visible_at < now)


def _delayed(self: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for message in self._messages if now < message.delayed_until)


def apply() -> None:
    """Idempotent; called by every LocalEndpoint."""
    FakeBucket.get_permission = _bucket_permission  # type: ignore[method-assign,assignment]  # the patch itself
    SQSBackend.receive_message = _receive_message  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = _change_message_visibility  # type: ignore[method-assign]
    Queue.delete_message = _delete_message  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = _within_retention  # type: ignore[method-assign]
    Queue.messages = property(_visible)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_not_visible = property(_not_visible)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_delayed = property(_delayed)  # type: ignore[assignment,method-assign]
    FakeDeleteMarker.dispose = _nothing_to_dispose  # type: ignore[attr-defined]


def _nothing_to_dispose(self: FakeDeleteMarker, garbage: bool = False) -> None:
    """A delete marker holds no buffer (moto's FakeKey.dispose frees the object's)."""
