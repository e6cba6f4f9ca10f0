"""The CrossGuard pack (policy/): every rule passes on what this program declares, and fails on its
broken case. The rules are fed the inputs the program's resources receive under Pulumi's mocks, as the
engine would hand them over (camelCase names, policy documents as JSON strings)."""

import copy
import json
import runpy
from collections.abc import Callable
from typing import Any

import pulumi_policy
import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.policies import LAUNCHER_REKOGNITION_ACTIONS
from localaws.deploy import program as pulumi_program
from policy import rules
from tests.support.pulumi_mocks import REGION, ROOT, Declared, run_body

KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BY_NAME = {policy.name: policy for policy in rules.POLICIES}


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _urn(typ: str, name: str) -> str:
    return f"urn:pulumi:test::rekognition-faces::{typ}::{name}"


def _resource_args(typ: str, name: str, props: dict[str, Any]) -> ResourceValidationArgs:
    return ResourceValidationArgs(typ, props, _urn(typ, name), name, _options(), None)


def _stack_args(declared: Declared) -> StackValidationArgs:
    """The stack as AnalyzeStack sees it: each resource's outputs, and for each property the resources
    it came from (the engine tracks these; here they are recovered from the ARNs the values carry)."""
    resources = [
        PolicyResource(
            r.typ, declared.states[(r.typ, r.name)], _urn(r.typ, r.name), r.name, _options(), None, None, [], {}
        )
        for r in declared.resources
        if r.custom
    ]
    by_arn = {resource.props.get("arn"): resource for resource in resources if resource.props.get("arn")}
    for resource in resources:
        for key, value in resource.props.items():
            if isinstance(value, str) and value in by_arn:
                resource.property_dependencies[key] = [by_arn[value]]
    return StackValidationArgs(resources, {})


def violations(policy: Any, args: Any) -> list[str]:
    found: list[str] = []
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def _all_violations(declared: Declared) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for policy in rules.POLICIES:
        if isinstance(policy, StackValidationPolicy):
            found[policy.name] = violations(policy, _stack_args(declared))
        else:
            found[policy.name] = [
                f"{r.typ} {r.name}: {message}"
                for r in declared.resources
                if r.custom
                for message in violations(policy, _resource_args(r.typ, r.name, dict(r.inputs)))
            ]
    return found


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"bucketKmsKeyArn": KEY, "topicKmsKeyArn": KEY, "queueKmsKeyArn": KEY, "rawMessageDelivery": "true"},
        {"existingBucketName": "team-videos"},
        {"autoProcess": "true"},
        {"autoProcess": "true", "bucketKmsKeyArn": KEY, "queueKmsKeyArn": KEY, "existingBucketName": "team-videos"},
    ],
    ids=["defaults", "customer-managed-keys", "existing-bucket", "auto-process", "auto-process-keys-existing-bucket"],
)
def test_this_program_passes_every_rule(run_program, config):
    declared = run_program({"aws:region": REGION, **config})
    assert _all_violations(declared) == {name: [] for name in BY_NAME}


@pytest.fixture(scope="module")
def program_inputs() -> dict[str, dict[str, Any]]:
    """The default program's resource inputs by type (one resource of each, the completion queue's)."""
    declared = run_body(pulumi_program.main_program(ROOT), {"aws:region": REGION})
    inputs: dict[str, dict[str, Any]] = {}
    for r in declared.resources:
        if r.custom and (r.typ not in inputs or r.name.endswith("-completion")):
            inputs[r.typ] = dict(r.inputs)
    return inputs


def _edit_policy(key: str, edit: Callable[[dict], None]) -> Callable[[dict], None]:
    def mutate(props: dict) -> None:
        document = json.loads(props[key])
        edit(document)
        props[key] = json.dumps(document)

    return mutate


def _statement(sid: str, **changes: Any) -> Callable[[dict], None]:
    def edit(document: dict) -> None:
        (statement,) = [s for s in document["Statement"] if s.get("Sid") == sid]
        statement.update(changes)

    return edit


