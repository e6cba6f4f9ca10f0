"""The policy pack the way Pulumi's engine runs it (issue 21.1): pulumi-policy's own analyzer server in
its own process (``python -m pulumi.policy``, as the CLI starts a Python pack), fed over gRPC with
``Analyze`` (each resource's inputs) and ``AnalyzeStack`` (every resource's state with the engine's
property dependencies), built from this program's resources captured under Pulumi's mocks.

Rules there see pulumi-policy's proxies (a ``_DictProxy``, a ``_ListProxy``), numbers as floats and,
during a preview, unknown values that raise when read. A rule that raised anything else would fail
the gRPC call: every call below would then raise instead of answering."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from localaws.deploy import program as pulumi_program
from tests.support.policy_analyzer import PREVIEW_NOTICE, Diagnostic, PolicyAnalyzer, Registration, capture
from tests.support.pulumi_mocks import REGION, ROOT

KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
STACKS = {
    "default": {},
    "existing-bucket-and-keys": {
        "existingBucketName": "team-videos",
        "bucketKmsKeyArn": KEY,
        "topicKmsKeyArn": KEY,
        "queueKmsKeyArn": KEY,
    },
    "auto-process": {"autoProcess": "true"},
    "auto-process-redact-with-keys": {
        "autoProcess": "true",
        "redact": "true",
        "redactLayerArn": "arn:aws:lambda:eu-west-1:111122223333:layer:redactor:1",
        "bucketKmsKeyArn": KEY,
        "queueKmsKeyArn": KEY,
    },
}
POLICIES = {
    "video-bucket-not-public": "mandatory",
    "tls-only-access": "mandatory",
    "encrypted-at-rest": "mandatory",
    "rekognition-role-trust": "mandatory",
    "no-wildcard-permissions": "mandatory",
    "kms-grants-name-key-arns": "mandatory",
    "completion-queue-has-dead-letter-queue": "mandatory",
    "dead-letter-queues-have-alarms": "advisory",
}


@pytest.fixture(scope="module")
def analyzer() -> Iterator[PolicyAnalyzer]:
    server = PolicyAnalyzer(ROOT / "policy")
    try:
        yield server
    finally:
        server.close()


def stack(settings: dict[str, str], preview: bool = False) -> list[Registration]:
    return capture(pulumi_program.main_program(ROOT), {"aws:region": REGION, **settings}, preview=preview)


def one(registrations: list[Registration], typ: str, name: str) -> Registration:
    (found,) = [r for r in registrations if r.type == typ and r.name == name]
    return found


def test_the_server_serves_the_packs_rules(analyzer):
    info = analyzer.info()
    assert info.name == "rekognition-faces"
    levels = {0: "advisory", 1: "mandatory"}
    assert {p.name: levels[p.enforcementLevel] for p in info.policies} == POLICIES


@pytest.mark.parametrize("name", list(STACKS))
def test_the_stack_passes_every_rule_at_up(analyzer, name):
    registrations = stack(STACKS[name])
    assert len(registrations) > 15
    assert analyzer.analyze_each(registrations) == []
    assert analyzer.analyze_stack(registrations) == []


@pytest.mark.parametrize("name", list(STACKS))
def test_at_preview_a_rule_that_cannot_decide_says_so(analyzer, name):
    """Values computed from resources not yet created (the policy documents naming their ARNs) are
    unknown: pulumi-policy reports such a rule as not run (advisory), never a violation or an error."""
    registrations = stack(STACKS[name], preview=True)
    found = analyzer.analyze_each(registrations) + analyzer.analyze_stack(registrations)
    assert found, "a preview of this program has unknown policy documents"
    assert all(d.level == "advisory" and PREVIEW_NOTICE in d.message for d in found), found
    undecided = {(d.policy, d.urn.rsplit("::", 1)[-1]) for d in found}
    assert ("no-wildcard-permissions", "faces-launcher") in undecided
    assert ("tls-only-access", "faces-completion") in undecided
    # What is known at preview is judged: the public access block, the trust policy (account and
    # region are known), and which dead-letter queues have alarms (the engine's property
    # dependencies say so before any ARN exists).
    assert not {"rekognition-role-trust", "dead-letter-queues-have-alarms"} & {policy for policy, _ in undecided}
    assert not [d for d in found if "bucketPublicAccessBlock" in d.urn]


def _mandatory(found: list[Diagnostic], policy: str) -> list[Diagnostic]:
    assert found, f"{policy} let the broken resource through"
    assert {(d.policy, d.level) for d in found} == {(policy, "mandatory")}, found
    return found


def _policy_document(key: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(values: dict[str, Any]) -> None:
        document = json.loads(values[key])
        edit(document)
        values[key] = json.dumps(document)

    return change


def _statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    (statement,) = [s for s in document["Statement"] if s.get("Sid") == sid]
    return statement


BROKEN_RESOURCES = [
    (
        "video-bucket-not-public",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "faces-videos",
        lambda v: v.update(restrictPublicBuckets=False),
    ),
    (
        "tls-only-access",
        "aws:sqs/queuePolicy:QueuePolicy",
        "faces-completion",
        _policy_document("policy", lambda d: d.update(Statement=[s for s in d["Statement"] if s["Effect"] != "Deny"])),
    ),
    (  # the rules list: where the pack used to crash on pulumi-policy's _ListProxy
        "encrypted-at-rest",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "faces-videos",
        lambda v: v["rules"][0].pop("applyServerSideEncryptionByDefault"),
    ),
    (
        "rekognition-role-trust",
        "aws:iam/role:Role",
        "faces-rekognition",
        _policy_document(
            "assumeRolePolicy", lambda d: _statement(d, "RekognitionAssumesRole")["Condition"].pop("ArnLike")
        ),
    ),
    (
        "no-wildcard-permissions",
        "aws:iam/policy:Policy",
        "faces-launcher",
        _policy_document("policy", lambda d: _statement(d, "UploadVideos").update(Action="s3:*")),
    ),
]


@pytest.mark.parametrize("policy, typ, name, change", BROKEN_RESOURCES, ids=[b[0] for b in BROKEN_RESOURCES])
def test_each_resource_rule_refuses_its_broken_resource(analyzer, policy, typ, name, change):
    resource = one(stack({}), typ, name)
    assert analyzer.analyze(resource) == []
    (violation,) = _mandatory(analyzer.analyze(resource.with_inputs(change)), policy)
    assert violation.message.startswith(next(p.description for p in analyzer.info().policies if p.name == policy))


def test_a_policy_document_that_is_not_json_is_a_violation_not_a_crash(analyzer):
    launcher = one(stack({}), "aws:iam/policy:Policy", "faces-launcher")
    found = analyzer.analyze(launcher.with_inputs(lambda v: v.update(policy='{"Statement": [')))
    (violation,) = _mandatory(found, "no-wildcard-permissions")
    assert "not valid JSON" in violation.message


def test_a_completion_queue_without_its_dead_letter_queue_is_refused(analyzer):
    registrations = stack({})
    broken = [
        r.with_outputs(lambda v: v.pop("redrivePolicy"))
        if (r.type, r.name) == ("aws:sqs/queue:Queue", "faces-completion")
        else r
        for r in registrations
    ]
    (violation,) = _mandatory(analyzer.analyze_stack(broken), "completion-queue-has-dead-letter-queue")
    assert violation.urn.endswith("aws:sqs/queue:Queue::faces-completion")


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_dead_letter_queues_without_alarms_are_advised(analyzer, preview):
    """alarms: false leaves both dead-letter queues of an autoProcess stack unwatched: an advisory
    diagnostic on each (at preview too: the redrive and the alarms' dimensions are dependencies)."""
    registrations = stack({"alarms": "false", "autoProcess": "true"}, preview=preview)
    found = [d for d in analyzer.analyze_stack(registrations) if d.policy == "dead-letter-queues-have-alarms"]
    assert {(d.level, d.urn.rsplit("::", 1)[-1]) for d in found} == {
        ("advisory", "faces-dead-letter"),
        ("advisory", "faces-intake-dead-letter"),
    }
    watched = stack({"autoProcess": "true"}, preview=preview)
    assert [d for d in analyzer.analyze_stack(watched) if d.policy == "dead-letter-queues-have-alarms"] == []


# -- kms-grants-name-key-arns: a stack that does not use the component -----------------------------

KEY_RULE = "kms-grants-name-key-arns"
ALIAS = "arn:aws:kms:eu-west-1:111122223333:alias/videos"
KEY_HOLDERS = {  # the three places the pack reads identity policies
    ("aws:iam/role:Role", "worker"),
    ("aws:iam/rolePolicy:RolePolicy", "worker-keys"),
    ("aws:iam/policy:Policy", "uploader-keys"),
}


def _type_and_name(diagnostic: Diagnostic) -> tuple[str, str]:
    """The resource a diagnostic is about, from its URN (...::<parent type>$<type>::<name>)."""
    qualified_type, name = diagnostic.urn.rsplit("::", 2)[-2:]
    return qualified_type.rsplit("$", 1)[-1], name


def hand_written_stack(grant_on: str) -> Callable[[], None]:
    """A stack written without the component: a key with an alias, a role with an inline policy, a
    role policy and a managed policy, each letting a worker use the key: on the key's ARN
    (``grant_on="key"``, and administering the alias on the alias ARN, as AWS's guide writes it) or
    on the alias ARN (``"alias"``), as one might write it by hand."""

    def program() -> None:
        key = aws.kms.Key("videos", description="videos")
        alias = aws.kms.Alias("videos", name="alias/videos", target_key_id=key.key_id)
        target = key.arn if grant_on == "key" else alias.arn

        def document(*statements: dict[str, Any]) -> pulumi.Output[str]:
            return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})

        use_key = document({"Sid": "UseKey", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": target})
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        role = aws.iam.Role(
            "worker",
            assume_role_policy=json.dumps(trust),
            inline_policies=[aws.iam.RoleInlinePolicyArgs(name="use-key", policy=use_key)],
        )
        aws.iam.RolePolicy(
            "worker-keys",
            role=role.id,
            policy=document(
                {"Sid": "Encrypt", "Effect": "Allow", "Action": ["kms:GenerateDataKey"], "Resource": target},
                {
                    "Sid": "ManageAlias",
                    "Effect": "Allow",
                    "Action": ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"],
                    "Resource": [alias.arn, key.arn],
                },
            ),
        )
        aws.iam.Policy(
            "uploader-keys",
            policy=document(
                {
                    "Sid": "Upload",
                    "Effect": "Allow",
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": target,
                }
            ),
        )

    return program


def hand_written(grant_on: str, preview: bool = False) -> list[Registration]:
    return capture(hand_written_stack(grant_on), {"aws:region": REGION}, preview=preview)


def test_a_hand_written_stack_granting_key_actions_on_an_alias_arn_is_refused(analyzer):
    found = analyzer.analyze_each(hand_written("alias"))
    assert {(d.policy, d.level) for d in found} == {(KEY_RULE, "mandatory")}, found
    assert {_type_and_name(d) for d in found} == KEY_HOLDERS
    assert len(found) == 3, found  # one per statement: the alias-management statement is not among them
    for violation in found:
        assert ALIAS in violation.message and "ManageAlias" not in violation.message
        assert "`aws kms describe-key --key-id alias/videos --query KeyMetadata.Arn`" in violation.message


def test_a_hand_written_stack_with_key_arns_and_alias_administration_passes(analyzer):
    registrations = hand_written("key")
    assert {(r.type, r.name) for r in registrations} >= KEY_HOLDERS
    assert analyzer.analyze_each(registrations) == []
    assert analyzer.analyze_stack(registrations) == []


def test_at_preview_an_alias_arn_not_yet_known_is_left_undecided(analyzer):
    """At preview the alias's ARN is unknown, so are the documents built from it: pulumi-policy's
    "can't run" notice (advisory), never a violation; the rule decides at `pulumi up`."""
    found = analyzer.analyze_each(hand_written("alias", preview=True))
    assert found
    assert all(d.level == "advisory" and PREVIEW_NOTICE in d.message for d in found), found
    assert {_type_and_name(d) for d in found if d.policy == KEY_RULE} == KEY_HOLDERS


def test_the_components_key_grants_with_an_alias_in_place_of_the_key_are_refused(analyzer):
    """The component refuses an alias for its key settings; another program writing the same grants
    by hand might not: the service role's topic-key grant and the launcher's, with the alias."""
    registrations = stack(STACKS["existing-bucket-and-keys"])
    aliased = _replace(KEY, ALIAS)
    for typ, name, statements in [
        ("aws:iam/rolePolicy:RolePolicy", "faces-rekognition-publish", {"EncryptForTopic"}),
        ("aws:iam/policy:Policy", "faces-launcher", {"UseBucketKey", "UseQueueKey"}),
    ]:
        resource = one(registrations, typ, name)
        assert analyzer.analyze(resource) == []
        found = _mandatory(analyzer.analyze(resource.with_inputs(aliased)), KEY_RULE)
        assert {d.message.split("statement '")[1].split("'")[0] for d in found} == statements, found


def _replace(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def change(values: dict[str, Any]) -> None:
        assert old in values["policy"]
        values["policy"] = values["policy"].replace(old, new)

    return change


def listing_stack(resource: str) -> Callable[[], None]:
    """A managed policy granting kms:ListAliases, its Statement one object (not a list) and its Action a
    string, on the alias ARN or on ``"*"``."""

    def program() -> None:
        key = aws.kms.Key("videos", description="videos")
        alias = aws.kms.Alias("videos", name="alias/videos", target_key_id=key.key_id)
        statement = {"Sid": "List", "Effect": "Allow", "Action": "kms:ListAliases"}
        aws.iam.Policy(
            "lister",
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": {**statement, "Resource": alias.arn if resource == "alias" else "*"},
                }
            ),
        )

    return program


def test_list_aliases_on_an_alias_arn_is_told_resource_star_which_the_pack_passes(analyzer):
    (violation,) = analyzer.analyze_each(capture(listing_stack("alias"), {"aws:region": REGION}))
    assert (violation.policy, violation.level) == (KEY_RULE, "mandatory")
    assert ALIAS in violation.message and 'Resource "*"' in violation.message
    assert "describe-key" not in violation.message
    assert analyzer.analyze_each(capture(listing_stack("*"), {"aws:region": REGION})) == []


@pytest.mark.parametrize(
    "typ, name",
    [
        ("aws:s3/bucketPolicy:BucketPolicy", "faces-videos"),
        ("aws:sns/topicPolicy:TopicPolicy", "faces-completion"),
        ("aws:sqs/queuePolicy:QueuePolicy", "faces-completion"),
    ],
)
def test_a_tls_deny_whose_condition_value_is_a_list_passes(analyzer, typ, name):
    """IAM takes a condition's values as one value or a list ("aws:SecureTransport": ["false"]): the
    same deny, which the rule refused when written as a list."""

    def as_list(document: dict[str, Any]) -> None:
        (deny,) = [s for s in document["Statement"] if s["Effect"] == "Deny"]
        deny["Condition"]["Bool"]["aws:SecureTransport"] = ["false"]

    resource = one(stack(STACKS["default"]), typ, name)
    assert analyzer.analyze(resource.with_inputs(_policy_document("policy", as_list))) == []
