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
A policy with a condition the evaluator cannot evaluate (``iam_policy.UnsupportedCondition``) is also
``AccessDeniedException``, naming the policy and the condition: refused, never waved through.

The request context is what AWS puts in it for these two calls: for the AssumeRole by the service
principal, ``aws:SourceAccount``, ``aws:SourceArn``, ``aws:PrincipalServiceName`` and the request's
time and transport; for the Publish by the role's session, the role as principal (``aws:PrincipalArn``,
``aws:PrincipalAccount``, ``aws:PrincipalType``), the region, time and transport. Keys AWS would not
set for a service's call (``aws:SourceIp``, ``aws:MultiFactorAuthPresent``) are absent, so a ``Null``
or ``...IfExists`` condition on them is judged as AWS judges it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from moto.iam.exceptions import NotFoundException as IAMNotFound
from moto.iam.models import Role, iam_backends
from moto.sns.exceptions import SNSNotFoundError
from moto.sns.models import sns_backends

from .. import iam_policy
from ..iam_policy import Decision, Request, UnsupportedCondition
from .exceptions import AccessDeniedException, InvalidParameterException

REKOGNITION_PRINCIPAL = ("Service", "rekognition.amazonaws.com")
IAM_REGION = "global"  # moto keeps IAM, a global service, under this name


def _document(raw: Any) -> dict[str, Any]:
    """IAM keeps documents as given: JSON, or URL-encoded JSON."""
    if isinstance(raw, dict):
        return raw
    return json.loads(unquote(raw))


def _time_keys() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:SecureTransport": "true",
    }


def _evaluate(what: str, documents: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    try:
        return iam_policy.evaluate(documents, request)
    except UnsupportedCondition as error:
        raise AccessDeniedException(
            f"{what} uses {error}, which the local endpoint cannot evaluate; access is refused"
        ) from None


def check_notification_channel(topic_arn: str, role_arn: str, account_id: str, region: str) -> None:
    """Raise the service's error if Rekognition could not publish to ``topic_arn`` as ``role_arn``.

    Judged in this order: the topic, the role, its trust policy, its permission to publish (within its
    permissions boundary, if it has one), the topic policy."""
    topic_policy = _topic_policy(topic_arn)
    role = _role(role_arn)

    assume = Request(
        action="sts:AssumeRole",
        principal=REKOGNITION_PRINCIPAL,
        context={
            **_time_keys(),
            "aws:SourceAccount": account_id,
            "aws:SourceArn": f"arn:aws:rekognition:{region}:{account_id}:*",
            "aws:PrincipalServiceName": REKOGNITION_PRINCIPAL[1],
            "aws:PrincipalIsAWSService": "true",
        },
    )
    trust = _evaluate(f"The trust policy of role {role_arn}", [_document(role.assume_role_policy_document)], assume)
    if trust is not Decision.ALLOW:
        raise AccessDeniedException(
            f"Unable to assume role {role_arn}: its trust policy does not let rekognition.amazonaws.com "
            f"assume it for account {account_id}."
        )

    publish = Request(
        action="sns:Publish",
        resource=topic_arn,
        principal=("AWS", role_arn),
        context={
            **_time_keys(),
            "aws:PrincipalArn": role_arn,
            "aws:PrincipalAccount": account_id,
            "aws:PrincipalType": "AssumedRole",
            "aws:PrincipalIsAWSService": "false",
            "aws:ViaAWSService": "false",
            "aws:RequestedRegion": topic_arn.split(":")[3],
            "aws:TokenIssueTime": _time_keys()["aws:CurrentTime"],
        },
    )
    allowed = _evaluate(f"A policy of role {role_arn}", _role_policies(role), publish)
    boundary = _boundary(role)
    if boundary is not None:
        allowed = iam_policy.within_boundary(
            allowed, _evaluate(f"The permissions boundary of role {role_arn}", [boundary], publish)
        )
        if allowed is not Decision.ALLOW:
            raise AccessDeniedException(
                f"Role {role_arn} is not allowed sns:Publish on {topic_arn} within its permissions boundary "
                f"{role.permissions_boundary_arn}."
            )
    if allowed is not Decision.ALLOW:
        raise AccessDeniedException(f"Role {role_arn} is not allowed sns:Publish on {topic_arn}.")
    if topic_policy:
        topic = _evaluate(f"The policy of topic {topic_arn}", [_document(topic_policy)], publish)
        if topic is Decision.EXPLICIT_DENY:
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


def _boundary(role: Role) -> dict[str, Any] | None:
    """The default version of the role's permissions boundary policy; a boundary that names no policy
    this endpoint holds allows nothing."""
    arn = role.permissions_boundary_arn
    if not arn:
        return None
    account = role.account_id
    policy = iam_backends[account][IAM_REGION].managed_policies.get(arn)
    if policy is None:
        return {"Statement": []}
    return next(
        (_document(v.document) for v in policy.versions if v.version_id == policy.default_version_id),
        {"Statement": []},
    )


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
