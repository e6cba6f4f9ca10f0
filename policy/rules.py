"""The rules of the policy pack: what FaceDetectionPipeline guarantees, checked on any stack.

Each rule is a plain validate function over a resource's inputs (camelCase, as the engine sends them),
so the tests call them directly; `__main__.py` only assembles them into the pack (building a
PolicyPack starts its gRPC server).

During `pulumi preview`, a policy document that depends on resources not yet created is unknown;
pulumi-policy then reports the rule as not run, and it runs at `pulumi up`, before each resource is
created.
"""

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"

REKOGNITION_SERVICE = "rekognition.amazonaws.com"
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_CANNED_ACLS = {"public-read", "public-read-write", "authenticated-read"}
RESOURCE_POLICIES = {BUCKET_POLICY: "policy", TOPIC_POLICY: "policy", QUEUE_POLICY: "policy"}
# Actions with no resource-level permissions: the only ones allowed on Resource "*". Kept in step with
# components.policies.LAUNCHER_REKOGNITION_ACTIONS by a test (the pack installs without the component).
ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS = {"rekognition:StartFaceDetection", "rekognition:GetFaceDetection"}

Statement = Mapping[str, Any]


def _document(value: Any) -> Mapping[str, Any]:
    """A policy document input: a JSON string (what pulumi-aws takes) or an already parsed object."""
    return json.loads(value) if isinstance(value, str) else (value or {})


