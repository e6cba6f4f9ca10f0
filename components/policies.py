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
# GetFaceDetection (like StartFaceDetection) has no resource-level permissions: it can only be granted
# on "*", so any holder may read any job's results in the account and region (docs/security.md).
LAUNCHER_REKOGNITION_ACTIONS = ["rekognition:StartFaceDetection", "rekognition:GetFaceDetection"]
# Uploads above 64 MiB go in parts (launcher's TransferConfig); boto3 aborts an upload whose part
# fails, so its parts are not billed until the lifecycle rule removes them.
LAUNCHER_UPLOAD_ACTIONS = ["s3:PutObject", "s3:AbortMultipartUpload"]
# Rekognition reads the video with the caller's permissions (and a pinned version's).
LAUNCHER_READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
# What the launcher calls on the completion queue (launcher/jobs/notifications.py), and no more: no
# GetQueueAttributes. SendMessage: on a shared queue, another job's completion is handed over as a
# fresh copy so that passing it round does not use up its receives (docs/launcher.md). The launcher
# settles a receive with SendMessageBatch, DeleteMessageBatch and ChangeMessageVisibilityBatch, which
# IAM grants through these single actions (the batch actions cannot be named in a policy).
LAUNCHER_QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
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


def rekognition_trust_policy(account_id: str, region: str, partition: str = "aws") -> PolicyDocument:
    """Only Rekognition, acting for this account's jobs in this region (AWS's confused-deputy guidance:
    both aws:SourceAccount and aws:SourceArn), may assume the role."""
    return _document(
        {
            "Sid": "RekognitionAssumesRole",
            "Effect": "Allow",
            "Principal": {"Service": REKOGNITION_SERVICE},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": f"arn:{partition}:rekognition:{region}:{account_id}:*"},
            },
        }
    )


def via_service(service: str, region: str) -> PolicyDocument:
    """A KMS grant's condition: the key may be used only by ``service`` on the caller's behalf, not
    directly (kms:Decrypt on an exported ciphertext, kms:GenerateDataKey for anything else)."""
    return {"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}}


def _key_grant(sid: str, actions: list[str], key_arn: str, service: str, region: str) -> PolicyDocument:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": key_arn,
        "Condition": via_service(service, region),
    }


def service_role_policy(topic_arn: str, region: str, topic_kms_key_arn: Optional[str] = None) -> PolicyDocument:
    """Publish to this one topic; use the topic's key, through SNS only, when it is customer-managed."""
    statements: list[PolicyDocument] = [
        {"Sid": "PublishCompletion", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn}
    ]
    if topic_kms_key_arn:
        statements.append(_key_grant("EncryptForTopic", PUBLISHER_KEY_ACTIONS, topic_kms_key_arn, "sns", region))
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
    region: str,
    bucket_kms_key_arn: Optional[str] = None,
    queue_kms_key_arn: Optional[str] = None,
    auto_process: bool = False,
    incoming_prefix: str = "videos/",
    results_prefix: str = "results/",
) -> PolicyDocument:
    """What the person or CI job running the launcher needs, and nothing more.

    Without autoProcess: upload and read videos anywhere in the bucket but never write under
    ``results_prefix`` (results there are the collector's, on any stack sharing the bucket), and
    consume the completion queue. With autoProcess the collector owns the completion queue: the
    launcher uploads under ``incoming_prefix``, reads those videos (Rekognition reads them with its
    rights) and reads results under ``results_prefix``; no queue access at all."""
    videos = f"{bucket_arn}/{incoming_prefix}*" if auto_process else f"{bucket_arn}/*"
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
        {"Sid": "UploadVideos", "Effect": "Allow", "Action": LAUNCHER_UPLOAD_ACTIONS, "Resource": videos},
        {"Sid": "ReadVideos", "Effect": "Allow", "Action": LAUNCHER_READ_ACTIONS, "Resource": videos},
        # Also what makes HeadObject answer 404, not 403, for a key not there yet (an upload's check,
        # a result the collector has not written yet).
        {"Sid": "ListVideos", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
    ]
    if auto_process:
        statements.append(
            {
                "Sid": "ReadResults",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn}/{results_prefix}*",
            }
        )
    else:
        statements += [
            {
                "Sid": "NeverWriteResults",
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/{results_prefix}*",
            },
            {"Sid": "ConsumeCompletions", "Effect": "Allow", "Action": LAUNCHER_QUEUE_ACTIONS, "Resource": queue_arn},
        ]
    if bucket_kms_key_arn:
        statements.append(_key_grant("UseBucketKey", LAUNCHER_BUCKET_KEY_ACTIONS, bucket_kms_key_arn, "s3", region))
    if queue_kms_key_arn and not auto_process:
        statements.append(_key_grant("UseQueueKey", LAUNCHER_QUEUE_KEY_ACTIONS, queue_kms_key_arn, "sqs", region))
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
# What the redactor writes under resultsPrefix for a video key (launcher.functions.redactor's
# RedactionKeys; the components may not import the launcher): the copy, its audit, its error.
REDACTION_SUFFIXES = (".redacted.mp4", ".redaction.json", ".redacted.error.json")


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
    queue_arn: Optional[str],
    log_group_arn: str,
    region: str,
    bucket_kms_key_arn: Optional[str],
    queue_kms_key_arn: Optional[str],
    bucket_key_actions: list[str],
) -> list[PolicyDocument]:
    """Its queue (none for a function invoked directly), its logs, and the keys when set."""
    statements: list[PolicyDocument] = []
    if queue_arn is not None:
        statements.append(
            {"Sid": "ConsumeItsQueue", "Effect": "Allow", "Action": FUNCTION_QUEUE_ACTIONS, "Resource": queue_arn}
        )
    statements.append(
        {"Sid": "WriteItsLogs", "Effect": "Allow", "Action": FUNCTION_LOG_ACTIONS, "Resource": f"{log_group_arn}:*"}
    )
    if bucket_kms_key_arn:
        statements.append(_key_grant("UseBucketKey", bucket_key_actions, bucket_kms_key_arn, "s3", region))
    if queue_kms_key_arn and queue_arn is not None:
        statements.append(_key_grant("UseQueueKey", ["kms:Decrypt"], queue_kms_key_arn, "sqs", region))
    return statements


