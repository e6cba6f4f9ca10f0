"""The IAM evaluator's Condition element, table-driven from the examples of the IAM reference ("IAM JSON
policy elements: Condition operators" and "...: Condition"), and the notification-channel check that
reads it: trust keys in any case, Deny conditions AWS would apply, permissions boundaries, refusals that
name what cannot be evaluated."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from localaws.iam_policy import Decision, Request, UnsupportedCondition, conditions_hold, evaluate, within_boundary
from localaws.rekognition.channel import check_notification_channel
from localaws.rekognition.exceptions import AccessDeniedException
from tests.support.aws import unique
from tests.support.moto_inprocess import moto_kept

MISSING = object()

# (condition element, context key, request value or MISSING, holds?) — each row one check of the reference.
# fmt: off
CASES: list[tuple[str, dict[str, Any], str, Any, bool]] = [
    # String: exact and case-sensitive; IgnoreCase; Like with * and ?; negated ones hold when the key is missing
    ("string-equals", {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
     "aws:PrincipalTag/job-category", "iamuser-admin", True),
    ("string-equals-case", {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
     "aws:PrincipalTag/job-category", "IAMUser-Admin", False),
    ("string-equals-missing", {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
     "aws:PrincipalTag/job-category", MISSING, False),
    ("string-ignore-case", {"StringEqualsIgnoreCase": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
     "aws:PrincipalTag/job-category", "IAMUSER-ADMIN", True),
    ("string-not-equals", {"StringNotEquals": {"aws:PrincipalTag/job-category": ["a", "b"]}},
     "aws:PrincipalTag/job-category", "c", True),
    ("string-not-equals-hit", {"StringNotEquals": {"aws:PrincipalTag/job-category": ["a", "b"]}},
     "aws:PrincipalTag/job-category", "b", False),
    ("string-not-equals-missing", {"StringNotEquals": {"aws:PrincipalTag/job-category": "a"}},
     "aws:PrincipalTag/job-category", MISSING, True),
    ("string-not-equals-ignore-case", {"StringNotEqualsIgnoreCase": {"aws:username": "John"}},
     "aws:username", "john", False),
    ("string-like", {"StringLike": {"s3:prefix": ["", "home/", "home/*"]}}, "s3:prefix", "home/john/a.mp4", True),
    ("string-like-question", {"StringLike": {"ec2:InstanceType": "t?.micro"}}, "ec2:InstanceType", "t2.micro", True),
    ("string-like-no", {"StringLike": {"s3:prefix": ["", "home/", "home/*"]}}, "s3:prefix", "other/", False),
    ("string-not-like-missing", {"StringNotLike": {"s3:prefix": "home/*"}}, "s3:prefix", MISSING, True),
    ("numeric-le", {"NumericLessThanEquals": {"s3:max-keys": "10"}}, "s3:max-keys", "10", True),
    ("numeric-le-over", {"NumericLessThanEquals": {"s3:max-keys": "10"}}, "s3:max-keys", "11", False),
    ("numeric-not-a-number", {"NumericLessThanEquals": {"s3:max-keys": "10"}}, "s3:max-keys", "ten", False),
    ("numeric-missing", {"NumericLessThanEquals": {"s3:max-keys": "10"}}, "s3:max-keys", MISSING, False),
    ("numeric-equals-float", {"NumericEquals": {"s3:max-keys": 10}}, "s3:max-keys", "10.0", True),
    ("numeric-not-equals", {"NumericNotEquals": {"s3:max-keys": "10"}}, "s3:max-keys", "9", True),
    ("numeric-gt", {"NumericGreaterThan": {"s3:max-keys": "10"}}, "s3:max-keys", "10", False),
    ("numeric-ge", {"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, "s3:max-keys", "10", True),
    ("numeric-lt", {"NumericLessThan": {"s3:max-keys": "10"}}, "s3:max-keys", "-1", True),
    # Numeric
    # Date: ISO 8601 or epoch seconds, either side
    ("date-gt", {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
     "aws:TokenIssueTime", "2020-01-01T00:00:02Z", True),
    ("date-gt-epoch", {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
     "aws:TokenIssueTime", "1577836801", False),
    ("date-lt-date-only", {"DateLessThan": {"aws:CurrentTime": "2030-06-30"}},
     "aws:CurrentTime", "2030-06-29T23:59:59Z", True),
    ("date-equals-offset", {"DateEquals": {"aws:CurrentTime": "2024-01-01T02:00:00+02:00"}},
     "aws:CurrentTime", "2024-01-01T00:00:00Z", True),
    ("date-not-equals", {"DateNotEquals": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
     "aws:CurrentTime", "2024-01-01T00:00:01Z", True),
    ("date-le", {"DateLessThanEquals": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
     "aws:CurrentTime", "2024-01-01T00:00:00Z", True),
    ("date-ge-not-a-date", {"DateGreaterThanEquals": {"aws:CurrentTime": "2024-01-01"}},
     "aws:CurrentTime", "yesterday", False),
    ("bool", {"Bool": {"aws:SecureTransport": "false"}}, "aws:SecureTransport", "false", True),
    ("bool-other", {"Bool": {"aws:SecureTransport": "false"}}, "aws:SecureTransport", "true", False),
    ("bool-json", {"Bool": {"aws:MultiFactorAuthPresent": True}}, "aws:MultiFactorAuthPresent", "TRUE", True),
    ("binary", {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, "key", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", True),
    ("binary-other", {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, "key", "b3RoZXI=", False),
    ("ip", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, "aws:SourceIp", "203.0.113.7", True),
    ("ip-outside", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, "aws:SourceIp", "198.51.100.1", False),
    ("ip-missing", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, "aws:SourceIp", MISSING, False),
    # Bool (also a JSON boolean in the policy)
    # Binary: base64 values
    # IP address: IPv4 and IPv6 CIDR
    ("ip-v6", {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
     "aws:SourceIp", "2001:db8:1234:5678::1", True),
    ("not-ip", {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
     "aws:SourceIp", "198.51.100.1", True),
    ("not-ip-inside", {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
     "aws:SourceIp", "192.0.2.9", False),
    ("not-ip-missing", {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, "aws:SourceIp", MISSING, True),
    # ARN: six parts matched one by one, wildcards within a part
    ("arn-equals", {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:TOPIC-ID"}},
     "aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:TOPIC-ID", True),
    ("arn-equals-other-account", {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:TOPIC-ID"}},
     "aws:SourceArn", "arn:aws:sns:us-east-1:999999999999:TOPIC-ID", False),
    ("arn-like", {"ArnLike": {"aws:SourceArn": "arn:aws:rekognition:eu-west-1:111122223333:*"}},
     "aws:SourceArn", "arn:aws:rekognition:eu-west-1:111122223333:*", True),
    ("arn-like-region", {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:*:111122223333:alarm:*"}},
     "aws:SourceArn", "arn:aws:cloudwatch:us-east-1:111122223333:alarm:dlq", True),
    ("arn-like-no-crossing", {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::bucket*"}},
     "aws:SourceArn", "arn:aws:sns:us-east-1:1:bucket", False),
    ("arn-not-a-arn", {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, "aws:SourceArn", "bucket", False),
    ("arn-not-equals", {"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:T"}},
     "aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:U", True),
    ("arn-not-like-missing", {"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}, "aws:SourceArn", MISSING, True),
    # ...IfExists
    ("if-exists-missing", {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
     "ec2:InstanceType", MISSING, True),
    ("if-exists-match", {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
     "ec2:InstanceType", "t2.micro", True),
    ("if-exists-other", {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
     "ec2:InstanceType", "c5.large", False),
    ("date-if-exists", {"DateLessThanIfExists": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}},
     "aws:TokenIssueTime", MISSING, True),
    ("null-true-missing", {"Null": {"aws:TokenIssueTime": "true"}}, "aws:TokenIssueTime", MISSING, True),
    ("null-true-present", {"Null": {"aws:TokenIssueTime": "true"}}, "aws:TokenIssueTime", "2020-01-01", False),
    ("null-false-present", {"Null": {"aws:TokenIssueTime": "false"}}, "aws:TokenIssueTime", "2020-01-01", True),
    ("null-false-missing", {"Null": {"aws:TokenIssueTime": "false"}}, "aws:TokenIssueTime", MISSING, False),
    # Null
    # Set operators on a multivalued key
    ("for-all", {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}},
     "aws:TagKeys", ["environment"], True),
    ("for-all-extra", {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}},
     "aws:TagKeys", ["environment", "owner"], False),
    ("for-all-empty", {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment"]}}, "aws:TagKeys", [], True),
    ("for-all-missing", {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment"]}}, "aws:TagKeys", MISSING, True),
    ("for-any", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}},
     "aws:TagKeys", ["owner", "environment"], True),
    ("for-any-none", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}},
     "aws:TagKeys", ["owner"], False),
    ("for-any-missing", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment"]}}, "aws:TagKeys", MISSING, False),
    ("for-any-like", {"ForAnyValue:StringLike": {"aws:TagKeys": "cost-*"}}, "aws:TagKeys", ["a", "cost-center"], True),
    ("for-all-not-equals", {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}},
     "aws:TagKeys", ["a", "b"], True),
    ("for-any-arn", {"ForAnyValue:ArnLike": {"aws:PrincipalServiceNamesList": "arn:aws:*:*:*:x"}},
     "aws:PrincipalServiceNamesList", ["arn:aws:s3:::x"], True),
    ("key-case", {"StringEquals": {"AWS:SourceAccount": "111122223333"}}, "aws:sourceaccount", "111122223333", True),
    ("key-case-2", {"StringEquals": {"aws:SourceIP": "x"}}, "AWS:SourceIp", "x", True),
]
# fmt: on


@pytest.mark.parametrize("condition, key, value, holds", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_condition_operators_as_the_reference_defines_them(condition, key, value, holds):
    context = {} if value is MISSING else {key.lower(): value}
    assert conditions_hold(condition, context) is holds


def test_several_values_are_ored_keys_and_operators_anded():
    condition = {
        "StringEquals": {"aws:PrincipalTag/team": ["a", "b"], "aws:PrincipalTag/level": "2"},
        "Bool": {"aws:SecureTransport": "true"},
    }
    base = {"aws:principaltag/team": "b", "aws:principaltag/level": "2", "aws:securetransport": "true"}
    assert conditions_hold(condition, base)
    assert not conditions_hold(condition, {**base, "aws:principaltag/level": "3"})
    assert not conditions_hold(condition, {**base, "aws:securetransport": "false"})


@pytest.mark.parametrize(
    "condition, named",
    [
        ({"StringEqual": {"aws:SourceAccount": "1"}}, "'StringEqual'"),
        ({"NullIfExists": {"aws:SourceIp": "true"}}, "'NullIfExists'"),
        ({"ForAnyValue:Null": {"aws:TagKeys": "true"}}, "'ForAnyValue:Null'"),
        ({"BinaryNotEquals": {"key": "QQ=="}}, "'BinaryNotEquals'"),
        ({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}, "${aws:username}"),
        ({"StringEquals": "not an object"}, "'StringEquals'"),
    ],
)
def test_what_cannot_be_evaluated_is_refused_by_name(condition, named):
    with pytest.raises(UnsupportedCondition) as raised:
        conditions_hold(condition, {"aws:sourceaccount": "1"})
    assert named in str(raised.value)


TOPIC = "arn:aws:sns:us-east-1:111122223333:AmazonRekognition-t"


def publish_policy(*extra: dict[str, Any]) -> dict[str, Any]:
    return {"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC}, *extra]}


@pytest.mark.parametrize(
    "deny_condition",
    [
        {"Null": {"aws:MultiFactorAuthPresent": "true"}},
        {"ForAnyValue:StringLike": {"aws:PrincipalType": "Assumed*"}},
        {"DateGreaterThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}},
    ],
    ids=["Null", "ForAnyValue", "Date"],
)
def test_a_deny_with_null_set_or_date_conditions_denies(deny_condition):
    deny = {"Effect": "Deny", "Action": "sns:*", "Resource": "*", "Condition": deny_condition}
    request = Request(
        "sns:Publish",
        TOPIC,
        context={"aws:PrincipalType": "AssumedRole", "aws:CurrentTime": "2026-01-01T00:00:00Z"},
    )
    assert evaluate([publish_policy(deny)], request) is Decision.EXPLICIT_DENY


def test_an_unevaluable_condition_on_a_statement_that_does_not_apply_is_not_read():
    kms = {
        "Effect": "Allow",
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
        "Condition": {"SomeFutureOperator": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}},
    }
    assert evaluate([publish_policy(kms)], Request("sns:Publish", TOPIC)) is Decision.ALLOW


ALLOW, DENY, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    "identity, boundary, result",
    [
        (ALLOW, None, ALLOW),
        (ALLOW, ALLOW, ALLOW),
        (ALLOW, IMPLICIT, IMPLICIT),
        (ALLOW, DENY, DENY),
        (IMPLICIT, ALLOW, IMPLICIT),
        (DENY, ALLOW, DENY),
        (IMPLICIT, None, IMPLICIT),
    ],
)
def test_permissions_boundary_caps_what_the_identity_allows(identity, boundary, result):
    assert within_boundary(identity, boundary) is result


# -- the notification-channel check, on moto's in-memory IAM and SNS ----------------------------------

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def aws():
    with moto_kept():
        iam = boto3.client("iam", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        yield iam, sns


def make_role(iam, trust: dict[str, Any], policy: dict[str, Any], boundary: dict[str, Any] | None = None) -> str:
    extra = {}
    if boundary is not None:
        arn = iam.create_policy(PolicyName=unique("boundary"), PolicyDocument=json.dumps(boundary))["Policy"]["Arn"]
        extra["PermissionsBoundary"] = arn
    name = unique("publisher")  # moto_kept: what earlier tests made in this process is still there
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), **extra)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="publish", PolicyDocument=json.dumps(policy))
    return role


def trust(condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "rekognition.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": condition,
            }
        ],
    }


def role_policy(topic: str, *extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": topic}, *extra],
    }


VIA_SNS = {  # the KMS grant components/policies.py adds for an encrypted topic (kms:ViaService)
    "Effect": "Allow",
    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
    "Resource": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234",
    "Condition": {"StringEquals": {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}},
}


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"AWS:SourceAccount": ACCOUNT}},
        {"StringEquals": {"aws:sourceaccount": ACCOUNT}},
        {  # the stack's trust policy with the confused-deputy guard's both keys
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:rekognition:{REGION}:{ACCOUNT}:*"},
        },
        {"Null": {"aws:SourceIp": "true"}, "Bool": {"aws:PrincipalIsAWSService": "true"}},
    ],
    ids=["AWS:SourceAccount", "lower-case", "SourceArn-ArnLike", "service-principal-keys"],
)
def test_the_channel_check_accepts_trust_policies_aws_accepts(aws, condition):
    iam, sns = aws
    topic = sns.create_topic(Name=unique("AmazonRekognition-t"))["TopicArn"]
    role = make_role(iam, trust(condition), role_policy(topic, VIA_SNS))
    check_notification_channel(topic, role, ACCOUNT, REGION)


def test_the_channel_check_refuses_a_trust_for_another_regions_jobs(aws):
    iam, sns = aws
    topic = sns.create_topic(Name=unique("AmazonRekognition-t"))["TopicArn"]
    condition = {"ArnLike": {"aws:SourceArn": f"arn:aws:rekognition:eu-west-1:{ACCOUNT}:*"}}
    role = make_role(iam, trust(condition), role_policy(topic))
    with pytest.raises(AccessDeniedException, match="trust policy"):
        check_notification_channel(topic, role, ACCOUNT, REGION)


def test_the_channel_check_applies_a_deny_aws_would_apply(aws):
    iam, sns = aws
    topic = sns.create_topic(Name=unique("AmazonRekognition-t"))["TopicArn"]
    deny_without_mfa = {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"Null": {"aws:MultiFactorAuthPresent": "true"}},
    }
    role = make_role(iam, trust({"StringEquals": {"aws:SourceAccount": ACCOUNT}}), role_policy(topic, deny_without_mfa))
    with pytest.raises(AccessDeniedException, match="not allowed sns:Publish"):
        check_notification_channel(topic, role, ACCOUNT, REGION)


@pytest.mark.parametrize("boundary_allows, accepted", [("sns:Publish", True), ("sqs:SendMessage", False)])
def test_the_channel_check_honours_the_permissions_boundary(aws, boundary_allows, accepted):
    iam, sns = aws
    topic = sns.create_topic(Name=unique("AmazonRekognition-t"))["TopicArn"]
    boundary = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": boundary_allows, "Resource": "*"}]}
    role = make_role(iam, trust({"StringEquals": {"aws:SourceAccount": ACCOUNT}}), role_policy(topic), boundary)
    if accepted:
        check_notification_channel(topic, role, ACCOUNT, REGION)
    else:
        with pytest.raises(AccessDeniedException, match="permissions boundary"):
            check_notification_channel(topic, role, ACCOUNT, REGION)


def test_the_channel_check_names_a_condition_it_cannot_evaluate(aws):
    iam, sns = aws
    topic = sns.create_topic(Name=unique("AmazonRekognition-t"))["TopicArn"]
    role = make_role(iam, trust({"StringEqualsIfExist": {"aws:SourceAccount": ACCOUNT}}), role_policy(topic))
    with pytest.raises(AccessDeniedException, match=r"'StringEqualsIfExist'.*cannot evaluate"):
        check_notification_channel(topic, role, ACCOUNT, REGION)
