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
# SendMessage: on a shared queue, another job's completion is handed over as a fresh copy so that
# passing it round does not use up its receives (launcher/jobs/notifications.py, docs/launcher.md).
LAUNCHER_QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:SendMessage",
]
# Uploading to (and Rekognition reading from) an SSE-KMS bucket uses the caller's KMS rights;
# receiving from an SSE-KMS queue needs Decrypt, handing a completion over needs GenerateDataKey.
LAUNCHER_BUCKET_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]
LAUNCHER_QUEUE_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]
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


# -- Auto-processing (autoProcess: true) ------------------------------------------------------------

LAMBDA_SERVICE = "lambda.amazonaws.com"
S3_SERVICE = "s3.amazonaws.com"
# What an event source mapping needs on its queue (with the execution role's rights), plus
# ChangeMessageVisibility, with which a function delays a record it puts back.
FUNCTION_QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
]
FUNCTION_LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
# Results are uploaded in parts above 8 MiB (boto3's upload_file).
RESULT_WRITE_ACTIONS = ["s3:PutObject", "s3:AbortMultipartUpload"]
VIDEO_READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]


def lambda_trust_policy() -> PolicyDocument:
    """Only the Lambda service may assume a function's execution role."""
    return _document(
        {
            "Sid": "LambdaAssumesRole",
            "Effect": "Allow",
            "Principal": {"Service": LAMBDA_SERVICE},
            "Action": "sts:AssumeRole",
        }
    )


def intake_queue_policy(queue_arn: str, bucket_arn: str, account_id: str) -> PolicyDocument:
    """S3 may deliver here only for this bucket, owned by this account; TLS only for everyone else."""
    return _document(
        {
            "Sid": "BucketDelivers",
            "Effect": "Allow",
            "Principal": {"Service": S3_SERVICE},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {
                "ArnEquals": {"aws:SourceArn": bucket_arn},
                "StringEquals": {"aws:SourceAccount": account_id},
            },
        },
        deny_insecure_transport("sqs:*", [queue_arn]),
    )


def _function_statements(
    queue_arn: str,
    log_group_arn: str,
    bucket_kms_key_arn: Optional[str],
    queue_kms_key_arn: Optional[str],
    bucket_key_actions: list[str],
) -> list[PolicyDocument]:
    statements: list[PolicyDocument] = [
        {"Sid": "ConsumeItsQueue", "Effect": "Allow", "Action": FUNCTION_QUEUE_ACTIONS, "Resource": queue_arn},
        {"Sid": "WriteItsLogs", "Effect": "Allow", "Action": FUNCTION_LOG_ACTIONS, "Resource": f"{log_group_arn}:*"},
    ]
    if bucket_kms_key_arn:
        statements.append(
            {"Sid": "UseBucketKey", "Effect": "Allow", "Action": bucket_key_actions, "Resource": bucket_kms_key_arn}
        )
    if queue_kms_key_arn:
        statements.append(
            {"Sid": "UseQueueKey", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": queue_kms_key_arn}
        )
    return statements


def starter_policy(
    queue_arn: str,
    bucket_arn: str,
    incoming_prefix: str,
    results_prefix: str,
    role_arn: str,
    log_group_arn: str,
    bucket_kms_key_arn: Optional[str] = None,
    queue_kms_key_arn: Optional[str] = None,
) -> PolicyDocument:
    """The starter: its intake queue, read new videos, start jobs with the service role, write
    error results. Rekognition reads the video with the starter's own rights."""
    return _document(
        {
            "Sid": "StartFaceDetection",
            "Effect": "Allow",
            "Action": "rekognition:StartFaceDetection",
            "Resource": "*",  # Rekognition video operations have no resource-level permissions
        },
        {
            "Sid": "PassServiceRoleToRekognition",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": REKOGNITION_SERVICE}},
        },
        {
            "Sid": "ReadIncomingVideos",
            "Effect": "Allow",
            "Action": VIDEO_READ_ACTIONS,
            "Resource": f"{bucket_arn}/{incoming_prefix}*",
        },
        {
            "Sid": "WriteErrorResults",
            "Effect": "Allow",
            "Action": RESULT_WRITE_ACTIONS,
            "Resource": f"{bucket_arn}/{results_prefix}*",
        },
        *_function_statements(
            queue_arn, log_group_arn, bucket_kms_key_arn, queue_kms_key_arn, ["kms:Decrypt", "kms:GenerateDataKey"]
        ),
    )


def collector_policy(
    queue_arn: str,
    bucket_arn: str,
    results_prefix: str,
    log_group_arn: str,
    bucket_kms_key_arn: Optional[str] = None,
    queue_kms_key_arn: Optional[str] = None,
) -> PolicyDocument:
    """The collector: the completion queue, read job results, write result objects."""
    return _document(
        {
            "Sid": "GetFaceDetection",
            "Effect": "Allow",
            "Action": "rekognition:GetFaceDetection",
            "Resource": "*",  # Rekognition video operations have no resource-level permissions
        },
        {
            "Sid": "WriteResults",
            "Effect": "Allow",
            "Action": RESULT_WRITE_ACTIONS,
            "Resource": f"{bucket_arn}/{results_prefix}*",
        },
        *_function_statements(
            queue_arn, log_group_arn, bucket_kms_key_arn, queue_kms_key_arn, ["kms:GenerateDataKey", "kms:Decrypt"]
        ),
    )
