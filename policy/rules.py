"""The rules of the policy pack: what FaceDetectionPipeline guarantees, checked on any stack.

Each rule is a plain validate function over a resource's inputs (camelCase, as the engine sends them),
so the tests call them directly; `__main__.py` only assembles them into the pack (building a
PolicyPack starts its gRPC server). tests/integration/test_policy_analyzer.py runs the pack as the
engine does: pulumi-policy's analyzer server, fed this program's resources over gRPC.

In the analyzer, properties arrive as pulumi-policy's proxies (a Mapping and a Sequence, not a dict
and a list), so every value is read through the normalisers below. During `pulumi preview`, a value
that depends on resources not yet created (a policy document naming their ARNs) is unknown; reading
it raises pulumi-policy's UnknownValueError, which its server reports as an advisory "can't run
policy ... during preview" for that resource; the rule runs at `pulumi up`, before each resource is
created. Stack rules follow the engine's property dependencies, known even in preview.
"""

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
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
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

REKOGNITION_SERVICE = "rekognition.amazonaws.com"
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_CANNED_ACLS = {"public-read", "public-read-write", "authenticated-read"}
RESOURCE_POLICIES = {BUCKET_POLICY: "policy", TOPIC_POLICY: "policy", QUEUE_POLICY: "policy"}
# Actions with no resource-level permissions: the only ones allowed on Resource "*". The Rekognition ones
# are kept in step with components.policies.LAUNCHER_REKOGNITION_ACTIONS by a test (the pack installs
# without the component); kms:ListAliases names no key nor alias in IAM (AWS KMS guide, "Controlling
# access to aliases": its Resource must be "*"), so "*" is its only grant, which kms-grants-name-key-arns
# advises.
KMS_LIST_ALIASES = "kms:ListAliases"
REKOGNITION_ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS = {
    "rekognition:StartFaceDetection",
    "rekognition:GetFaceDetection",
}
ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS = REKOGNITION_ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS | {KMS_LIST_ALIASES}
# Condition operators that pin aws:SourceArn in a trust policy.
SOURCE_ARN_OPERATORS = ("ArnLike", "ArnEquals", "StringLike", "StringEquals")
# The KMS actions that manage an alias itself: an alias ARN is their legitimate Resource (AWS KMS
# guide, "Controlling access to aliases"; see kms_grants_name_key_arns).
KMS_ALIAS_ACTIONS = ("kms:createalias", "kms:updatealias", "kms:deletealias")
# An alias ARN, wildcards allowed in partition, region and account: arn:aws:kms:<region>:<account>:alias/<name>.
KMS_ALIAS_ARN = re.compile(r"^arn:[^:]*:kms:[^:]*:[^:]*:(alias/.*)$")
SQS_NAMESPACE = "AWS/SQS"
DEAD_LETTER_METRIC = "ApproximateNumberOfMessagesVisible"

Statement = Mapping[str, Any]
Validate = Callable[[Any, ReportViolation], None]


class MalformedDocument(ValueError):
    """A policy document input that is not a JSON object: the rule reports it instead of guessing."""


# Every property is read through these normalisers, never with dict/list checks: in Pulumi's analyzer
# a property map is pulumi-policy's _DictProxy (a Mapping) and a list its _ListProxy (a Sequence),
# which raise UnknownValueError when a value that is unknown during preview is read. That error is left
# to pulumi-policy, which reports "can't run policy ... during preview" instead of a verdict.


def _items(value: Any) -> list[Any]:
    """A value that may be one item or several, as a list: None is none; a string or a map is one."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return [value]


def _mapping(value: Any) -> Mapping[str, Any]:
    """A map, or an empty one for anything else (a missing or malformed element)."""
    return value if isinstance(value, Mapping) else {}


def _document(value: Any) -> Mapping[str, Any]:
    """A policy document input: a JSON string (what pulumi-aws takes) or an already parsed object."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise MalformedDocument(f"the policy document is not valid JSON: {value[:80]!r}") from None
    if not isinstance(value, Mapping):
        raise MalformedDocument(f"the policy document is not a JSON object: {value!r}")
    return value


def _statements(value: Any) -> list[Statement]:
    return [_mapping(s) for s in _items(_document(value).get("Statement"))]


