"""Where moto's behaviour differs from AWS in a way that breaks this stack locally, and the fix.

moto checks a bucket policy on object requests but ignores its Condition blocks, so the stack's
"deny unless aws:SecureTransport" statement denies every upload and download. Here bucket policies are
evaluated with conditions, by the same evaluator the Rekognition emulator uses. The endpoint speaks
plain HTTP on loopback, standing in for AWS's TLS endpoints, so its requests count as made over TLS
(``aws:SecureTransport`` is "true"); a statement that denies without such a condition still denies. A
bucket policy with a condition the evaluator cannot evaluate refuses the request and logs which.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket

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


def apply() -> None:
    """Idempotent; called by every LocalEndpoint."""
    FakeBucket.get_permission = _bucket_permission  # type: ignore[method-assign,assignment]  # the patch itself
