"""IAM and resource policy documents for the face-detection stack.

Every function here is pure: plain strings in, a plain ``dict`` out. The component serialises the
result with ``pulumi.Output.json_dumps``; tests (and the local emulator) read the dicts directly, so
the rules can be checked without Pulumi or AWS.
"""

from __future__ import annotations

from typing import Any, Optional

PolicyDocument = dict[str, Any]

POLICY_VERSION = "2012-10-17"
REKOGNITION_SERVICE = "rekognition.amazonaws.com"
SNS_SERVICE = "sns.amazonaws.com"

# The launcher's actions, by resource. Listed one by one: no action wildcards.
LAUNCHER_REKOGNITION_ACTIONS = ["rekognition:StartFaceDetection", "rekognition:GetFaceDetection"]
LAUNCHER_OBJECT_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"]
LAUNCHER_QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
]
# Uploading to (and Rekognition reading from) an SSE-KMS bucket uses the caller's KMS rights;
# receiving from an SSE-KMS queue needs Decrypt.
LAUNCHER_BUCKET_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]
LAUNCHER_QUEUE_KEY_ACTIONS = ["kms:Decrypt"]
# What the service role needs on a customer-managed topic key to publish encrypted messages.
PUBLISHER_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]


def _document(*statements: PolicyDocument) -> PolicyDocument:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def deny_insecure_transport(action: str, resources: list[str]) -> PolicyDocument:
    """A statement refusing every request not made over TLS, whoever makes it."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resources if len(resources) > 1 else resources[0],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def bucket_policy(bucket_arn: str) -> PolicyDocument:
    """TLS only, on the bucket and on every object in it."""
    return _document(deny_insecure_transport("s3:*", [bucket_arn, f"{bucket_arn}/*"]))


def rekognition_trust_policy(account_id: str) -> PolicyDocument:
    """Only Rekognition, acting for this account (the confused-deputy guard), may assume the role."""
    return _document(
        {
            "Sid": "RekognitionAssumesRole",
            "Effect": "Allow",
            "Principal": {"Service": REKOGNITION_SERVICE},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def service_role_policy(topic_arn: str, topic_kms_key_arn: Optional[str] = None) -> PolicyDocument:
    """Publish to this one topic; use the topic's key only when it is customer-managed."""
    statements: list[PolicyDocument] = [
        {"Sid": "PublishCompletion", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn}
    ]
    if topic_kms_key_arn:
        statements.append(
            {
                "Sid": "EncryptForTopic",
                "Effect": "Allow",
                "Action": PUBLISHER_KEY_ACTIONS,
                "Resource": topic_kms_key_arn,
            }
        )
    return _document(*statements)


def topic_policy(topic_arn: str, role_arn: str) -> PolicyDocument:
    """Only the service role may publish, and only over TLS."""
    return _document(
        {
            "Sid": "ServiceRolePublishes",
            "Effect": "Allow",
            "Principal": {"AWS": role_arn},
            "Action": "sns:Publish",
            "Resource": topic_arn,
        },
        deny_insecure_transport("sns:*", [topic_arn]),
    )


def queue_policy(queue_arn: str, topic_arn: str) -> PolicyDocument:
    """SNS may deliver here only on behalf of our topic; TLS only for everyone else."""
    return _document(
        {
            "Sid": "TopicDelivers",
            "Effect": "Allow",
            "Principal": {"Service": SNS_SERVICE},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
        },
        deny_insecure_transport("sqs:*", [queue_arn]),
    )


def dead_letter_queue_policy(queue_arn: str) -> PolicyDocument:
    """SQS itself moves messages in; people only ever read it over TLS."""
    return _document(deny_insecure_transport("sqs:*", [queue_arn]))


def launcher_policy(
    bucket_arn: str,
    role_arn: str,
    queue_arn: str,
    bucket_kms_key_arn: Optional[str] = None,
    queue_kms_key_arn: Optional[str] = None,
) -> PolicyDocument:
    """What the person or CI job running the launcher needs, and nothing more."""
    statements: list[PolicyDocument] = [
        # Rekognition video operations have no resource-level permissions.
        {
            "Sid": "RunFaceDetection",
            "Effect": "Allow",
            "Action": LAUNCHER_REKOGNITION_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "PassServiceRoleToRekognition",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": REKOGNITION_SERVICE}},
        },
        {
            "Sid": "ReadWriteVideos",
            "Effect": "Allow",
            "Action": LAUNCHER_OBJECT_ACTIONS,
            "Resource": f"{bucket_arn}/*",
        },
        {"Sid": "ListVideos", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
        {
            "Sid": "ConsumeCompletions",
            "Effect": "Allow",
            "Action": LAUNCHER_QUEUE_ACTIONS,
            "Resource": queue_arn,
        },
    ]
    if bucket_kms_key_arn:
        statements.append(
            {
                "Sid": "UseBucketKey",
                "Effect": "Allow",
                "Action": LAUNCHER_BUCKET_KEY_ACTIONS,
                "Resource": bucket_kms_key_arn,
            }
        )
    if queue_kms_key_arn:
        statements.append(
            {
                "Sid": "UseQueueKey",
                "Effect": "Allow",
                "Action": LAUNCHER_QUEUE_KEY_ACTIONS,
                "Resource": queue_kms_key_arn,
            }
        )
    return _document(*statements)