BROKEN = [
    ("video-bucket-not-public", rules.PUBLIC_ACCESS_BLOCK, lambda p: p.update(restrictPublicBuckets=False)),
    ("video-bucket-not-public", rules.BUCKET, lambda p: p.update(acl="public-read")),
    (
        "video-bucket-not-public",
        rules.BUCKET_POLICY,
        _edit_policy(
            "policy",
            lambda d: d["Statement"].append(
                {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
            ),
        ),
    ),
    ("tls-only-access", rules.BUCKET_POLICY, _edit_policy("policy", lambda d: d.update(Statement=[]))),
    (
        "tls-only-access",
        rules.TOPIC_POLICY,
        _edit_policy("policy", lambda d: d.update(Statement=d["Statement"][:1])),
    ),
    (
        "tls-only-access",
        rules.QUEUE_POLICY,
        _edit_policy("policy", _statement("DenyInsecureTransport", Condition={})),
    ),
    ("encrypted-at-rest", rules.TOPIC, lambda p: p.pop("kmsMasterKeyId")),
    ("encrypted-at-rest", rules.QUEUE, lambda p: p.update(sqsManagedSseEnabled=False)),
    ("encrypted-at-rest", rules.BUCKET_ENCRYPTION, lambda p: p.update(rules=[])),
    (
        "rekognition-role-trust",
        rules.ROLE,
        _edit_policy("assumeRolePolicy", _statement("RekognitionAssumesRole", Condition={})),
    ),
    (
        "rekognition-role-trust",
        rules.ROLE,
        _edit_policy(
            "assumeRolePolicy",
            _statement("RekognitionAssumesRole", Condition={"StringEquals": {"aws:SourceAccount": "111122223333"}}),
        ),
    ),
    (
        "rekognition-role-trust",
        rules.ROLE,
        _edit_policy(
            "assumeRolePolicy",
            _statement(
                "RekognitionAssumesRole", Principal={"Service": ["rekognition.amazonaws.com", "ec2.amazonaws.com"]}
            ),
        ),
    ),
    (
        "no-wildcard-permissions",
        rules.ROLE_POLICY,
        _edit_policy("policy", _statement("PublishCompletion", Action="sns:*")),
    ),
    (
        "no-wildcard-permissions",
        rules.ROLE_POLICY,
        _edit_policy("policy", _statement("PublishCompletion", Resource="*")),
    ),
    (
        "no-wildcard-permissions",
        rules.MANAGED_POLICY,
        _edit_policy("policy", _statement("RunFaceDetection", Action=["rekognition:*"])),
    ),
    (
        "no-wildcard-permissions",
        rules.MANAGED_POLICY,
        _edit_policy("policy", _statement("UploadVideos", Resource="*")),
    ),
]


@pytest.mark.parametrize("rule, typ, mutate", BROKEN, ids=[f"{r}-{t.split(':')[-1]}" for r, t, _ in BROKEN])
def test_each_rule_fails_on_its_broken_resource(program_inputs, rule, typ, mutate):
    props = copy.deepcopy(program_inputs[typ])
    assert violations(BY_NAME[rule], _resource_args(typ, "broken", props)) == []
    mutate(props)
    assert violations(BY_NAME[rule], _resource_args(typ, "broken", props)), f"{rule} let a broken {typ} through"


def test_a_completion_queue_without_dead_letter_queue_fails(run_program):
    declared = run_program({"aws:region": REGION})
    (completion,) = [k for k in declared.states if k[0] == rules.QUEUE and k[1].endswith("-completion")]
    del declared.states[completion]["redrivePolicy"]
    (message,) = violations(BY_NAME["completion-queue-has-dead-letter-queue"], _stack_args(declared))
    assert "faces-completion" in message


def test_roles_that_rekognition_does_not_assume_are_left_alone():
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    args = _resource_args(rules.ROLE, "worker", {"assumeRolePolicy": json.dumps(trust)})
    assert violations(BY_NAME["rekognition-role-trust"], args) == []


def test_without_alarms_each_dead_letter_queue_is_reported(run_program):
    declared = run_program({"aws:region": REGION, "alarms": "false", "autoProcess": "true"})
    found = sorted(violations(BY_NAME["dead-letter-queues-have-alarms"], _stack_args(declared)))
    assert len(found) == 2, found  # in the order Pulumi registered them, which may vary
    assert "'faces-dead-letter'" in found[0] and "'faces-intake-dead-letter'" in found[1], found


def test_the_pack_assembles_every_rule_mandatory_but_the_alarm_advice(monkeypatch):
    built: dict[str, Any] = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.update(kwargs))
    monkeypatch.syspath_prepend(str(ROOT / "policy"))
    runpy.run_path(str(ROOT / "policy" / "__main__.py"), run_name="__main__")
    assert built["name"] == "rekognition-faces"
    assert built["enforcement_level"] == pulumi_policy.EnforcementLevel.MANDATORY
    assert [p.name for p in built["policies"]] == list(BY_NAME)
    levels = {p.name: p.enforcement_level for p in built["policies"]}
    assert levels.pop("dead-letter-queues-have-alarms") == pulumi_policy.EnforcementLevel.ADVISORY
    assert set(levels.values()) == {pulumi_policy.EnforcementLevel.MANDATORY}


