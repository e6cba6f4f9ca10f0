"""The policy evaluator behind the emulator's notification-channel checks."""

import pytest

from components import policies
from localaws.iam_policy import Decision, Request, UnsupportedCondition, evaluate

ACCOUNT = "111122223333"
TOPIC = f"arn:aws:sns:eu-west-1:{ACCOUNT}:AmazonRekognition-faces"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/publisher"
REKOGNITION = ("Service", "rekognition.amazonaws.com")


def assume(account: str = ACCOUNT, principal=REKOGNITION) -> Request:
    context = {"aws:SourceAccount": account, "aws:SourceArn": f"arn:aws:rekognition:eu-west-1:{account}:*"}
    return Request("sts:AssumeRole", principal=principal, context=context)


def test_trust_policy_admits_rekognition_for_its_account_only():
    trust = [policies.rekognition_trust_policy(ACCOUNT, "eu-west-1")]
    assert evaluate(trust, assume()) is Decision.ALLOW
    assert evaluate(trust, assume(account="999999999999")) is Decision.IMPLICIT_DENY
    assert evaluate(trust, assume(principal=("Service", "lambda.amazonaws.com"))) is Decision.IMPLICIT_DENY
    assert evaluate(trust, Request("sts:AssumeRole", principal=REKOGNITION)) is Decision.IMPLICIT_DENY


def test_publish_policy_is_scoped_to_its_topic():
    documents = [policies.service_role_policy(TOPIC, "eu-west-1")]
    assert evaluate(documents, Request("sns:Publish", TOPIC)) is Decision.ALLOW
    assert evaluate(documents, Request("SNS:publish", TOPIC)) is Decision.ALLOW, "actions are case-insensitive"
    assert evaluate(documents, Request("sns:Publish", TOPIC + "-other")) is Decision.IMPLICIT_DENY
    assert evaluate(documents, Request("sns:DeleteTopic", TOPIC)) is Decision.IMPLICIT_DENY


def test_wildcards_and_explicit_deny():
    managed = {"Statement": {"Effect": "Allow", "Action": "sns:*", "Resource": "arn:aws:sns:*:*:AmazonRekognition*"}}
    assert evaluate([managed], Request("sns:Publish", TOPIC)) is Decision.ALLOW
    deny = {"Statement": [{"Effect": "Deny", "Action": "sns:Publish", "Resource": "*"}]}
    assert evaluate([managed, deny], Request("sns:Publish", TOPIC)) is Decision.EXPLICIT_DENY


def test_topic_policy_tls_deny_applies_only_without_tls():
    topic_policy = [policies.topic_policy(TOPIC, ROLE)]
    over_tls = Request("sns:Publish", TOPIC, ("AWS", ROLE), {"aws:SecureTransport": "true"})
    plain = Request("sns:Publish", TOPIC, ("AWS", ROLE), {"aws:SecureTransport": "false"})
    assert evaluate(topic_policy, over_tls) is Decision.ALLOW
    assert evaluate(topic_policy, plain) is Decision.EXPLICIT_DENY
    stranger = Request(
        "sns:Publish", TOPIC, ("AWS", f"arn:aws:iam::{ACCOUNT}:role/other"), {"aws:SecureTransport": "true"}
    )
    assert evaluate(topic_policy, stranger) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    "principal, allowed",
    [
        ("*", True),
        ({"AWS": ACCOUNT}, True),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, True),
        ({"AWS": "arn:aws:iam::999999999999:root"}, False),
        ({"Service": "sns.amazonaws.com"}, False),
    ],
)
def test_account_principals_stand_for_the_accounts_roles(principal, allowed):
    document = {"Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sns:Publish", "Resource": TOPIC}]}
    decision = evaluate([document], Request("sns:Publish", TOPIC, ("AWS", ROLE)))
    assert (decision is Decision.ALLOW) is allowed


def test_unknown_condition_operators_are_refused_by_name():
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": TOPIC,
                "Condition": {"IpAddresses": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ]
    }
    with pytest.raises(UnsupportedCondition, match="IpAddresses"):
        evaluate([document], Request("sns:Publish", TOPIC))


def test_if_exists_passes_when_the_key_is_absent():
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": TOPIC,
                "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}},
            }
        ]
    }
    assert evaluate([document], Request("sns:Publish", TOPIC)) is Decision.ALLOW
    assert (
        evaluate([document], Request("sns:Publish", TOPIC, context={"aws:SourceAccount": "1"}))
        is Decision.IMPLICIT_DENY
    )