def _reporting_malformed(validate: Validate) -> Validate:
    """Report a malformed policy document as a violation (the rule cannot vouch for it) instead of
    raising. Unknown values are not caught: pulumi-policy turns them into its preview notice."""

    @functools.wraps(validate)
    def checked(args: Any, report_violation: ReportViolation) -> None:
        try:
            validate(args, report_violation)
        except MalformedDocument as error:
            report_violation(str(error), None)

    return checked


def _is_anonymous(principal: Any) -> bool:
    return principal == "*" or "*" in _items(_mapping(principal).get("AWS"))


def _denies_insecure_transport(statement: Statement) -> bool:
    """A condition's value may be one value or a list of them (IAM ORs them): "false" and ["false"] alike."""
    condition = _mapping(_mapping(statement.get("Condition")).get("Bool"))
    return (
        statement.get("Effect") == "Deny"
        and _is_anonymous(statement.get("Principal"))
        and any(str(value).lower() == "false" for value in _items(condition.get("aws:SecureTransport")))
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
        rules = [_mapping(rule) for rule in _items(props.get("rules"))]
        algorithms = [_mapping(r.get("applyServerSideEncryptionByDefault")).get("sseAlgorithm") for r in rules]
        if not algorithms or not all(a in {"AES256", "aws:kms", "aws:kms:dsse"} for a in algorithms):
            report_violation("the bucket's default encryption must be AES256 or aws:kms", None)
    elif args.resource_type == TOPIC and not props.get("kmsMasterKeyId"):
        report_violation("the topic must be encrypted: set kmsMasterKeyId (e.g. alias/aws/sns)", None)
    elif args.resource_type == QUEUE and not (props.get("kmsMasterKeyId") or props.get("sqsManagedSseEnabled")):
        report_violation("the queue must be encrypted: set kmsMasterKeyId or sqsManagedSseEnabled", None)


def _conditions_on(statement: Statement, key: str, operators: tuple[str, ...]) -> bool:
    conditions = _mapping(statement.get("Condition"))
    return any(key in _mapping(conditions.get(operator)) for operator in operators)


def rekognition_role_trust(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A role Rekognition may assume trusts only rekognition.amazonaws.com, for one account and its jobs."""
    if args.resource_type != ROLE:
        return
    allows = [s for s in _statements(args.props.get("assumeRolePolicy")) if s.get("Effect") == "Allow"]
    if not any(REKOGNITION_SERVICE in _items(_mapping(s.get("Principal")).get("Service")) for s in allows):
        return
    for statement in allows:
        principal = statement.get("Principal")
        if not isinstance(principal, Mapping) or set(principal) != {"Service"}:
            report_violation(f"the Rekognition role must trust only {REKOGNITION_SERVICE}, not {principal!r}", None)
        elif _items(principal["Service"]) != [REKOGNITION_SERVICE]:
            report_violation(f"the Rekognition role must trust only {REKOGNITION_SERVICE}", None)
        else:
            if not _conditions_on(statement, "aws:SourceAccount", ("StringEquals",)):
                report_violation(
                    "the Rekognition role's trust needs Condition StringEquals aws:SourceAccount (confused deputy)",
                    None,
                )
            if not _conditions_on(statement, "aws:SourceArn", SOURCE_ARN_OPERATORS):
                report_violation(
                    "the Rekognition role's trust needs Condition ArnLike aws:SourceArn "
                    "arn:aws:rekognition:<region>:<account>:* (confused deputy)",
                    None,
                )


def _identity_policies(args: ResourceValidationArgs) -> Iterator[Any]:
    if args.resource_type in (ROLE_POLICY, MANAGED_POLICY):
        yield args.props.get("policy")
    elif args.resource_type == ROLE:
        for inline in _items(args.props.get("inlinePolicies")):
            yield _mapping(inline).get("policy")


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
            actions = [str(action) for action in _items(statement.get("Action"))]
            wildcards = [action for action in actions if "*" in action]
            if wildcards:
                report_violation(f"statement {sid!r} allows wildcard actions {wildcards}", None)
            # IAM reads an action's name case-insensitively: kms:listAliases is kms:ListAliases.
            if "*" in _items(statement.get("Resource")) and not {action.lower() for action in actions} <= {
                action.lower() for action in ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS
            }:
                report_violation(f'statement {sid!r} allows {actions} on every resource (Resource "*")', None)


def _action_pattern(action: str) -> re.Pattern[str]:
    """An IAM action as IAM matches it: case-insensitively, ``*`` any run of characters, ``?`` one."""
    return re.compile("".join({"*": ".*", "?": "."}.get(c, re.escape(c)) for c in action.lower()))


def _key_actions(actions: list[str]) -> list[str]:
    """The kms: actions that act on a key, not on an alias: every one but CreateAlias, UpdateAlias and
    DeleteAlias. A wildcard counts as a key action only when it matches none of those three (AWS's
    own alias example grants kms:Create*); a wildcard at all is no-wildcard-permissions' business."""
    found = []
    for action in actions:
        if not action.lower().startswith("kms:"):
            continue
        pattern = _action_pattern(action)
        if not any(pattern.fullmatch(alias_action) for alias_action in KMS_ALIAS_ACTIONS):
            found.append(action)
    return found


def kms_grants_name_key_arns(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Identity policies grant KMS key actions on key ARNs, never on an alias ARN (that grants nothing).

    AWS KMS Developer Guide, "Specifying KMS keys in IAM policy statements" (cmks-in-iam-policies):
    an IAM policy statement must name a KMS key by its key ARN; a key ID, an alias name or an alias
    ARN cannot identify a key there, and an alias ARN belongs only in statements about alias
    operations (CreateAlias, UpdateAlias, DeleteAlias). "Use aliases to control access to KMS keys"
    (alias-authorization): when an alias is the Resource, the policy applies to the alias resource,
    not to any key associated with it (aliases steer access to keys only through the
    kms:RequestAlias / kms:ResourceAliases conditions). "Controlling access to aliases"
    (alias-access) and the API Reference's "Required permissions" of CreateAlias, UpdateAlias and
    DeleteAlias: each needs its action on the alias (IAM policy, alias ARN as Resource) and on the
    key; the guide's own example grants the three on an alias ARN, and notes kms:Create* covers
    CreateAlias.

    So kms:Decrypt or kms:GenerateDataKey on arn:aws:kms:<region>:<account>:alias/<name> silently
    allows nothing: an SNS topic or SQS queue under that key never gets its messages, an upload to
    the SSE-KMS bucket fails. The component refuses alias ARNs for its key settings for this reason
    (components/settings.py); this rule holds any stack to it. Only Allow statements are read, in the
    same identity policies as no-wildcard-permissions (a role's inline policies, role policies,
    managed policies); the alias actions are left alone. kms:ListAliases on an alias ARN grants nothing
    either, but its fix is Resource "*" (alias-access: it is not about any key or alias), not a key ARN.
    A document unknown during preview is left to pulumi-policy (its "can't run policy ... during
    preview" notice), as everywhere in the pack; one that is not JSON is no-wildcard-permissions' to
    report (it reads the same documents), once.
    """
    for document in _identity_policies(args):
        try:
            statements = _statements(document)
        except MalformedDocument:
            continue
        for statement in statements:
            if statement.get("Effect") != "Allow":
                continue
            actions = _key_actions([str(action) for action in _items(statement.get("Action"))])
            listing = [action for action in actions if action.lower() == KMS_LIST_ALIASES.lower()]
            actions = [action for action in actions if action not in listing]
            if not actions and not listing:
                continue
            sid = statement.get("Sid", "")
            for resource in _items(statement.get("Resource")):
                alias = KMS_ALIAS_ARN.match(str(resource))
                if alias is None:
                    continue
                if actions:
                    name = alias.group(1) if not set("*?") & set(alias.group(1)) else "alias/<name>"
                    report_violation(
                        f"statement {sid!r} allows {actions} on the KMS alias ARN {resource!r}: IAM matches a key by "
                        "its key ARN only, so this grants nothing on the key behind the alias; name the key ARN "
                        f"instead (`aws kms describe-key --key-id {name} --query KeyMetadata.Arn`)",
                        None,
                    )
                if listing:
                    report_violation(
                        f"statement {sid!r} allows {listing} on the KMS alias ARN {resource!r}: {KMS_LIST_ALIASES} "
                        'names no alias nor key in IAM, so this grants nothing; it takes Resource "*" only: grant '
                        'it in a statement of its own with Resource "*"',
                        None,
                    )


def _dependencies(resource: PolicyResource, key: str, resource_type: str) -> list[PolicyResource]:
    """The resources of ``resource_type`` that the engine says property ``key`` was computed from."""
    return [d for d in resource.property_dependencies.get(key, []) if d.resource_type == resource_type]


def completion_queue_has_dead_letter_queue(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every queue a topic delivers to redrives poison messages to a dead-letter queue."""
    for subscription in args.resources:
        if subscription.resource_type != SUBSCRIPTION or subscription.props.get("protocol") != "sqs":
            continue
        for queue in _dependencies(subscription, "endpoint", QUEUE):
            redrive = _document(queue.props.get("redrivePolicy"))
            if not redrive.get("deadLetterTargetArn") or not redrive.get("maxReceiveCount"):
                report_violation(
                    f"queue {queue.name!r} receives from a topic but has no redrivePolicy with a dead-letter queue",
                    queue.urn,
                )


def _dead_letter_queues(queues: list[PolicyResource]) -> dict[str, PolicyResource]:
    """The queues some queue redrives to, by URN: from the engine's property dependencies, or, for a
    redrive policy written out by hand (no dependency), from the ARN it names."""
    by_arn: dict[Any, PolicyResource] = {}
    found: dict[str, PolicyResource] = {}
    for queue in queues:
        targets = _dependencies(queue, "redrivePolicy", QUEUE)
        if not targets and queue.props.get("redrivePolicy"):
            if not by_arn:
                by_arn = {q.props.get("arn"): q for q in queues}
            target = by_arn.get(_document(queue.props.get("redrivePolicy")).get("deadLetterTargetArn"))
            targets = [target] if target is not None else []
        found.update((target.urn, target) for target in targets)
    return found


def _watched_queues(alarm: PolicyResource, queues: list[PolicyResource]) -> list[PolicyResource]:
    """The queues an alarm on a queue's visible messages watches: by dependency or by QueueName."""
    props = alarm.props
    if props.get("namespace") != SQS_NAMESPACE or props.get("metricName") != DEAD_LETTER_METRIC:
        return []
    watched = _dependencies(alarm, "dimensions", QUEUE)
    if watched:
        return watched
    name = _mapping(props.get("dimensions")).get("QueueName")
    return [q for q in queues if q.props.get("name") == name]


def dead_letter_queues_have_alarms(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every dead-letter queue has a CloudWatch alarm on its visible messages."""
    queues = [r for r in args.resources if r.resource_type == QUEUE]
    dead_letters = _dead_letter_queues(queues)
    if not dead_letters:
        return
    watched = {
        queue.urn
        for alarm in args.resources
        if alarm.resource_type == METRIC_ALARM
        for queue in _watched_queues(alarm, queues)
    }
    for urn, queue in dead_letters.items():
        if urn not in watched:
            report_violation(
                f"dead-letter queue {queue.name!r} has no CloudWatch alarm on {DEAD_LETTER_METRIC}: "
                "a message there (a job nobody collected) would go unnoticed for 14 days",
                urn,
            )


def _resource_rule(name: str, validate: Validate) -> Policy:
    return ResourceValidationPolicy(
        name=name,
        description=(validate.__doc__ or "").split("\n")[0],
        validate=_reporting_malformed(validate),
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def _stack_rule(name: str, validate: Validate, level: EnforcementLevel) -> Policy:
    return StackValidationPolicy(
        name=name,
        description=(validate.__doc__ or "").split("\n")[0],
        validate=_reporting_malformed(validate),
        enforcement_level=level,
    )


POLICIES: list[Policy] = [
    _resource_rule("video-bucket-not-public", video_bucket_not_public),
    _resource_rule("tls-only-access", tls_only_access),
    _resource_rule("encrypted-at-rest", encrypted_at_rest),
    _resource_rule("rekognition-role-trust", rekognition_role_trust),
    _resource_rule("no-wildcard-permissions", no_wildcard_permissions),
    # Mandatory, like the component's own refusal: a key action on an alias ARN is never useful (it
    # grants nothing), so no stack loses anything it needs by fixing it.
    _resource_rule("kms-grants-name-key-arns", kms_grants_name_key_arns),
    _stack_rule(
        "completion-queue-has-dead-letter-queue", completion_queue_has_dead_letter_queue, EnforcementLevel.MANDATORY
    ),
    # Advisory: alarms are a setting (alarms: false), and a stack may watch its queues elsewhere.
    _stack_rule("dead-letter-queues-have-alarms", dead_letter_queues_have_alarms, EnforcementLevel.ADVISORY),
]