def test_resource_wildcards_are_allowed_only_for_the_launchers_rekognition_actions():
    assert set(LAUNCHER_REKOGNITION_ACTIONS) == rules.REKOGNITION_ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS
    assert rules.ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS - set(LAUNCHER_REKOGNITION_ACTIONS) == {"kms:ListAliases"}


ALIAS = "arn:aws:kms:eu-west-1:111122223333:alias/videos"
KEY_RULE = "kms-grants-name-key-arns"


def _identity_policy_args(typ: str, *statements: dict[str, Any]) -> ResourceValidationArgs:
    """One policy document as each resource type the pack reads for IAM holds it."""
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    if typ == rules.ROLE:
        props: dict[str, Any] = {"inlinePolicies": [{"name": "inline", "policy": document}]}
    else:
        props = {"policy": document}
    return _resource_args(typ, "hand-written", props)


def _allow(actions: Any, resources: Any, sid: str = "UseKey") -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


@pytest.mark.parametrize("typ", [rules.ROLE, rules.ROLE_POLICY, rules.MANAGED_POLICY])
def test_a_key_grant_on_an_alias_arn_is_refused_with_the_describe_key_fix(typ):
    args = _identity_policy_args(typ, _allow(["kms:GenerateDataKey", "kms:Decrypt"], ALIAS))
    (message,) = violations(BY_NAME[KEY_RULE], args)
    assert ALIAS in message and "['kms:GenerateDataKey', 'kms:Decrypt']" in message and "'UseKey'" in message
    assert "`aws kms describe-key --key-id alias/videos --query KeyMetadata.Arn`" in message


# (Action, Resource, reported): what IAM would match against the key behind the alias, and what not.
KEY_GRANT_CASES = [
    ("kms:Decrypt", ALIAS, True),
    ("KMS:decrypt", ALIAS, True),  # IAM action names are case-insensitive
    (["kms:Encrypt", "kms:ReEncrypt*"], [KEY, ALIAS], True),  # the key is granted, the alias entry gives nothing
    ("kms:GenerateDataKey*", ALIAS, True),  # matches no alias action: a key grant
    ("kms:DescribeKey", "arn:aws:kms:*:111122223333:alias/*", True),
    ("kms:Decrypt", "arn:aws-cn:kms:cn-north-1:111122223333:alias/videos", True),
    (["kms:CreateAlias", "kms:Decrypt"], [ALIAS, KEY], True),  # the alias actions pass, Decrypt does not
    (["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"], [ALIAS, KEY], False),  # as AWS's guide writes it
    ("KMS:deleteALIAS", ALIAS, False),
    ("kms:Create*", ALIAS, False),  # AWS's guide: alias creation may be granted as kms:Create*
    ("kms:*Alias", ALIAS, False),
    (["kms:Decrypt", "kms:GenerateDataKey"], KEY, False),
    (["kms:Decrypt", "kms:GenerateDataKey"], "arn:aws:kms:eu-west-1:111122223333:key/*", False),
    ("s3:GetObject", ALIAS, False),  # not a KMS action: nothing this rule knows about
    ("kms:Decrypt", "arn:aws:s3:::team-videos/alias/x", False),
]