def _statements(value: Any) -> list[Statement]:
    statements = _document(value).get("Statement", [])
    return [statements] if isinstance(statements, Mapping) else list(statements)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _is_anonymous(principal: Any) -> bool:
    return principal == "*" or (isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS")))


def _denies_insecure_transport(statement: Statement) -> bool:
    condition = statement.get("Condition", {}).get("Bool", {})
    return (
        statement.get("Effect") == "Deny"
        and _is_anonymous(statement.get("Principal"))
        and str(condition.get("aws:SecureTransport")).lower() == "false"
    )


def video_bucket_not_public(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """All four public-access-block flags on; no public canned ACL; no bucket policy allowing anyone."""
    props = args.props
    if args.resource_type == PUBLIC_ACCESS_BLOCK:
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if props.get(flag) is not True]
        if off:
            report_violation(f"the bucket's public access block must turn on {', '.join(off)}", None)
    elif args.resource_type in (BUCKET, BUCKET_ACL) and props.get("acl") in PUBLIC_CANNED_ACLS:
        report_violation(f"canned ACL {props['acl']!r} makes the bucket public; leave ACLs off", None)
    elif args.resource_type == BUCKET_POLICY:
        for statement in _statements(props.get("policy")):
            if statement.get("Effect") == "Allow" and _is_anonymous(statement.get("Principal")):
                report_violation(f"bucket policy statement {statement.get('Sid', '')!r} allows anyone", None)


def tls_only_access(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Bucket, topic and queue policies deny every request not made over TLS."""
    key = RESOURCE_POLICIES.get(args.resource_type)
    if key and not any(_denies_insecure_transport(s) for s in _statements(args.props.get(key))):
        report_violation(
            'the policy must deny all requests made without TLS (Deny, Principal "*", '
            'Condition Bool aws:SecureTransport "false")',
            None,
        )


def encrypted_at_rest(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Default encryption on buckets, a KMS key on topics, SSE-KMS or SSE-SQS on queues."""
    props = args.props
    if args.resource_type == BUCKET_ENCRYPTION:
        rules = _as_list(props.get("rules"))
        algorithms = [(r.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") for r in rules]
        if not algorithms or not all(a in {"AES256", "aws:kms", "aws:kms:dsse"} for a in algorithms):
            report_violation("the bucket's default encryption must be AES256 or aws:kms", None)
    elif args.resource_type == TOPIC and not props.get("kmsMasterKeyId"):
        report_violation("the topic must be encrypted: set kmsMasterKeyId (e.g. alias/aws/sns)", None)
    elif args.resource_type == QUEUE and not (props.get("kmsMasterKeyId") or props.get("sqsManagedSseEnabled")):
        report_violation("the queue must be encrypted: set kmsMasterKeyId or sqsManagedSseEnabled", None)


def rekognition_role_trust(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A role Rekognition may assume trusts only rekognition.amazonaws.com, for one account."""
    if args.resource_type != ROLE:
        return
    allows = [s for s in _statements(args.props.get("assumeRolePolicy")) if s.get("Effect") == "Allow"]
    if not any(REKOGNITION_SERVICE in _as_list((s.get("Principal") or {}).get("Service")) for s in allows):
        return
    for statement in allows:
        principal = statement.get("Principal")
        if not isinstance(principal, Mapping) or set(principal) != {"Service"}:
            report_violation(f"the Rekognition role must trust only {REKOGNITION_SERVICE}, not {principal!r}", None)
        elif _as_list(principal["Service"]) != [REKOGNITION_SERVICE]:
            report_violation(f"the Rekognition role must trust only {REKOGNITION_SERVICE}", None)
        elif "aws:SourceAccount" not in statement.get("Condition", {}).get("StringEquals", {}):
            report_violation(
                "the Rekognition role's trust needs Condition StringEquals aws:SourceAccount (confused deputy)", None
            )


def _identity_policies(args: ResourceValidationArgs) -> Iterator[Any]:
    if args.resource_type in (ROLE_POLICY, MANAGED_POLICY):
        yield args.props.get("policy")
    elif args.resource_type == ROLE:
        for inline in _as_list(args.props.get("inlinePolicies")):
            yield inline.get("policy")


def no_wildcard_permissions(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Identity policies name their actions and resources; Resource "*" only for actions that have no
    resource-level permissions."""
    for document in _identity_policies(args):
        for statement in _statements(document):
            if statement.get("Effect") != "Allow":
                continue
            sid = statement.get("Sid", "")
            if "NotAction" in statement or "NotResource" in statement:
                report_violation(f"statement {sid!r} allows by exclusion (NotAction/NotResource)", None)
            actions = _as_list(statement.get("Action"))
            wildcards = [action for action in actions if "*" in action]
            if wildcards:
                report_violation(f"statement {sid!r} allows wildcard actions {wildcards}", None)
            if "*" in _as_list(statement.get("Resource")) and not set(actions) <= (
                ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS
            ):
                report_violation(f'statement {sid!r} allows {actions} on every resource (Resource "*")', None)


def completion_queue_has_dead_letter_queue(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every queue a topic delivers to redrives poison messages to a dead-letter queue."""
    for subscription in args.resources:
        if subscription.resource_type != SUBSCRIPTION or subscription.props.get("protocol") != "sqs":
            continue
        for queue in subscription.property_dependencies.get("endpoint", []):
            if queue.resource_type != QUEUE:
                continue
            redrive = _document(queue.props.get("redrivePolicy"))
            if not redrive.get("deadLetterTargetArn") or not redrive.get("maxReceiveCount"):
                report_violation(
                    f"queue {queue.name!r} receives from a topic but has no redrivePolicy with a dead-letter queue",
                    queue.urn,
                )


def _resource_rule(name: str, validate: Callable[[ResourceValidationArgs, ReportViolation], None]) -> Policy:
    return ResourceValidationPolicy(
        name=name,
        description=(validate.__doc__ or "").split("\n")[0],
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


POLICIES: list[Policy] = [
    _resource_rule("video-bucket-not-public", video_bucket_not_public),
    _resource_rule("tls-only-access", tls_only_access),
    _resource_rule("encrypted-at-rest", encrypted_at_rest),
    _resource_rule("rekognition-role-trust", rekognition_role_trust),
    _resource_rule("no-wildcard-permissions", no_wildcard_permissions),
    StackValidationPolicy(
        name="completion-queue-has-dead-letter-queue",
        description=(completion_queue_has_dead_letter_queue.__doc__ or "").split("\n")[0],
        validate=completion_queue_has_dead_letter_queue,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
]
