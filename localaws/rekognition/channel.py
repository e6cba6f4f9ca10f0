"""Checks that Rekognition could report a job's end on the given notification channel.

The real service assumes the role and publishes as it. Here the checks are made at
StartFaceDetection time against the local IAM and SNS, so a broken trust policy, a missing
``sns:Publish`` or a topic policy that refuses the role fails the start call at once, naming the
cause. This makes the emulator a check of our own infrastructure, which moto alone is not.

The topic, the role and its policies are read from moto's state in this process, as moto's own
services read each other (its SNS delivers to its SQS that way): an HTTP round trip for each of them
made every start about 30 ms slower, and a batch launcher's next start waits on that.

Error choice: a topic that does not exist is ``InvalidParameterException`` (the request names a
resource that is not there); a role that is missing, that Rekognition may not assume, or that may
not publish to the topic is ``AccessDeniedException`` (the service is refused the access it needs).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from moto.iam.exceptions import NotFoundException as IAMNotFound
from moto.iam.models import Role, iam_backends
from moto.sns.exceptions import SNSNotFoundError
from moto.sns.models import sns_backends

from .. import iam_policy
from ..iam_policy import Decision, Request
from .exceptions import AccessDeniedException, InvalidParameterException

REKOGNITION_PRINCIPAL = ("Service", "rekognition.amazonaws.com")
IAM_REGION = "global"  # moto keeps IAM, a global service, under this name


def _document(raw: Any) -> dict[str, Any]:
    """IAM keeps documents as given: JSON, or URL-encoded JSON."""
    if isinstance(raw, dict):
        return raw
    return json.loads(unquote(raw))


def check_notification_channel(topic_arn: str, role_arn: str, account_id: str, region: str) -> None:
    """Raise the service's error if Rekognition could not publish to ``topic_arn`` as ``role_arn``.

    Judged in this order: the topic, the role, its trust policy, its permission to publish."""
    topic_policy = _topic_policy(topic_arn)
    role = _role(role_arn)

    assume = Request(
        action="sts:AssumeRole",
        principal=REKOGNITION_PRINCIPAL,
        context={
            "aws:SourceAccount": account_id,
            "aws:SourceArn": f"arn:aws:rekognition:{region}:{account_id}:*",
        },
    )
    if iam_policy.evaluate([_document(role.assume_role_policy_document)], assume) is not Decision.ALLOW:
        raise AccessDeniedException(
            f"Unable to assume role {role_arn}: its trust policy does not let rekognition.amazonaws.com "
            f"assume it for account {account_id}."
        )

    publish = Request(
        action="sns:Publish",
        resource=topic_arn,
        principal=("AWS", role_arn),
        context={"aws:SecureTransport": "true", "aws:PrincipalArn": role_arn},
    )
    if iam_policy.evaluate(_role_policies(role), publish) is not Decision.ALLOW:
        raise AccessDeniedException(f"Role {role_arn} is not allowed sns:Publish on {topic_arn}.")
    if topic_policy and iam_policy.evaluate([_document(topic_policy)], publish) is Decision.EXPLICIT_DENY:
        raise AccessDeniedException(f"The policy of topic {topic_arn} denies sns:Publish to role {role_arn}.")


def _topic_policy(topic_arn: str) -> str:
    """The topic's access policy (moto gives every topic one, as SNS does)."""
    parts = topic_arn.split(":")
    try:
        return sns_backends[parts[4]][parts[3]].get_topic(topic_arn).policy
    except (IndexError, KeyError, SNSNotFoundError):
        raise InvalidParameterException(f"The SNS topic {topic_arn} does not exist.") from None


def _role(role_arn: str) -> Role:
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    try:
        role = iam_backends[account][IAM_REGION].get_role(role_arn.rsplit("/", 1)[-1])
    except (KeyError, IAMNotFound):
        raise AccessDeniedException(f"Unable to assume role {role_arn}: the role does not exist.") from None
    if role.arn != role_arn:
        raise AccessDeniedException(f"Unable to assume role {role_arn}: the role does not exist.")
    return role


def _role_policies(role: Role) -> list[dict[str, Any]]:
    """The role's inline policies and the default version of each attached managed policy."""
    inline = [_document(document) for document in role.policies.values()]
    attached = [
        _document(version.document)
        for policy in role.managed_policies.values()
        for version in policy.versions
        if version.version_id == policy.default_version_id
    ]
    return inline + attached