@pytest.mark.parametrize("action, resource, reported", KEY_GRANT_CASES)
def test_only_key_actions_on_alias_arns_are_reported(action, resource, reported):
    found = violations(BY_NAME[KEY_RULE], _identity_policy_args(rules.MANAGED_POLICY, _allow(action, resource)))
    assert len(found) == (1 if reported else 0), found


def test_a_deny_on_an_alias_arn_is_not_a_grant():
    deny = {"Sid": "NoDecrypt", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": ALIAS}
    assert violations(BY_NAME[KEY_RULE], _identity_policy_args(rules.ROLE_POLICY, deny)) == []


def test_each_alias_in_a_statement_gets_its_own_fix():
    other = "arn:aws:kms:eu-west-1:111122223333:alias/results"
    found = violations(BY_NAME[KEY_RULE], _identity_policy_args(rules.ROLE, _allow("kms:Decrypt", [ALIAS, other])))
    assert [("--key-id alias/videos " in m, "--key-id alias/results " in m) for m in found] == [
        (True, False),
        (False, True),
    ]


def test_the_components_key_grants_written_with_an_alias_are_refused(run_program):
    """The launcher policy the component writes for customer-managed keys, as another program (or a
    hand-written stack) would write it with the alias in place of the key: both key grants are refused."""
    declared = run_program({"aws:region": REGION, "bucketKmsKeyArn": KEY, "queueKmsKeyArn": KEY})
    props = dict(declared.one(rules.MANAGED_POLICY, "-launcher"))
    args = _resource_args(rules.MANAGED_POLICY, "faces-launcher", props)
    assert violations(BY_NAME[KEY_RULE], args) == []
    props["policy"] = props["policy"].replace(KEY, ALIAS)
    found = violations(BY_NAME[KEY_RULE], _resource_args(rules.MANAGED_POLICY, "faces-launcher", props))
    assert sorted(m.split("'")[1] for m in found) == ["UseBucketKey", "UseQueueKey"], found


def test_list_aliases_on_an_alias_arn_is_told_to_take_resource_star_which_the_pack_then_passes():
    """kms:ListAliases has no resource in IAM (AWS KMS guide, alias-access: Resource "*"): on an alias ARN it
    grants nothing, and naming a key ARN (the key actions' fix) would grant nothing either."""
    args = _identity_policy_args(rules.ROLE_POLICY, _allow(["kms:ListAliases", "kms:Decrypt"], ALIAS))
    listing, key = sorted(violations(BY_NAME[KEY_RULE], args), key=lambda m: "describe-key" in m)
    assert "['kms:ListAliases']" in listing and 'Resource "*"' in listing and "describe-key" not in listing
    assert "['kms:Decrypt']" in key and "ListAliases" not in key and "--key-id alias/videos " in key
    fixed = _identity_policy_args(
        rules.ROLE_POLICY, _allow("kms:ListAliases", "*", sid="List"), _allow("kms:Decrypt", KEY)
    )
    assert [m for name in (KEY_RULE, "no-wildcard-permissions") for m in violations(BY_NAME[name], fixed)] == []


@pytest.mark.parametrize("action", ["kms:listaliases", "KMS:ListAliases", "rekognition:startFaceDetection"])
def test_resource_star_for_an_action_without_resource_permissions_is_passed_in_any_case(action):
    """IAM reads an action's name case-insensitively, as kms-grants-name-key-arns does: its advice (ListAliases
    on Resource "*") followed in another case was refused by no-wildcard-permissions."""
    assert (
        violations(BY_NAME["no-wildcard-permissions"], _identity_policy_args(rules.ROLE_POLICY, _allow(action, "*")))
        == []
    )
    wider = _identity_policy_args(rules.ROLE_POLICY, _allow([action, "kms:Decrypt"], "*"))
    assert "['" + action + "', 'kms:Decrypt']" in violations(BY_NAME["no-wildcard-permissions"], wider)[0]