def starter_policy(
    queue_arn: str,
    bucket_arn: str,
    incoming_prefix: str,
    results_prefix: str,
    role_arn: str,
    log_group_arn: str,
    region: str,
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
            queue_arn,
            log_group_arn,
            region,
            bucket_kms_key_arn,
            queue_kms_key_arn,
            ["kms:Decrypt", "kms:GenerateDataKey"],
        ),
    )


def collector_policy(
    queue_arn: str,
    bucket_arn: str,
    results_prefix: str,
    log_group_arn: str,
    region: str,
    bucket_kms_key_arn: Optional[str] = None,
    queue_kms_key_arn: Optional[str] = None,
    redactor_function_arn: Optional[str] = None,
) -> PolicyDocument:
    """The collector: the completion queue, read job results, write result objects; with redact,
    invoke the redactor function (that one function only)."""
    invoke: list[PolicyDocument] = []
    if redactor_function_arn is not None:
        invoke.append(
            {
                "Sid": "InvokeRedactor",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": redactor_function_arn,
            }
        )
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
        *invoke,
        *_function_statements(
            queue_arn,
            log_group_arn,
            region,
            bucket_kms_key_arn,
            queue_kms_key_arn,
            ["kms:GenerateDataKey", "kms:Decrypt"],
        ),
    )


def redactor_policy(
    bucket_arn: str,
    incoming_prefix: str,
    results_prefix: str,
    log_group_arn: str,
    region: str,
    bucket_kms_key_arn: Optional[str] = None,
) -> PolicyDocument:
    """The redactor (redact: true): read the video under incomingPrefix and its results under
    resultsPrefix, write the redacted copy and its audit there, and delete only its own three kinds
    of object (a copy of an earlier version after this one failed, an earlier failure after a copy).
    No queue (the collector invokes it), no Rekognition, no other function."""
    return _document(
        {
            "Sid": "ReadIncomingVideos",
            "Effect": "Allow",
            "Action": VIDEO_READ_ACTIONS,
            "Resource": f"{bucket_arn}/{incoming_prefix}*",
        },
        {
            "Sid": "ReadResults",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{results_prefix}*",
        },
        {
            "Sid": "WriteRedactions",
            "Effect": "Allow",
            "Action": RESULT_WRITE_ACTIONS,
            "Resource": f"{bucket_arn}/{results_prefix}*",
        },
        {
            "Sid": "RemoveEarlierRedactions",
            "Effect": "Allow",
            "Action": "s3:DeleteObject",
            "Resource": [f"{bucket_arn}/{results_prefix}*{suffix}" for suffix in REDACTION_SUFFIXES],
        },
        *_function_statements(
            None, log_group_arn, region, bucket_kms_key_arn, None, ["kms:Decrypt", "kms:GenerateDataKey"]
        ),
    )


# -- Alarms (alarms: true, the default) -------------------------------------------------------------

CLOUDWATCH_SERVICE = "cloudwatch.amazonaws.com"
# What CloudWatch needs on the key of an encrypted topic it publishes alarms to. AWS-managed
# alias/aws/sns cannot be granted to CloudWatch: alarms to a topic under it are never delivered.
ALARM_PUBLISHER_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]


def alarm_key_policy(account_id: str, region: str, partition: str = "aws") -> PolicyDocument:
    """The alarm topic's key: the account administers it (the default key policy, through IAM);
    CloudWatch may use it only for this account's alarms in this region."""
    return _document(
        {
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchEncryptsAlarms",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDWATCH_SERVICE},
            "Action": ALARM_PUBLISHER_KEY_ACTIONS,
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"},
            },
        },
    )


def alarm_topic_policy(topic_arn: str, account_id: str, region: str, partition: str = "aws") -> PolicyDocument:
    """Only this account's CloudWatch alarms in this region publish; TLS only."""
    return _document(
        {
            "Sid": "CloudWatchPublishesAlarms",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDWATCH_SERVICE},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"},
            },
        },
        deny_insecure_transport("sns:*", [topic_arn]),
    )
