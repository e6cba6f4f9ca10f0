"""Checks that Rekognition could report a job's end on the given notification channel.

The real service assumes the role and publishes as it. Here the checks are made at
StartFaceDetection time against the local IAM and SNS, so a broken trust policy, a missing
``sns:Publish`` or a topic policy that refuses the role fails the start call at once, naming the
cause. This makes the emulator a check of our own infrastructure, which moto alone is not.

Error choice: a topic that does not exist is ``InvalidParameterException`` (the request names a
resource that is not there); a role that is missing, that Rekognition may not assume, or that may
not publish to the topic is ``AccessDeniedException`` (the service is refused the access it needs).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from .. import iam_policy
from ..clients import ClientFactory
from ..iam_policy import Decision, Request
from .exceptions import AccessDeniedException, InvalidParameterException

REKOGNITION_PRINCIPAL = ("Service", "rekognition.amazonaws.com")


def _document(raw: Any) -> dict[str, Any]:
    """IAM returns documents as dicts through boto3, or URL-encoded JSON strings."""
    if isinstance(raw, dict):
        return raw
    return json.loads(unquote(raw))


def check_notification_channel(
    client: ClientFactory, topic_arn: str, role_arn: str, account_id: str, region: str
) -> None:
    """Raise the service's error if Rekognition could not publish to ``topic_arn`` as ``role_arn``.

    The topic, the role and the role's policies are read at once (each is a round trip to moto),
    then judged in this order: the topic, the role, its trust policy, its permission to publish."""
    topic_region = topic_arn.split(":")[3]
    iam = client("iam")
    role_name = role_arn.rsplit("/", 1)[-1]
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="channel-check") as reads:
        topic_read = reads.submit(
            lambda: client("sns", region_name=topic_region).get_topic_attributes(TopicArn=topic_arn)
        )
        role_read = reads.submit(iam.get_role, RoleName=role_name)
        inline_read = reads.submit(_inline_policies, iam, role_name)
        attached_read = reads.submit(_attached_policies, iam, role_name)
    try:
        topic = topic_read.result()["Attributes"]
    except ClientError:
        raise InvalidParameterException(f"The SNS topic {topic_arn} does not exist.") from None

    try:
        role = role_read.result()["Role"]
    except ClientError:
        raise AccessDeniedException(f"Unable to assume role {role_arn}: the role does not exist.") from None
    if role["Arn"] != role_arn:
        raise AccessDeniedException(f"Unable to assume role {role_arn}: the role does not exist.")

    assume = Request(
        action="sts:AssumeRole",
        principal=REKOGNITION_PRINCIPAL,
        context={
            "aws:SourceAccount": account_id,
            "aws:SourceArn": f"arn:aws:rekognition:{region}:{account_id}:*",
        },
    )
    if iam_policy.evaluate([_document(role["AssumeRolePolicyDocument"])], assume) is not Decision.ALLOW:
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
    policies = inline_read.result() + attached_read.result()
    if iam_policy.evaluate(policies, publish) is not Decision.ALLOW:
        raise AccessDeniedException(f"Role {role_arn} is not allowed sns:Publish on {topic_arn}.")
    if "Policy" in topic and iam_policy.evaluate([_document(topic["Policy"])], publish) is Decision.EXPLICIT_DENY:
        raise AccessDeniedException(f"The policy of topic {topic_arn} denies sns:Publish to role {role_arn}.")


def _inline_policies(iam: Any, role_name: str) -> list[dict[str, Any]]:
    pages = iam.get_paginator("list_role_policies").paginate(RoleName=role_name)
    return [
        _document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
        for page in pages
        for name in page["PolicyNames"]
    ]


def _attached_policies(iam: Any, role_name: str) -> list[dict[str, Any]]:
    documents = []
    pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name)
    for attached in (policy for page in pages for policy in page["AttachedPolicies"]):
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
        documents.append(_document(version["PolicyVersion"]["Document"]))
    return documents
